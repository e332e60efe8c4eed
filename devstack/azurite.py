"""Azurite, the local stand-in for Blob and Table Storage: start, stop, and prepare it.

`start_azurite` runs the pinned `node_modules/.bin/azurite` (see package.json) on
127.0.0.1 with explicit ports, waits until they accept connections, and returns a handle
with the endpoints and a connection string using Azurite's well-known dev account.
`ensure_storage` creates the uploads container and the jobs table and sets the blob CORS
rules a browser on another origin needs to PUT an upload.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob import CorsRule
from azure.storage.blob.aio import BlobServiceClient

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"

# Azurite's documented, public development account (not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


class AzuriteError(RuntimeError):
    """Azurite could not be started (missing, crashed, or never listened)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now (bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class AzuriteProcess:
    """A running Azurite. Stop it with `stop()` (SIGTERM by pid, then SIGKILL)."""

    host: str
    blob_port: int
    queue_port: int
    table_port: int
    https: bool
    workdir: Path
    _process: subprocess.Popen[bytes] = field(repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"

    @property
    def blob_endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.blob_port}/{DEV_ACCOUNT}"

    @property
    def queue_endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.queue_port}/{DEV_ACCOUNT}"

    @property
    def table_endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.table_port}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol={self.scheme};AccountName={DEV_ACCOUNT};"
            f"AccountKey={DEV_KEY};BlobEndpoint={self.blob_endpoint};"
            f"QueueEndpoint={self.queue_endpoint};TableEndpoint={self.table_endpoint};"
        )

    def running(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """SIGTERM by pid, wait, SIGKILL if it does not exit in time."""
        if self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self._log is not None:
            self._log.close()
            self._log = None


def azurite_command(
    workdir: Path,
    host: str,
    ports: tuple[int, int, int],
    *,
    in_memory: bool,
    cert: tuple[Path, Path] | None,
    oauth: bool,
) -> list[str]:
    blob_port, queue_port, table_port = ports
    cmd = [
        str(AZURITE_BIN),
        "--blobHost", host, "--blobPort", str(blob_port),
        "--queueHost", host, "--queuePort", str(queue_port),
        "--tableHost", host, "--tablePort", str(table_port),
        "--skipApiVersionCheck", "--loose", "--disableTelemetry",
    ]  # fmt: skip
    if in_memory:
        cmd.append("--inMemoryPersistence")
    else:
        cmd += ["--location", str(workdir)]
    if cert is not None:
        cmd += ["--cert", str(cert[0]), "--key", str(cert[1])]
    if oauth:
        cmd += ["--oauth", "basic"]
    return cmd


def start_azurite(
    workdir: Path,
    host: str = "127.0.0.1",
    blob_port: int = 0,
    queue_port: int = 0,
    table_port: int = 0,
    in_memory: bool = True,
    https: bool = False,
    log_path: Path | None = None,
    *,
    cert: tuple[Path, Path] | None = None,
    oauth: bool = False,
) -> AzuriteProcess:
    """Start Azurite and wait until its three ports accept connections.

    `https=True` needs `cert=(cert_pem, key_pem)`; `oauth=True` (needs https) enables
    `--oauth basic`, which user delegation SAS signing requires.
    """
    if not AZURITE_BIN.exists():
        raise AzuriteError(f"{AZURITE_BIN} is missing: run `npm ci` (or `make setup`)")
    if https and cert is None:
        raise AzuriteError("https=True needs cert=(cert_pem, key_pem)")
    if oauth and not https:
        raise AzuriteError("Azurite's --oauth needs https")
    workdir.mkdir(parents=True, exist_ok=True)
    ports = (
        blob_port or free_port(host),
        queue_port or free_port(host),
        table_port or free_port(host),
    )
    cmd = azurite_command(
        workdir, host, ports, in_memory=in_memory, cert=cert if https else None, oauth=oauth
    )
    log: IO[bytes] | None = open(log_path, "ab") if log_path else None  # noqa: SIM115
    node = shutil.which("node")
    env = dict(os.environ)
    if node:
        env["PATH"] = f"{Path(node).parent}{os.pathsep}{env.get('PATH', '')}"
    process = subprocess.Popen(
        cmd,
        cwd=workdir,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
        # Its own session: Ctrl-C in a terminal reaches only the orchestrator, which stops
        # the host first (in-flight jobs finish) and then the emulators, by pid.
        start_new_session=True,
    )
    azurite = AzuriteProcess(host, *ports, https, workdir, process, log)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not all(_accepts(host, port) for port in ports):
        if process.poll() is not None:
            azurite.stop()
            raise AzuriteError(
                f"azurite exited with code {process.returncode}"
                + (f"; see {log_path}" if log_path else "")
            )
        if time.monotonic() > deadline:
            azurite.stop()
            raise AzuriteError(f"azurite did not listen on {ports} within {READY_TIMEOUT_SECONDS}s")
        time.sleep(0.05)
    return azurite


async def ensure_storage(
    connection_string: str,
    container: str,
    table: str,
    cors_origins: Sequence[str] = ("*",),
) -> None:
    """Create the uploads container and the jobs table; allow browser PUTs from `cors_origins`.

    Idempotent. CORS allows only what a direct browser upload needs: PUT (single blob and
    Put Block / Put Block List) and OPTIONS, with the x-ms-* and content headers.
    """
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        with contextlib.suppress(ResourceExistsError):
            await blobs.create_container(container)
        if cors_origins:
            rule = CorsRule(
                allowed_origins=list(cors_origins),
                allowed_methods=["PUT", "OPTIONS"],
                allowed_headers=["x-ms-*", "content-type", "content-length", "content-md5"],
                exposed_headers=["x-ms-*", "etag", "last-modified"],
                max_age_in_seconds=3600,
            )
            await blobs.set_service_properties(cors=[rule])
    async with TableServiceClient.from_connection_string(connection_string) as tables:
        await tables.create_table_if_not_exists(table)


def ensure_storage_sync(
    connection_string: str, container: str, table: str, cors_origins: Sequence[str] = ("*",)
) -> None:
    """`ensure_storage` for callers without a running event loop."""
    asyncio.run(ensure_storage(connection_string, container, table, cors_origins))
