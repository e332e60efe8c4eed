"""Real-process fixtures for the local stack (`python -m devstack`) and helpers to run
any of our Python processes: free port, temp dir, readiness by polling, stop by pid.

`local_stack` starts the whole stack once per session (Azurite in memory, the Service Bus
emulator, the Functions host) on free ports, with AUTH_MODE=jwt (HS256, `JWT_SECRET`
below) so tests can act as different owners, and the worker's fault injection enabled.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest

from devstack.azurite import DEV_ACCOUNT, DEV_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 20.0

# Test-only HS256 secret for the e2e stack (never used outside tests).
JWT_SECRET = "e2e-only-hs256-secret-0123456789abcdef"
JWT_AUDIENCE = "api://jobstream-e2e"
FAULT_INJECTION_SETTING = "ALLOW_FAULT_INJECTION"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_python(
    args: list[str], env: Mapping[str, str], log_path: Path, cwd: Path = REPO_ROOT
) -> subprocess.Popen[bytes]:
    """`python <args>` with the venv's interpreter, output to `log_path`."""
    log = open(log_path, "ab")  # noqa: SIM115 - closed when the process is stopped
    try:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        log.close()


def stop_process(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM by pid, wait; SIGKILL if it does not stop in time. Returns the exit code."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    return process.returncode


def kill_and_wait(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL `pid` (no chance to save anything) and wait until it is gone."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def wait_for_http(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0
) -> None:
    """Poll `url` until it answers at all (any status); fail with the log if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"process exited with {process.returncode}:\n{log_tail(log_path)}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    stop_process(process)
    pytest.fail(f"{url} did not answer within {timeout}s:\n{log_tail(log_path)}")


@dataclass(frozen=True)
class LocalStack:
    base_url: str
    blob_endpoint: str
    table_endpoint: str
    servicebus_connection_string: str
    servicebus_admin_url: str
    pid: int
    log_path: Path
    azurite_pid: int | None = None
    servicebus_pid: int | None = None
    # The `python -m devstack` process itself (this test process is its parent).
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def storage_connection_string(self) -> str:
        """Azurite's well-known development account at this stack's endpoints."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={self.blob_endpoint};TableEndpoint={self.table_endpoint};"
        )

    def token(self, owner: str, *, ttl_seconds: int = 600, secret: str = JWT_SECRET) -> str:
        """An HS256 bearer token for `owner`, as the e2e stack's AUTH_MODE=jwt accepts."""
        now = int(time.time())
        claims = {
            "sub": owner,
            "aud": JWT_AUDIENCE,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        return jwt.encode(claims, secret, algorithm="HS256")

    def headers(self, owner: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(owner)}"}


def stack_environment(base: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith(("AZURE_", "STORAGE_"))}
    env.update(
        {
            "AUTH_MODE": "jwt",
            "JWT_SECRET": JWT_SECRET,
            "JWT_AUDIENCE": JWT_AUDIENCE,
            # Lets a job's data ask the worker to fail transiently (see docs/local-stack.md).
            FAULT_INJECTION_SETTING: "true",
            # The sweeper every 2 s, sending a recorded-but-unsent job 3 s after it was
            # recorded (a test of the lost send can wait for it).
            "SWEEP_SCHEDULE": "*/2 * * * * *",
            "SWEEP_RESEND_SECONDS": "3",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@contextlib.contextmanager
def launch_stack(
    workdir: Path,
    extra_env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    *,
    in_memory: bool = True,
) -> Iterator[LocalStack]:
    """`python -m devstack` on free ports, in memory (else persistent, as `make run`: Azurite's
    data and the emulator's journal under `workdir`), under `workdir`; stopped by its pid."""
    state_file = workdir / "state.json"
    state_file.unlink(missing_ok=True)  # a restart on the same workdir: wait for the new one
    log_path = workdir / "stack.log"
    env = stack_environment(os.environ)
    env.update(extra_env or {})
    process = start_python(
        [
            "-m", "devstack",
            "--port", str(free_port()),
            *(["--in-memory"] if in_memory else []),
            "--any-free-ports",
            "--workdir", str(workdir),
            "--state-file", str(state_file),
            *extra_args,
        ],
        env,
        log_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STACK_START_TIMEOUT_SECONDS
        while not state_file.exists():
            if process.poll() is not None:
                pytest.fail(f"the stack exited with {process.returncode}:\n{log_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"the stack was not ready in time:\n{log_tail(log_path)}")
            time.sleep(0.2)
        state = json.loads(state_file.read_text(encoding="utf-8"))
        yield LocalStack(
            base_url=state["baseUrl"],
            blob_endpoint=state["blobEndpoint"],
            table_endpoint=state["tableEndpoint"],
            servicebus_connection_string=state["serviceBusConnectionString"],
            servicebus_admin_url=state["serviceBusAdminUrl"],
            pid=process.pid,
            log_path=log_path,
            azurite_pid=state.get("azuritePid"),
            servicebus_pid=state.get("serviceBusPid"),
            process=process,
        )
    finally:
        stop_process(process)


# `make run`'s defaults: no authentication (every caller is the owner `anonymous`), and no
# fault injection (neither the worker's nor the Service Bus emulator's hook).
MAKE_RUN_ENV = {"AUTH_MODE": "none", "JWT_SECRET": "", FAULT_INJECTION_SETTING: "false"}


def launch_default_stack(
    workdir: Path, extra_env: Mapping[str, str] | None = None
) -> contextlib.AbstractContextManager[LocalStack]:
    """`launch_stack` with `make run`'s defaults (AUTH_MODE=none: no token anywhere)."""
    return launch_stack(workdir, {**MAKE_RUN_ENV, **(extra_env or {})})


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with launch_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack
