"""The CLIs refuse to start on bad input, naming it:
- `python -m devstack` on a taken port, before starting anything;
- `python -m devstack.host` and `python -m devstack` on a bad app setting, before serving."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from function_app.settings import Settings
from tests.support.stack import REPO_ROOT, free_port, stack_environment

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


def app_environment(**settings: str) -> dict[str, str]:
    """This environment without any app setting of its own, plus `settings` (the rest come
    from local.settings(.sample).json, as with `make run`)."""
    fields = {name.lower() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.lower() not in fields}
    env.update(settings)
    return env


def refuses_to_listen(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
    except httpx.TransportError:
        return True
    return False


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"MAX_UPLOAD_BYTES": "20MB"},
            "invalid app settings: MAX_UPLOAD_BYTES: Input should be a valid integer",
        ),
        ({"AUTH_MODE": "jwt", "JWT_SECRET": "s" * 32}, "invalid app settings: JWT_AUDIENCE: "),
    ],
    ids=["non-integer", "jwt-without-audience"],
)
def test_the_host_exits_on_a_bad_setting_with_one_line_naming_it(
    settings: dict[str, str], message: str
) -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "devstack.host", "--root", str(REPO_ROOT), "--port", str(port)],
        cwd=REPO_ROOT,
        env=app_environment(**settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"devstack.host: {message}")
    assert "Traceback" not in done.stderr
    assert "listening" not in done.stdout
    assert refuses_to_listen(port)


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains `text` (e.g. a workdir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_the_stack_exits_on_a_bad_setting_and_stops_what_it_started(tmp_path: Path) -> None:
    env = {**stack_environment(os.environ), "JWT_AUDIENCE": ""}  # AUTH_MODE=jwt, no audience
    port = free_port()
    done = subprocess.run(
        [
            sys.executable, "-m", "devstack",
            "--port", str(port),
            "--any-free-ports",
            "--in-memory",
            "--workdir", str(tmp_path),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip

    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("devstack: invalid app settings: JWT_AUDIENCE: "), last
    assert "Traceback" not in done.stderr
    assert "local stack is up" not in done.stdout
    assert refuses_to_listen(port)
    assert processes_mentioning(str(tmp_path)) == []
