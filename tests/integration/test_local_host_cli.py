"""The CLIs refuse to start on bad input, naming it, and stop cleanly:
- `python -m devstack` on a taken port, before starting anything;
- `python -m devstack.host` and `python -m devstack` on a bad app setting, before serving;
- `python -m devstack` on SIGINT (Ctrl-C): exit 0, every child gone."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from function_app.settings import Settings
from tests.support.stack import REPO_ROOT, free_port, launch_stack, log_tail, stack_environment

pytestmark = pytest.mark.integration


def devstack_command(port: int, workdir: Path) -> list[str]:
    """`python -m devstack` with the host on `port`, everything else on free ports, in memory."""
    return [
        sys.executable, "-m", "devstack",
        "--port", str(port),
        "--any-free-ports",
        "--in-memory",
        "--workdir", str(workdir),
    ]  # fmt: skip


def test_a_taken_host_port_stops_the_stack_with_a_message_naming_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        done = subprocess.run(
            devstack_command(port, tmp_path),
            cwd=REPO_ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

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
        devstack_command(port, tmp_path),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("devstack: invalid app settings: JWT_AUDIENCE: "), last
    assert "Traceback" not in done.stderr
    assert "local stack is up" not in done.stdout
    assert refuses_to_listen(port)
    assert processes_mentioning(str(tmp_path)) == []


def gone(pid: int) -> bool:
    """True when no process is left in `pid`'s process group (the emulators run in their
    own sessions, so this also covers anything they started)."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_stack_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    with launch_stack(tmp_path) as stack:
        assert stack.process is not None
        assert stack.azurite_pid is not None
        assert stack.servicebus_pid is not None
        assert httpx.get(f"{stack.api}/health", timeout=10).status_code == 200
        assert not gone(stack.azurite_pid)
        assert not gone(stack.servicebus_pid)
        assert stack.pid in processes_mentioning(str(tmp_path))

        os.kill(stack.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process
        code = stack.process.wait(timeout=20)  # the whole stack stops within 20 s

        assert code == 0, log_tail(stack.log_path)
        assert gone(stack.azurite_pid), "Azurite still running"
        assert gone(stack.servicebus_pid), "the Service Bus emulator still running"
        assert refuses_to_listen(int(stack.base_url.rsplit(":", 1)[1]))  # the host
        assert processes_mentioning(str(tmp_path)) == []
        assert "local stack stopped" in stack.log_path.read_text(encoding="utf-8")
