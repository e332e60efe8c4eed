import json
from datetime import timedelta
from pathlib import Path

import pytest

from devstack.host.host_json import HostJsonError, parse_timespan, read_host_json

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_project_host_json_is_read() -> None:
    host = read_host_json(REPO_ROOT)

    assert host.route_prefix == "api"
    assert host.service_bus.max_concurrent_calls == 8
    assert host.service_bus.auto_complete_messages is True
    assert host.service_bus.max_auto_lock_renewal == timedelta(minutes=5)
    assert host.service_bus.prefetch_count == 0


def test_defaults_apply_when_extensions_are_absent(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}), encoding="utf-8")

    host = read_host_json(tmp_path)

    assert host.route_prefix == "api"
    assert host.service_bus.max_concurrent_calls == 16


def test_an_empty_route_prefix_is_kept(tmp_path: Path) -> None:
    document = {"extensions": {"http": {"routePrefix": ""}}}
    (tmp_path / "host.json").write_text(json.dumps(document), encoding="utf-8")

    assert read_host_json(tmp_path).route_prefix == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("1.02:00:30", timedelta(days=1, hours=2, seconds=30)),
        ("00:00:01.5", timedelta(seconds=1.5)),
    ],
)
def test_timespans(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


def test_a_bad_value_is_reported(tmp_path: Path) -> None:
    document = {"extensions": {"serviceBus": {"maxAutoLockRenewalDuration": "5 minutes"}}}
    (tmp_path / "host.json").write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(HostJsonError, match="timespan"):
        read_host_json(tmp_path)


def test_a_missing_host_json_is_reported(tmp_path: Path) -> None:
    with pytest.raises(HostJsonError, match="missing"):
        read_host_json(tmp_path)
