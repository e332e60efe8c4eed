"""Where the local host runs the functions: JOBSTREAM_LOCAL_WORKER."""

import pytest

from devstack.host.loader import AppLoadError
from devstack.host.server import DEFAULT_WORKER_MODE, WORKER_MODE_SETTING, worker_mode


@pytest.mark.parametrize(
    ("value", "mode"),
    [("worker", "worker"), (" Worker ", "worker"), ("inprocess", "inprocess"), ("", None)],
)
def test_the_setting_names_the_mode(value: str, mode: str | None) -> None:
    assert worker_mode({WORKER_MODE_SETTING: value}) == (mode or DEFAULT_WORKER_MODE)


def test_an_unknown_mode_stops_the_host_naming_the_choices() -> None:
    with pytest.raises(AppLoadError, match="inprocess, worker"):
        worker_mode({WORKER_MODE_SETTING: "grpc"})
