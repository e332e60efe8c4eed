"""Session fixture: one real Azurite (in memory, free ports, temp dir), stopped by its pid.

A missing Azurite is a failure with a clear message, never a skip: `make setup` installs it.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.azurite import AzuriteProcess, start_azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteProcess]:
    workdir: Path = tmp_path_factory.mktemp("azurite")
    process = start_azurite(workdir, log_path=workdir / "azurite.log")
    try:
        yield process
    finally:
        process.stop()
