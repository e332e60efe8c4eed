"""`python -m devstack` refuses to start on a taken port, naming it, before starting anything."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import REPO_ROOT

pytestmark = pytest.mark.integration


def test_a_taken_host_port_stops_the_stack_with_a_message_naming_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        done = subprocess.run(
            [
                sys.executable, "-m", "devstack",
                "--port", str(port),
                "--any-free-ports",
                "--in-memory",
                "--workdir", str(tmp_path),
            ],
            cwd=REPO_ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip

    assert done.returncode == 2
    assert f"{port} (Functions host)" in done.stderr
    assert "Traceback" not in done.stderr
    assert "local stack is up" not in done.stdout
