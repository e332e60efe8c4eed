"""Start the emulator as a child process (for tests and the local stack) and stop it by pid."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .tls import DEFAULT_TLS_DIR, TlsFiles

READY = re.compile(
    r"servicebus emulator listening on amqp://(?P<host>[^:\s]+):(?P<port>\d+) "
    r"\(admin http://[^:\s]+:(?P<admin>\d+)\)"
)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAS_KEY_NAME = "RootManageSharedAccessKey"
SAS_KEY_VALUE = "SAS_KEY_VALUE"


class EmulatorStartError(RuntimeError):
    """The emulator exited or did not print its ready line in time."""


@dataclass(frozen=True)
class EmulatorProcess:
    host: str
    port: int
    admin_port: int
    pid: int
    _process: subprocess.Popen[str] = field(repr=False, compare=False)
    tls_dir: Path | None = DEFAULT_TLS_DIR

    @property
    def client_env(self) -> dict[str, str]:
        """Environment variables under which `ServiceBusAdministrationClient` (sync: requests;
        async: aiohttp) trusts the emulator's certificate; empty without TLS."""
        return TlsFiles(self.tls_dir).client_env() if self.tls_dir is not None else {}

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.admin_port}"

    @property
    def connection_string(self) -> str:
        return (
            f"Endpoint=sb://{self.host}:{self.port};SharedAccessKeyName={SAS_KEY_NAME};"
            f"SharedAccessKey={SAS_KEY_VALUE};UseDevelopmentEmulator=true"
        )

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM by pid, wait, then SIGKILL; returns the exit code."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self._process.wait(timeout)
        return int(self._process.returncode)


def _pump(stream: IO[str], sink: IO[str] | None) -> None:
    for line in stream:
        if sink is not None:
            sink.write(line)
            sink.flush()


def start_emulator(
    config_path: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    admin_port: int = 0,
    log_path: Path | None = None,
    timeout: float = 20.0,
    allow_faults: bool = False,
    data_dir: Path | None = None,
    fsync: bool = False,
    tls_dir: Path | None = DEFAULT_TLS_DIR,
) -> EmulatorProcess:
    """Run ``python -m devstack.servicebus`` and wait for its ready line.

    ``allow_faults`` turns on the admin endpoint's ``POST /faults/drop-connections``;
    ``data_dir`` keeps the queues there across restarts (None: in memory); ``tls_dir`` holds
    the certificate of the management API on the AMQP port (None: ``--no-tls``)."""
    log = log_path.open("a", encoding="utf-8") if log_path is not None else None
    command = [
        sys.executable, "-m", "devstack.servicebus",
        "--host", host, "--port", str(port), "--admin-port", str(admin_port),
        "--config", str(config_path),
    ]  # fmt: skip
    if allow_faults:
        command.append("--allow-faults")
    command += ["--tls-dir", str(tls_dir)] if tls_dir is not None else ["--no-tls"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
        if fsync:
            command.append("--fsync")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=log if log is not None else subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        # Its own session: Ctrl-C in a terminal reaches only whoever launched it, which
        # stops it by pid when it is done with it (the local stack: after the host).
        start_new_session=True,
    )
    assert process.stdout is not None
    found: list[re.Match[str]] = []
    lines: list[str] = []

    def read_ready() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = READY.search(line)
            if match:
                found.append(match)
                break
        _pump(process.stdout, log)

    reader = threading.Thread(target=read_ready, name="servicebus-emulator-stdout", daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not found and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if not found:
        if process.poll() is None:
            process.kill()
        process.wait(5)
        where = f"; see {log_path}" if log_path is not None else ""
        raise EmulatorStartError(
            f"servicebus emulator did not start (exit {process.returncode}){where}: "
            + "".join(lines)[-2000:]
        )
    match = found[0]
    return EmulatorProcess(
        host=match["host"],
        port=int(match["port"]),
        admin_port=int(match["admin"]),
        pid=process.pid,
        _process=process,
        tls_dir=tls_dir,
    )
