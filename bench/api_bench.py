"""API benchmark: the HTTP API under many JWT users, beside the floors of what it calls.

`python -m bench api` (or `python -m bench.api_bench --quick`, `--callers 32`,
`--scenarios presign,status`, `--profile status`). One run starts its own stack on free
ports in a temp dir and stops every process by pid at the end:

- Azurite (in memory) and the Service Bus emulator (the repo's topology plus one
  `bench-floor` queue), started with devstack's own `start_azurite` / `start_emulator`;
- a counting proxy (its own process): HTTP in front of Azurite's blob and table ports,
  counting each request by kind (a `$batch` by the operations inside it), and TCP in front
  of the emulator's AMQP port, counting connections;
- two Functions hosts, `python -m devstack.host` processes (the host is the process itself,
  checked by the pid holding its listening socket), with AUTH_MODE=jwt and a bench-only
  HS256 secret and audience. Host D talks to Azurite and the emulator directly: every timed
  figure comes from it. Host P talks through the proxy: short counting passes at the same
  concurrency give the operations per request without the proxy's hop in the timings.

The hosts load the app's HTTP blueprints but not its Service Bus triggers (`main.BLUEPRINTS`
minus `sb_worker`, from a one-file app module written to the temp dir): otherwise the worker
would take every job the bench enqueues and run its steps (a dozen Table writes each) in the
same process while we measure, and the queues' runtime counts would no longer count the
messages the API sent. `python -m devstack` always loads main.py, triggers included.

Scenarios, each at every `--callers` count (default 32 and 64), one keep-alive connection
and one JWT user per caller, closed loop:

1. presign: POST /api/v1/upload/presigned-url (fixed duration);
2. enqueue: each caller PUTs its own blobs first with presigned URLs (untimed), then
   POST /api/v1/jobs for each (fixed count); every second enqueue of a caller (the
   odd-numbered ones) carries a fresh Idempotency-Key (the claim/confirm path, no replays);
3. status: GET /api/v1/jobs/{id} of the caller's own jobs (fixed duration);
4. stream: GET /api/v1/jobs/{id}/stream?token=<streamToken> on a new connection until the
   `connected` event, then close (time to first event; fixed duration).

Each prints requests/s (2xx), p50/p99 (2xx), failures by status, the host's CPU per request
and the CPU of every process of the stack during the window. Floors: the same bare SDK
operations from this process, directly against Azurite and the emulator, at the same
concurrency, and the CPU-only steps (SAS signing, JWT). Goals are printed as met or missed;
the exit code is 0 unless the bench itself breaks. A host whose event loop stops answering is
reported, its stack dumped (py-spy), and restarted; the run goes on. The run's logs are kept in
bench/results/api-logs/. What the figures mean, and today's: docs/performance.md.

(Over 300 lines: one benchmark script run as a unit: stack, scenarios, floors, profiles,
report; to be split when it next grows.)
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import jwt
import psutil

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
LOGS_DIR = RESULTS_DIR / "api-logs"  # the last run's host, emulator and Azurite logs
SCENARIOS = ("presign", "enqueue", "status", "stream")

# Bench-only identity (never used outside this benchmark).
JWT_SECRET = "api-bench-only-hs256-secret-0123456789abcdef"  # noqa: S105 (bench only)
JWT_AUDIENCE = "api://jobstream-api-bench"
TOKEN_TTL_SECONDS = 3600

QUEUE = "resume-analysis"
JOB_NAME = "analyze-resume"
FLOOR_QUEUE = "bench-floor"
CONTAINER = "uploads"
TABLE = "jobs"
FLOOR_TABLE = "benchfloor"  # the floors' writes: the jobs table grows only as the app grows it
APP_MODULE = "bench_api_app.py"
BLOB = (
    b"Jane Doe\njane@example.com\n\nExperience\nPython developer, 2019-2025\n\n"
    b"Education\nBSc Computer Science\n\nSkills\nPython, Azure, SQL\n"
)
REQUEST_TIMEOUT_SECONDS = 45.0  # the app's own Service Bus send gives up after 30 s
# A host whose event loop stops (today's shared sender can spin in the SDK without yielding)
# is found by pinging it every PING_EVERY s: PINGS_MISSED pings in a row without an answer
# within PING_TIMEOUT s and the scenario is cut short, the host restarted.
PING_EVERY_SECONDS = 2.0
PING_TIMEOUT_SECONDS = 5.0
PINGS_MISSED = 2
SEED_JOBS_PER_USER = 2
# Enqueues counted one at a time (the success path while concurrency breaks the send).
SEQUENTIAL_ENQUEUES = 8

GOALS: dict[str, float] = {"presign": 2000.0, "status": 1000.0, "enqueue": 300.0}

APP_MODULE_SOURCE = '''"""jobstream without its Service Bus triggers (from bench/api_bench.py)."""

import azure.functions as func

from function_app.entrypoints import sb_worker
from main import BLUEPRINTS

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in BLUEPRINTS:
    if blueprint is not sb_worker.bp:
        app.register_functions(blueprint)
'''


# --- the counting proxy (its own process: `--proxy-serve`) ------------------------------------


_INNER_REQUEST = re.compile(rb"^(POST|PUT|MERGE|PATCH|DELETE|GET) https?://", re.MULTILINE)
_VERB = {
    "POST": "insert",
    "PUT": "replace",
    "MERGE": "merge",
    "PATCH": "merge",
    "DELETE": "delete",
    "GET": "get",
}


def table_label(method: str, target: str, body: bytes) -> str:
    """What one Table Storage request is: get entity, query, insert, batch(insert+insert)..."""
    path = target.split("?", 1)[0]
    last = path.rsplit("/", 1)[-1]
    if last == "$batch":
        inner = [_VERB[m.decode()] for m in _INNER_REQUEST.findall(body)]
        return f"table batch({'+'.join(inner)})"
    if last.startswith("Tables"):
        return f"table {method} Tables"
    if "PartitionKey=" in last:
        return {"GET": "table get entity"}.get(method, f"table {_VERB.get(method, method)} entity")
    if method == "GET":
        return "table query"
    if method == "POST":
        return "table insert entity"
    return f"table {method} {last}"


def blob_label(method: str, target: str) -> str:
    """What one Blob Storage request is: get properties, download, put blob, ..."""
    path, _, query = target.partition("?")
    depth = len([p for p in path.split("/") if p])  # account / container / blob...
    if "comp=" in query and depth >= 3:
        return f"blob {method} comp={query.split('comp=', 1)[1].split('&', 1)[0]}"
    if depth >= 3:
        return {
            "HEAD": "blob get properties",
            "GET": "blob download",
            "PUT": "blob put",
            "DELETE": "blob delete",
        }.get(method, f"blob {method}")
    return f"blob {method} {'container' if depth == 2 else 'service'}"


class Counts:
    def __init__(self) -> None:
        self.by_label: Counter[str] = Counter()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _http_proxy(
    service: str,
    upstream: int,
    counts: Counts,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """Forward HTTP/1.1 requests one by one, counting each; responses are copied raw."""
    _nodelay(writer)
    try:
        up_reader, up_writer = await asyncio.open_connection(HOST, upstream)
    except OSError:
        writer.close()
        return
    _nodelay(up_writer)
    back = asyncio.create_task(_pump(up_reader, writer))
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                break
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            length = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(length) if length else b""
            if "chunked" in headers.get("transfer-encoding", "").lower():
                raise RuntimeError("chunked request bodies are not supported by the proxy")
            label = (
                table_label(method, target, body)
                if service == "table"
                else blob_label(method, target)
            )
            counts.by_label[label] += 1
            up_writer.write(head + body)
            await up_writer.drain()
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        pass
    finally:
        up_writer.close()
        with contextlib.suppress(Exception):
            await back
        writer.close()


async def _tcp_proxy(
    upstream: int, counts: Counts, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Forward one AMQP connection byte for byte; count connections."""
    _nodelay(writer)
    counts.by_label["servicebus AMQP connections opened"] += 1
    try:
        up_reader, up_writer = await asyncio.open_connection(HOST, upstream)
    except OSError:
        writer.close()
        return
    _nodelay(up_writer)
    await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))


async def _control(
    counts: Counts, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    with contextlib.suppress(Exception):
        await reader.readuntil(b"\r\n\r\n")
    body = json.dumps(dict(counts.by_label)).encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(Exception):
        await writer.drain()
    writer.close()


async def serve_proxy(blob: int, table: int, amqp: int) -> None:
    counts = Counts()
    servers = [
        await asyncio.start_server(
            lambda r, w: _http_proxy("blob", blob, counts, r, w), HOST, 0, backlog=1024
        ),
        await asyncio.start_server(
            lambda r, w: _http_proxy("table", table, counts, r, w), HOST, 0, backlog=1024
        ),
        await asyncio.start_server(lambda r, w: _tcp_proxy(amqp, counts, r, w), HOST, 0),
        await asyncio.start_server(lambda r, w: _control(counts, r, w), HOST, 0),
    ]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(json.dumps(dict(zip(("blob", "table", "amqp", "control"), ports, strict=True))))
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


# --- processes ----------------------------------------------------------------------------------


def stop_popen(process: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    """Signal by pid, wait, SIGKILL if it does not stop in time."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Proxy:
    process: subprocess.Popen[str]
    blob: int
    table: int
    amqp: int
    control: int

    def counts(self) -> Counter[str]:
        with socket.create_connection((HOST, self.control), timeout=10) as sock:
            sock.sendall(b"GET /counts HTTP/1.1\r\nHost: proxy\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return Counter(json.loads(data.split(b"\r\n\r\n", 1)[1]))


def start_proxy(blob: int, table: int, amqp: int) -> Proxy:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.api_bench", "--proxy-serve", f"{blob},{table},{amqp}"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        stop_popen(process)
        raise RuntimeError("the counting proxy did not start")
    ports = json.loads(line)
    return Proxy(process, ports["blob"], ports["table"], ports["amqp"], ports["control"])


@dataclass
class Host:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    app_root: Path
    env: Mapping[str, str]

    @property
    def pid(self) -> int:
        return self.process.pid


def sample_settings() -> dict[str, str]:
    """local.settings.sample.json's Values: the settings `make run` starts from."""
    document = json.loads((REPO_ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in document.get("Values", {}).items()}


def host_environment(storage: str, servicebus: str, admin_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "STORAGE_"))}
    env.update(sample_settings())
    env.update(
        {
            "PYTHON_SCRIPT_FILE_NAME": APP_MODULE,
            "AUTH_MODE": "jwt",
            "JWT_SECRET": JWT_SECRET,
            "JWT_AUDIENCE": JWT_AUDIENCE,
            "STORAGE_CONNECTION_STRING": storage,
            "AzureWebJobsStorage": storage,
            "UPLOADS_CONTAINER": CONTAINER,
            "JOBS_TABLE": TABLE,
            "ServiceBusConnection": servicebus,
            "SERVICEBUS_EMULATOR_ADMIN_URL": admin_url,
            "ALLOW_FAULT_INJECTION": "false",
            # The bench measures the app, not the per-caller limits (docs/limits.md): off.
            "LIMIT_STREAMS_PER_CALLER": "0",
            "LIMIT_ENQUEUES_PER_MINUTE": "0",
            "LIMIT_PRESIGNS_PER_MINUTE": "0",
            "LIMIT_RUNNING_JOBS_PER_CALLER": "0",
            "PYTHONUNBUFFERED": "1",
            # The repo root, for `function_app` and `main` (the app root is the temp dir).
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    return env


def write_app_root(workdir: Path) -> Path:
    """An app root holding host.json and the trigger-free app module."""
    root = workdir / "app"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "host.json", root / "host.json")
    (root / APP_MODULE).write_text(APP_MODULE_SOURCE, encoding="utf-8")
    return root


def listening_pid(port: int) -> int | None:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            pid: int | None = conn.pid
            return pid
    return None


def http_parser() -> str:
    """What uvicorn's `http="auto"` (the local host's choice) parses HTTP with in this venv."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"httptools {version('httptools')} (C)"
    except PackageNotFoundError:
        return f"h11 {version('h11')} (pure Python: httptools is not installed)"


def start_host(name: str, app_root: Path, env: Mapping[str, str], workdir: Path) -> Host:
    from devstack.azurite import free_port

    port = free_port()
    log_path = workdir / f"host-{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.host", "--root", str(app_root), "--port", str(port)],
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    host = Host(name, process, port, log_path, app_root, env)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"host {name} exited with {process.returncode}:\n{log_tail(log_path)}"
            )
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline:
                stop_popen(process)
                raise RuntimeError(
                    f"host {name} did not listen in time:\n{log_tail(log_path)}"
                ) from None
            time.sleep(0.1)
    holder = listening_pid(port)
    if holder != process.pid:
        stop_popen(process)
        raise RuntimeError(f"host {name}: port {port} is held by pid {holder}, not {process.pid}")
    return host


# --- a small HTTP/1.1 client (keep-alive, one connection per caller) ---------------------------


class ConnectionLost(ConnectionError):
    """The server closed the connection before answering."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size = int((await reader.readline()).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return bytes(body)
            body += await reader.readexactly(size + 2)
            del body[-2:]
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise ConnectionLost("connection closed before the response") from exc
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    return status, headers


# uvicorn closes a keep-alive connection idle for 5 s (timeout_keep_alive); like any client,
# open a new one rather than send on a connection the server may have closed.
IDLE_REOPEN_SECONDS = 4.0


class HttpConnection:
    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        if self._writer is not None and time.monotonic() - self._last_used > IDLE_REOPEN_SECONDS:
            self.close()
        lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                if self._writer is None or self._reader is None:
                    self._reader, self._writer = await asyncio.open_connection(HOST, self.port)
                reader, writer = self._reader, self._writer
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
                await writer.drain()
                status, response_headers = await _read_head(reader)
                data = (
                    b""
                    if method == "HEAD" or status in (204, 304)
                    else await _read_body(reader, response_headers)
                )
        except BaseException:
            self.close()
            raise
        self._last_used = time.monotonic()
        if response_headers.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, data)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def open_stream_until_connected(port: int, target: str) -> int:
    """Open an SSE stream on a new connection, read until the `connected` event, close.

    Returns the HTTP status (200 only once `connected` arrived)."""
    async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
        return await _stream_until_connected(port, target)


async def _stream_until_connected(port: int, target: str) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        head = f"GET {target} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: text/event-stream\r\n"
        writer.write((head + "\r\n").encode("latin-1"))
        await writer.drain()
        status, headers = await _read_head(reader)
        if status != 200:
            await _read_body(reader, headers)
            return status
        seen = b""
        while b"event: connected" not in seen:
            line = await reader.readline()
            if not line:
                raise ConnectionLost("the stream ended before `connected`")
            seen += line
        return 200
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


# --- users, uploads, seed jobs ------------------------------------------------------------------


def user_token(owner: str) -> str:
    now = int(time.time())
    claims = {"sub": owner, "aud": JWT_AUDIENCE, "iat": now, "exp": now + TOKEN_TTL_SECONDS}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@dataclass
class User:
    owner: str
    token: str
    jobs: list[tuple[str, str]] = field(default_factory=list)  # (job id, stream token)
    blobs: list[str] = field(default_factory=list)  # uploaded, not yet enqueued

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


def presign_body(index: int) -> bytes:
    return json.dumps(
        {"fileName": f"cv-{index}.txt", "contentType": "text/plain", "size": len(BLOB)}
    ).encode()


def enqueue_body(blob_name: str) -> bytes:
    return json.dumps(
        {
            "queueName": QUEUE,
            "jobName": JOB_NAME,
            "data": {"blobName": blob_name, "fileName": "cv.txt"},
        }
    ).encode()


async def upload_blobs(host: Host, users: Sequence[User], per_user: int) -> None:
    """Untimed: presign on `host`, PUT the bytes with the URL it returned (to its Azurite)."""

    async def one_user(user: User) -> None:
        api = HttpConnection(host.port)
        storage: dict[int, HttpConnection] = {}
        try:
            for i in range(per_user):
                reply = await api.request(
                    "POST", "/api/v1/upload/presigned-url", user.auth, presign_body(i)
                )
                if reply.status != 201:
                    raise RuntimeError(
                        f"presign for an upload answered {reply.status}: {reply.body[:300]!r}"
                    )
                data = reply.json()["data"]
                url = urlsplit(data["uploadUrl"])
                assert url.port is not None
                conn = storage.setdefault(url.port, HttpConnection(url.port))
                put = await conn.request(
                    "PUT", f"{url.path}?{url.query}", dict(data["headers"]), BLOB
                )
                if put.status != 201:
                    raise RuntimeError(f"upload PUT answered {put.status}: {put.body[:300]!r}")
                user.blobs.append(str(data["blobName"]))
        finally:
            api.close()
            for conn in storage.values():
                conn.close()

    await asyncio.gather(*(one_user(u) for u in users))


async def enqueue_once(conn: HttpConnection, user: User, key: str | None) -> int:
    blob = user.blobs.pop(0)
    headers = user.auth if key is None else {**user.auth, "Idempotency-Key": key}
    reply = await conn.request("POST", "/api/v1/jobs", headers, enqueue_body(blob))
    if reply.status == 202:
        data = reply.json()["data"]
        user.jobs.append((str(data["jobId"]), str(data["streamToken"])))
    return reply.status


async def seed_jobs(host: Host, users: Sequence[User]) -> int:
    """Untimed: every user gets SEED_JOBS_PER_USER jobs, one enqueue at a time (so today's
    shared-sender failure under concurrency does not stop the bench); 503s are retried."""
    await upload_blobs(host, users, SEED_JOBS_PER_USER)
    conn = HttpConnection(host.port)
    retries = 0
    try:
        for user in users:
            while len(user.jobs) < SEED_JOBS_PER_USER:
                blob = user.blobs[0]
                status = await enqueue_once(conn, user, None)
                if status == 202:
                    continue
                retries += 1
                if status != 503 or retries > 10 * len(users):
                    raise RuntimeError(f"seeding jobs: enqueue answered {status}")
                user.blobs.insert(0, blob)  # a 503 leaves the upload in place: retry it
                await asyncio.sleep(0.05)
    finally:
        conn.close()
    return retries


# --- measurement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    processes: dict[str, float]
    busy: float  # CPU seconds the whole machine was busy (all processes)


class CpuMonitor:
    """CPU seconds (user + system, all threads) of each process of the stack, and the box's."""

    def __init__(self, processes: Mapping[str, int]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in processes.items()}

    def replace(self, name: str, pid: int) -> None:
        self._processes[name] = psutil.Process(pid)

    def snapshot(self) -> CpuSnapshot:
        found: dict[str, float] = {}
        for name, process in self._processes.items():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                found[name] = float(times.user + times.system)
        total = psutil.cpu_times()
        busy = sum(total) - total.idle - getattr(total, "iowait", 0.0)
        return CpuSnapshot(time.perf_counter(), found, float(busy))


@dataclass
class Measured:
    scenario: str
    callers: int
    ok_latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds in the window
    others_cpu: float = 0.0  # CPU seconds of processes that are not the stack's
    note: str = ""
    warmup_ok: int = 0  # successful untimed requests before the window (counted mode)
    in_flight: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def ok(self) -> int:
        return len(self.ok_latencies)

    @property
    def total(self) -> int:
        return self.ok + sum(self.failures.values())

    @property
    def ok_per_second(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        return 1000 * percentile(self.ok_latencies, q)

    def host_cpu_ms_per_request(self) -> float:
        cpu = self.cpu.get("host")
        return float("nan") if cpu is None or not self.total else 1000 * cpu / self.total

    def cpu_percent(self, name: str) -> float:
        return 100 * self.cpu.get(name, 0.0) / self.elapsed if self.elapsed > 0 else 0.0

    def close_window(self, before: CpuSnapshot, after: CpuSnapshot) -> None:
        self.elapsed = after.at - before.at
        self.cpu = {
            name: after.processes[name] - before.processes[name]
            for name in after.processes
            if name in before.processes
        }
        self.others_cpu = max(0.0, (after.busy - before.busy) - sum(self.cpu.values()))


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return f"conn:{type(exc).__name__}"


Action = Callable[[HttpConnection, User, int], Awaitable[int]]
TRANSPORT_ERRORS = (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError, ValueError)


async def attempt(
    conn: HttpConnection, user: User, index: int, action: Action, tracker: "Measured | None" = None
) -> str | None:
    """One request: None when it succeeded (2xx), else what went wrong (status or error)."""
    if tracker is not None:
        tracker.in_flight += 1
    try:
        status = await action(conn, user, index)
    except TRANSPORT_ERRORS as exc:
        conn.close()
        return outcome_of(exc)
    finally:
        if tracker is not None:
            tracker.in_flight -= 1
    return None if 200 <= status < 300 else str(status)


async def run_for_duration(
    measured: Measured,
    host: Host,
    users: Sequence[User],
    action: Action,
    monitor: CpuMonitor,
    warmup: float,
    seconds: float,
) -> None:
    """Every caller loops on `action` for warmup + seconds; completions inside the window count."""
    began = time.perf_counter()
    start, end = began + warmup, began + warmup + seconds

    async def caller(user: User) -> None:
        conn = HttpConnection(host.port)
        index = 0
        try:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                outcome = await attempt(conn, user, index, action, measured)
                t1 = time.perf_counter()
                index += 1
                if start <= t1 <= end:
                    if outcome is None:
                        measured.ok_latencies.append(t1 - t0)
                    else:
                        measured.failures[outcome] += 1
        finally:
            conn.close()

    async def window() -> None:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        measured.started = time.perf_counter()
        before = monitor.snapshot()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        after = monitor.snapshot()
        measured.close_window(before, after)

    await asyncio.gather(window(), *(caller(u) for u in users))


async def run_counted(
    measured: Measured,
    host: Host,
    users: Sequence[User],
    action: Action,
    monitor: CpuMonitor,
    warmup_per_user: int,
    per_user: int,
) -> None:
    """Every caller makes `warmup_per_user` untimed requests, then (all together) `per_user`
    timed ones; the window runs from the common start to the last completion."""
    conns = {u.owner: HttpConnection(host.port) for u in users}

    async def requests(user: User, indices: range, timed: bool) -> None:
        conn = conns[user.owner]
        for index in indices:
            t0 = time.perf_counter()
            outcome = await attempt(conn, user, index, action, measured if timed else None)
            if not timed:
                measured.warmup_ok += outcome is None
                continue
            if outcome is None:
                measured.ok_latencies.append(time.perf_counter() - t0)
            else:
                measured.failures[outcome] += 1

    try:
        await asyncio.gather(*(requests(u, range(-warmup_per_user, 0), False) for u in users))
        measured.started = time.perf_counter()
        before = monitor.snapshot()
        await asyncio.gather(*(requests(u, range(per_user), True) for u in users))
        after = monitor.snapshot()
        measured.close_window(before, after)
    finally:
        for conn in conns.values():
            conn.close()


# --- the scenarios' requests ----------------------------------------------------------------


async def presign_action(conn: HttpConnection, user: User, index: int) -> int:
    reply = await conn.request(
        "POST", "/api/v1/upload/presigned-url", user.auth, presign_body(index)
    )
    return reply.status


def enqueue_action(keyed: Callable[[int], bool]) -> Action:
    async def action(conn: HttpConnection, user: User, index: int) -> int:
        key = f"bench-{uuid.uuid4().hex}" if keyed(index) else None
        return await enqueue_once(conn, user, key)

    return action


def odd(index: int) -> bool:
    return index % 2 == 1


def always(index: int) -> bool:
    return True


def never(index: int) -> bool:
    return False


async def status_action(conn: HttpConnection, user: User, index: int) -> int:
    job_id, _ = user.jobs[index % len(user.jobs)]
    reply = await conn.request("GET", f"/api/v1/jobs/{job_id}", user.auth)
    return reply.status


async def stream_action(conn: HttpConnection, user: User, index: int) -> int:
    job_id, token = user.jobs[index % len(user.jobs)]
    return await open_stream_until_connected(
        conn.port, f"/api/v1/jobs/{job_id}/stream?token={token}"
    )


# --- operations per request (counting passes on the proxied host) --------------------------


async def queue_active(admin_url: str, queue: str) -> int:
    port = urlsplit(admin_url).port
    assert port is not None
    reply = await HttpConnection(port).request("GET", f"/queues/{queue}/runtime")
    if reply.status != 200:
        raise RuntimeError(f"emulator runtime of {queue}: {reply.status}")
    return int(reply.json()["activeMessageCount"])


@dataclass
class OpCount:
    scenario: str
    variant: str
    requests: int
    statuses: Counter[str]
    labels: Counter[str]
    messages_in: int
    callers: int = 0
    hung: bool = False  # the counting host stopped answering during this pass

    @property
    def sequential(self) -> bool:
        return self.callers == 1

    def per_request(self) -> dict[str, float]:
        order = {"table": 0, "blob": 1, "servicebus": 2}
        found = {
            label: count / self.requests
            for label, count in sorted(
                self.labels.items(), key=lambda item: (order.get(item[0].split()[0], 3), item[0])
            )
            if count
        }
        if self.messages_in:
            found["servicebus message sent"] = self.messages_in / self.requests
        return found


async def count_operations(
    scenario: str,
    variant: str,
    host: Host,
    proxy: Proxy,
    admin_url: str,
    users: Sequence[User],
    action: Action,
    per_user: int,
    settle: float,
) -> OpCount:
    """Run `per_user` requests per caller (all callers at once) on the proxied host and
    count what reached Azurite and the emulator meanwhile."""
    counts_before = await asyncio.to_thread(proxy.counts)
    active_before = await queue_active(admin_url, QUEUE)
    statuses: Counter[str] = Counter()

    async def caller(user: User) -> None:
        conn = HttpConnection(host.port)
        try:
            for index in range(per_user):
                outcome = await attempt(conn, user, index, action)
                statuses[outcome or "2xx"] += 1
        finally:
            conn.close()

    await asyncio.gather(*(caller(u) for u in users))
    await asyncio.sleep(settle)  # trailing work (a stream's poller) shows up in the counts
    counts_after = await asyncio.to_thread(proxy.counts)
    active_after = await queue_active(admin_url, QUEUE)
    labels = Counter({k: counts_after[k] - counts_before.get(k, 0) for k in counts_after})
    return OpCount(
        scenario,
        variant,
        per_user * len(users),
        statuses,
        +labels,
        active_after - active_before,
        len(users),
    )


# --- floors: the bare operations, from this process, at the same concurrency -------------------


@dataclass
class Floor:
    label: str
    callers: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    cpu_percent: dict[str, float] = field(default_factory=dict)  # of one core, in the window

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def p50_s(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99_s(self) -> float:
        return percentile(self.latencies, 0.99)


FloorOp = Callable[[int, int], Awaitable[None]]


async def floor_for(
    label: str, callers: int, op: FloorOp, monitor: CpuMonitor, warmup: float, seconds: float
) -> Floor:
    """`callers` tasks loop on `op`; completions inside the window count."""
    floor = Floor(label, callers)
    began = time.perf_counter()
    start, end = began + warmup, began + warmup + seconds

    async def task(number: int) -> None:
        iteration = 0
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            try:
                await op(number, iteration)
                failed = False
            except Exception:
                failed = True
            t1 = time.perf_counter()
            iteration += 1
            if start <= t1 <= end:
                if failed:
                    floor.errors += 1
                else:
                    floor.latencies.append(t1 - t0)

    async def window() -> None:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        before = monitor.snapshot()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        after = monitor.snapshot()
        floor.elapsed = after.at - before.at
        used = {
            name: after.processes[name] - before.processes[name]
            for name in after.processes
            if name in before.processes
        }
        floor.cpu_percent = {
            name: 100 * used[name] / floor.elapsed
            for name in ("bench", "azurite", "emulator")
            if name in used
        }
        others = (after.busy - before.busy) - sum(used.values())
        floor.cpu_percent["other processes"] = max(0.0, 100 * others / floor.elapsed)

    await asyncio.gather(window(), *(task(n) for n in range(callers)))
    return floor


def cpu_cost(fn: Callable[[], object], seconds: float = 0.3) -> float:
    """Seconds of one call of `fn` (a CPU-only step), from a tight loop."""
    fn()
    calls = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            fn()
        calls += 50
    return elapsed / calls


def cpu_floors() -> dict[str, float]:
    """The CPU-only steps the API takes, seconds per call (see CPU_STEPS)."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    from devstack.azurite import DEV_ACCOUNT, DEV_KEY
    from function_app.services.stream_tokens import (
        STREAM_TOKEN_AUDIENCE,
        STREAM_TOKEN_ISSUER,
        STREAM_TOKEN_TYPE,
    )

    now = datetime.now(UTC)
    token = user_token("bench-cpu-floor")
    key = os.urandom(32)
    claims = {
        "iss": STREAM_TOKEN_ISSUER,
        "aud": STREAM_TOKEN_AUDIENCE,
        "sub": "bench-cpu-floor",
        "jid": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 3600,
    }
    stream_token = jwt.encode(claims, key, algorithm="HS256", headers={"typ": STREAM_TOKEN_TYPE})

    def sas() -> str:
        return generate_blob_sas(
            account_name=DEV_ACCOUNT,
            container_name=CONTAINER,
            blob_name=f"u/{uuid.uuid4().hex}/cv.txt",
            account_key=DEV_KEY,
            permission=BlobSasPermissions(create=True, write=True),
            start=now - timedelta(minutes=1),
            expiry=now + timedelta(minutes=10),
        )

    def verify_user() -> object:
        return jwt.decode(
            token,
            JWT_SECRET,
            algorithms=["HS256"],
            audience=JWT_AUDIENCE,
            leeway=30,
            options={"require": ["exp", "sub", "aud"]},
        )

    def verify_stream() -> object:
        return jwt.decode(
            stream_token,
            key,
            algorithms=["HS256"],
            audience=STREAM_TOKEN_AUDIENCE,
            issuer=STREAM_TOKEN_ISSUER,
            options={"require": ["exp", "sub", "jid", "aud", "iss"], "verify_exp": False},
        )

    def issue_stream() -> str:
        return jwt.encode(claims, key, algorithm="HS256", headers={"typ": STREAM_TOKEN_TYPE})

    return {
        "cpu: SAS signing": cpu_cost(sas),
        "cpu: user JWT verify": cpu_cost(verify_user),
        "cpu: stream token verify": cpu_cost(verify_stream),
        "cpu: stream token issue": cpu_cost(issue_stream),
    }


# The CPU-only steps each request takes, from reading function_app/ (services/identity.py,
# stream_tokens.py, uploads.py, jobs.py): every request verifies one token (a user JWT, or
# for the stream the stream token); presign signs one SAS; enqueue issues one stream token.
CPU_STEPS: dict[str, tuple[str, ...]] = {
    "presign": ("cpu: user JWT verify", "cpu: SAS signing"),
    "enqueue": ("cpu: user JWT verify", "cpu: stream token issue"),
    "status": ("cpu: user JWT verify",),
    "stream": ("cpu: stream token verify",),
}


def app_adapters(storage: str, servicebus: str, table: str) -> Any:
    """The app's own adapters (`function_app.adapters.factory`) for these endpoints, built from
    its Settings as the composition root builds them: the floors then use the app's SDK client
    options, whatever they are."""
    from function_app.adapters.factory import build_adapters
    from function_app.settings import Settings

    settings = Settings(
        AUTH_MODE="none",
        STORAGE_CONNECTION_STRING=storage,
        UPLOADS_CONTAINER=CONTAINER,
        JOBS_TABLE=table,
        ServiceBusConnection=servicebus,
    )
    return build_adapters(settings)


RAW_GET_ENTITY = "table get entity, raw HTTP (no SDK)"
RAW_TABLE_HEADERS = {
    "Accept": "application/json;odata=minimalmetadata",
    "x-ms-version": "2019-02-02",
    "DataServiceVersion": "3.0",
}


def raw_table_sas() -> str:
    """A read SAS for the jobs table: lets a bare HTTP client read without signing each call."""
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.data.tables import TableSasPermissions, generate_table_sas

    from devstack.azurite import DEV_ACCOUNT, DEV_KEY

    return generate_table_sas(
        AzureNamedKeyCredential(DEV_ACCOUNT, DEV_KEY),
        TABLE,
        permission=TableSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=2),
    )


# A counted operation without a floor of its own, and the floor that stands in for it.
SIMILAR_FLOOR = {
    "table batch(replace+insert)": "table batch(insert+insert)",
    "table delete entity": "table replace entity",
    "table merge entity": "table replace entity",
}


async def io_floors(
    callers: int,
    monitor: CpuMonitor,
    storage: str,
    table_port: int,
    servicebus: str,
    job_ids: Sequence[str],
    blob_names: Sequence[str],
    warmup: float,
    seconds: float,
) -> list[Floor]:
    """The app's storage and Service Bus calls, bare, with the app's SDK client options."""
    from azure.core import MatchConditions
    from azure.data.tables import UpdateMode
    from azure.servicebus import ServiceBusMessage
    from azure.servicebus.aio import ServiceBusClient

    from devstack.azurite import DEV_ACCOUNT
    from function_app.adapters.table_storage.event_log import (
        EVENT_PREFIX,
        event_row_key,
        event_to_entity,
        job_to_entity,
    )
    from function_app.domain.jobs import EventDraft, Job, JobStatus

    floors: list[Floor] = []
    reads = app_adapters(storage, servicebus, TABLE)
    written = app_adapters(storage, servicebus, FLOOR_TABLE)
    # The SDK clients themselves, as the app's composition root built them (its options).
    table, writes = reads.table_storage.client, written.table_storage.client
    container = reads.uploads._container
    run = uuid.uuid4().hex[:8]
    try:

        async def get_entity(number: int, iteration: int) -> None:
            await table.get_entity(job_ids[(number * 7 + iteration) % len(job_ids)], "job")

        async def query(number: int, iteration: int) -> None:
            job_id = job_ids[(number * 7 + iteration) % len(job_ids)]
            params = {"pk": job_id, "lo": event_row_key(0), "hi": EVENT_PREFIX[:-1] + "."}
            rows = table.query_entities(
                "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                parameters=params,
                results_per_page=100,
            )
            async for _ in rows:
                pass

        async def transaction(number: int, iteration: int) -> None:
            job = Job(
                f"floor-{run}-{number}-{iteration}",
                "bench-floor",
                QUEUE,
                JOB_NAME,
                {"blobName": "u/x/cv.txt", "fileName": "cv.txt"},
                datetime.now(UTC),
                upload_etag='"0x8DC0000000000"',
            )
            recorded, event = job.record(
                EventDraft(JobStatus.QUEUED, 0, "queued", "Job queued"), datetime.now(UTC)
            )
            await writes.submit_transaction(
                [("create", job_to_entity(recorded)), ("create", event_to_entity(event))]
            )

        async def insert(number: int, iteration: int) -> None:
            await writes.create_entity(
                {
                    "PartitionKey": f"floor-idem-{run}-{number}",
                    "RowKey": f"{iteration:08d}",
                    "jobId": uuid.uuid4().hex,
                    "confirmed": False,
                    "leaseUntil": datetime.now(UTC),
                }
            )

        etags: dict[int, str] = {}

        async def replace(number: int, iteration: int) -> None:
            entity = {
                "PartitionKey": f"floor-replace-{run}",
                "RowKey": str(number),
                "jobId": uuid.uuid4().hex,
                "confirmed": True,
            }
            if number not in etags:
                etags[number] = (await writes.upsert_entity(entity))["etag"]
            etags[number] = (
                await writes.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etags[number],
                    match_condition=MatchConditions.IfNotModified,
                )
            )["etag"]

        async def properties(number: int, iteration: int) -> None:
            name = blob_names[(number * 7 + iteration) % len(blob_names)]
            await container.get_blob_client(name).get_blob_properties()

        raw = [HttpConnection(table_port) for _ in range(callers)]
        sas = raw_table_sas()

        async def raw_get_entity(number: int, iteration: int) -> None:
            job_id = job_ids[(number * 7 + iteration) % len(job_ids)]
            reply = await raw[number].request(
                "GET",
                f"/{DEV_ACCOUNT}/{TABLE}(PartitionKey='{job_id}',RowKey='job')?{sas}",
                RAW_TABLE_HEADERS,
            )
            if reply.status != 200:
                raise RuntimeError(f"raw get entity: {reply.status}")

        for label, op in (
            ("table get entity", get_entity),
            (RAW_GET_ENTITY, raw_get_entity),
            ("table query", query),
            ("table batch(insert+insert)", transaction),
            ("table insert entity", insert),
            ("table replace entity", replace),
            ("blob get properties", properties),
        ):
            floors.append(await floor_for(label, callers, op, monitor, warmup, seconds))
        for conn in raw:
            conn.close()
    finally:
        await reads.close()
        await written.close()

    def message() -> ServiceBusMessage:
        job_id = uuid.uuid4().hex
        body = {"jobId": job_id, "queueName": QUEUE, "jobName": JOB_NAME, "owner": "bench-floor"}
        return ServiceBusMessage(
            json.dumps(body, separators=(",", ":")),
            message_id=job_id,
            content_type="application/json",
            application_properties={"jobName": JOB_NAME, "owner": "bench-floor"},
        )

    async with ServiceBusClient.from_connection_string(servicebus, retry_total=2) as client:
        senders = [client.get_queue_sender(FLOOR_QUEUE) for _ in range(callers)]
        try:
            await asyncio.gather(*(s.send_messages(message()) for s in senders))  # open links

            async def own_sender(number: int, iteration: int) -> None:
                await senders[number].send_messages(message())

            floors.append(
                await floor_for(
                    "servicebus message sent", callers, own_sender, monitor, warmup, seconds
                )
            )
            lock = asyncio.Lock()

            async def shared_sender(number: int, iteration: int) -> None:
                async with lock:
                    await senders[0].send_messages(message())

            floors.append(
                await floor_for(
                    "servicebus send, one sender + lock",
                    callers,
                    shared_sender,
                    monitor,
                    warmup,
                    seconds,
                )
            )
        finally:
            # Together: the SDK takes about 0.5 s to close each one (64 in turn: half a minute).
            await asyncio.gather(*(sender.close() for sender in senders), return_exceptions=True)
    return floors


@dataclass(frozen=True)
class Implied:
    latency_s: float
    per_second: float
    storage_per_second: float
    cpu_per_second: float
    approximated: tuple[str, ...]
    unfloored: tuple[str, ...]


def implied_floor(
    scenario: str,
    callers: int,
    ops: Mapping[str, float],
    floors: Mapping[str, Floor],
    cpu: Mapping[str, float],
) -> Implied:
    """The floor a request with these operations implies. Throughput: bounded by the
    operations' floors (time-shared: 1 / sum(count / rate)) and by one core doing its CPU
    steps. Latency: its operations one after another (sum of their p50s, plus its CPU
    steps), and at least callers / throughput floor (Little's law, closed loop)."""
    latency, load = 0.0, 0.0
    approximated, unfloored = [], []
    for label, count in ops.items():
        floor = floors.get(label)
        if floor is None and label in SIMILAR_FLOOR:
            floor = floors.get(SIMILAR_FLOOR[label])
            approximated.append(label)
        if floor is None or not floor.latencies:
            unfloored.append(label)
            continue
        latency += count * floor.p50_s
        load += count / floor.per_second
    cpu_seconds = sum(cpu[step] for step in CPU_STEPS[scenario])
    latency += cpu_seconds
    storage_rate = 1 / load if load > 0 else math.inf
    cpu_rate = 1 / cpu_seconds if cpu_seconds > 0 else math.inf
    rate = min(storage_rate, cpu_rate)
    return Implied(
        max(latency, callers / rate),
        rate,
        storage_rate,
        cpu_rate,
        tuple(approximated),
        tuple(unfloored),
    )


# --- profiling (py-spy, attached to the timed host for one scenario's windows) ------------------


def py_spy_path() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    """`py-spy record --pid` for the length of a window; writes a speedscope file."""

    def __init__(self, executable: str, pid: int, output: Path, log_path: Path) -> None:
        self.executable, self.pid, self.output, self.log_path = executable, pid, output, log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [
                self.executable,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                "100",
                "--format",
                "speedscope",
                "--output",
                str(self.output),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        time.sleep(0.3)  # attached before the window's first snapshot

    def stop(self) -> None:
        if self._process is not None:
            stop_popen(self._process, signal.SIGINT)  # py-spy writes its file on SIGINT
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


def _group(file: str) -> str:
    """Which package (or stdlib module) a frame's file belongs to."""
    parts = [p for p in _short(file).split("/") if p]
    if not parts:
        return "?"
    if parts[0] == "azure" and len(parts) > 2:
        return f"azure.{parts[1]}"
    return parts[0].removesuffix(".py")


def _short(file: str) -> str:
    """A frame's file without the venv, interpreter or repo prefix."""
    for marker in ("site-packages/", f"{REPO_ROOT}/", "/lib/python3.13/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def summarize_profile(path: Path, top: int = 12) -> list[str]:
    """Where the host's sampled time went: by thread, by package (self time), the main
    thread's top functions (self and inclusive), and what its thread pool ran."""
    document = json.loads(path.read_text(encoding="utf-8"))
    frames = document["shared"]["frames"]

    def name(index: int) -> str:
        frame = frames[index]
        return f"{frame['name']} ({_short(frame.get('file', '?'))})"

    package: Counter[str] = Counter()
    main_self: Counter[str] = Counter()
    main_incl: Counter[str] = Counter()
    pool_items: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    main_total = idle_pool = 0.0
    for profile in document["profiles"]:
        is_main = "MainThread" in profile["name"]
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            names = [frames[i]["name"] for i in stack]
            if not is_main and names[-1] == "_worker":
                idle_pool += weight  # the pool's loop blocked in queue.get: waiting for work
                continue
            package[_group(frames[stack[-1]].get("file", "?"))] += weight
            if is_main:
                threads["main thread"] += weight
                main_total += weight
                main_self[name(stack[-1])] += weight
                for frame_name in {name(i) for i in stack}:
                    main_incl[frame_name] += weight
                continue
            if "_WorkItem.run" in names and names.index("_WorkItem.run") + 1 < len(names):
                threads["thread pool: work items"] += weight
                pool_items[name(stack[names.index("_WorkItem.run") + 1])] += weight
            else:
                threads["thread pool: other (e.g. handing results back)"] += weight
    total = sum(package.values())
    if not total:
        return ["    (no samples)"]

    def share(value: float, of: float = total) -> str:
        return f"{100 * value / of:5.1f}%"

    lines = [
        f"    {total:.1f} s of busy samples at 100 Hz ({idle_pool:.1f} s more of thread-pool "
        "workers waiting for work left out); by thread: "
        + ", ".join(f"{k} {share(v).strip()}" for k, v in threads.most_common())
    ]
    lines.append(
        "    self time by package: "
        + ", ".join(f"{k} {share(v).strip()}" for k, v in package.most_common(10))
    )
    lines.append("    main thread, top functions by self time (share of all samples):")
    lines += [f"      {share(v)}  {k}" for k, v in main_self.most_common(top)]
    lines.append("    main thread, inclusive time (share of the main thread; under 90%):")
    inclusive = [(k, v) for k, v in main_incl.most_common() if v < 0.9 * main_total][:top]
    lines += [f"      {share(v, main_total)}  {k}" for k, v in inclusive]
    if pool_items:
        lines.append("    thread pool work items (share of all samples):")
        lines += [f"      {share(v)}  {k}" for k, v in pool_items.most_common(5)]
    return lines


# --- the report -------------------------------------------------------------------------------


def fmt_ms(seconds_ms: float) -> str:
    return "    n/a" if seconds_ms != seconds_ms else f"{seconds_ms:7.1f}"


def fmt_rate(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:,.0f}/s"


def failures_text(failures: Counter[str]) -> str:
    if not failures:
        return "0 failed"
    parts = ", ".join(f"{k}: {n}" for k, n in sorted(failures.items()))
    return f"{sum(failures.values())} FAILED ({parts})"


CPU_COLUMNS = ("host", "azurite", "emulator", "bench")
# Other sessions share this box: a window where other processes used more than this share of
# a core is marked DISTURBED (its figures are lower than the stack alone would give).
DISTURBED_PERCENT = 20.0


def print_measured(m: Measured) -> None:
    cpu = " ".join(f"{name} {m.cpu_percent(name):3.0f}%" for name in CPU_COLUMNS)
    other = 100 * m.others_cpu / m.elapsed if m.elapsed > 0 else 0.0
    print(
        f"  {m.scenario:<8} {m.callers:>3} callers  {m.ok_per_second:>7,.0f}/s  "
        f"p50 {fmt_ms(m.percentile_ms(0.50))} ms  p99 {fmt_ms(m.percentile_ms(0.99))} ms  "
        f"({m.ok} ok in {m.elapsed:.1f} s)  {failures_text(m.failures)}",
        flush=True,
    )
    print(
        f"  {'':<8} host CPU {m.host_cpu_ms_per_request():.2f} ms/request;  CPU of one core: "
        f"{cpu}, other processes on the box {other:.0f}%" + (f"  [{m.note}]" if m.note else ""),
        flush=True,
    )


def print_ops(ops: OpCount) -> None:
    if ops.hung:
        print(
            f"  {'':<8} per request{f' ({ops.variant})' if ops.variant else ''}: not counted "
            "(the counting host hung during this pass)",
            flush=True,
        )
        return
    per = ops.per_request()
    statuses = ", ".join(f"{k} {n}" for k, n in sorted(ops.statuses.items()))
    text = ", ".join(f"{label} {n:.2f}" for label, n in per.items()) or "none"
    print(
        f"  {'':<8} per request{f' ({ops.variant})' if ops.variant else ''}: {text}"
        f"   [counted over {ops.requests} requests: {statuses}]",
        flush=True,
    )


def merged_ops(counts: Sequence[OpCount]) -> dict[str, float]:
    """Per-request operations over several counting passes (weighted by their requests)."""
    counts = [c for c in counts if not c.hung]
    requests = sum(c.requests for c in counts)
    total: Counter[str] = Counter()
    for c in counts:
        for label, n in c.per_request().items():
            total[label] += n * c.requests  # type: ignore[assignment]
    return {label: n / requests for label, n in total.items()} if requests else {}


def print_floors(callers: int, floors: Sequence[Floor], cpu: Mapping[str, float]) -> None:
    print(f"floors at {callers} concurrent, from the bench process, direct to Azurite/emulator:")
    for f in floors:
        errors = f"  {f.errors} ERRORS" if f.errors else ""
        shares = " ".join(f"{name} {share:3.0f}%" for name, share in f.cpu_percent.items())
        disturbed = f.cpu_percent.get("other processes", 0.0) > DISTURBED_PERCENT
        print(
            f"  {f.label:<36} {f.per_second:>8,.0f}/s  p50 {1000 * f.p50_s:6.2f} ms  "
            f"p99 {1000 * f.p99_s:6.2f} ms  CPU {shares}{errors}"
            + ("  DISTURBED" if disturbed else "")
        )
    for label, seconds in cpu.items():
        print(f"  {label:<36} {1e6 * seconds:8.1f} us per call (one core: {1 / seconds:,.0f}/s)")


def print_comparison(
    m: Measured,
    ops: Mapping[str, float],
    floors: Mapping[str, Floor],
    cpu: Mapping[str, float],
    basis: str,
) -> None:
    implied = implied_floor(m.scenario, m.callers, ops, floors, cpu)
    p50 = m.percentile_ms(0.50)
    floor_ms = 1000 * implied.latency_s
    p50_ratio = f"x{p50 / floor_ms:.1f}" if floor_ms > 0 and p50 == p50 else "n/a"
    rate_ratio = implied.per_second and m.ok_per_second / implied.per_second
    notes = []
    if implied.approximated:
        notes.append("floor of a similar operation for " + ", ".join(implied.approximated))
    if implied.unfloored:
        notes.append("no floor for " + ", ".join(implied.unfloored))
    notes.append(basis)
    print(
        f"  {m.scenario:<8} {m.callers:>3} callers: p50 {fmt_ms(p50)} ms vs floor "
        f"{floor_ms:6.2f} ms ({p50_ratio});  {m.ok_per_second:,.0f}/s vs floor "
        f"{fmt_rate(implied.per_second)} "
        f"({100 * rate_ratio:.0f}% of it; storage/bus {fmt_rate(implied.storage_per_second)}, "
        f"one core of CPU steps {fmt_rate(implied.cpu_per_second)})"
        + (f"  [{'; '.join(notes)}]" if notes else "")
    )


def print_goals(results: Sequence[Measured]) -> None:
    print("\ngoals (per host process, 2 cores shared with the generator and the emulators):")
    for scenario, goal in GOALS.items():
        for m in (r for r in results if r.scenario == scenario):
            met = m.ok_per_second >= goal and not m.failures
            print(
                f"  {scenario:<8} >= {goal:,.0f}/s with 0 failures, {m.callers} callers: "
                f"{m.ok_per_second:,.0f}/s, {sum(m.failures.values())} failed: "
                f"{'met' if met else 'missed'}"
            )


CONNECTION_LINE = re.compile(r"connection from \S+ (.*?) after [\d.]+ s: (\d+) messages in")


def emulator_log_summary(path: Path) -> str:
    closed = messages = errors = 0
    for line in log_tail(path, 1_000_000).splitlines():
        match = CONNECTION_LINE.search(line)
        if match:
            closed += 1
            messages += int(match.group(2))
            errors += match.group(1).startswith("ended with")
    return (
        f"emulator log: {closed} AMQP connections closed, {messages} messages in over them, "
        f"{errors} ended with a protocol error"
    )


# --- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    callers: tuple[int, ...]
    scenarios: tuple[str, ...]
    warmup: float
    seconds: float
    enqueues: int
    count_per_caller: int
    floor_seconds: float
    profile: str | None
    py_spy: str | None


def write_servicebus_config(workdir: Path) -> Path:
    """The repo's topology plus a queue for the Service Bus floor (same properties)."""
    document = json.loads(
        (REPO_ROOT / "devstack" / "servicebus" / "config.json").read_text(encoding="utf-8")
    )
    queues = document["UserConfig"]["Namespaces"][0]["Queues"]
    template = next(q for q in queues if q["Name"] == QUEUE)
    queues.append({"Name": FLOOR_QUEUE, "Properties": dict(template["Properties"])})
    path = workdir / "servicebus-config.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


async def health(host: Host) -> None:
    reply = await HttpConnection(host.port).request("GET", "/api/v1/health")
    if reply.status != 200:
        raise RuntimeError(f"host {host.name}: health answered {reply.status}: {reply.body!r}")


async def open_streams(host: Host, user: User) -> int:
    reply = await HttpConnection(host.port).request("GET", "/api/v1/sse/stats", user.auth)
    return int(reply.json()["data"]["totalConnections"])


@dataclass
class Stack:
    workdir: Path
    storage: str = ""
    servicebus: str = ""
    admin_url: str = ""
    table_port: int = 0
    timed: Host | None = None
    counting: Host | None = None
    proxy: Proxy | None = None
    stops: list[Callable[[], object]] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    monitor: "CpuMonitor | None" = None

    def stop_hosts(self) -> None:
        for host in (self.timed, self.counting):
            if host is not None:
                stop_popen(host.process)

    def stop_all(self) -> None:
        self.stop_hosts()
        for stop in reversed(self.stops):
            with contextlib.suppress(Exception):
                stop()
        self.stops.clear()


def start_stack(workdir: Path) -> Stack:
    from devstack.azurite import DEV_ACCOUNT, DEV_KEY, ensure_storage_sync, start_azurite
    from devstack.servicebus.launcher import SAS_KEY_NAME, SAS_KEY_VALUE, start_emulator

    stack = Stack(workdir)
    try:
        azurite = start_azurite(workdir / "azurite", log_path=workdir / "azurite.log")
        stack.stops.append(azurite.stop)
        emulator = start_emulator(
            write_servicebus_config(workdir), log_path=workdir / "servicebus.log"
        )
        stack.stops.append(emulator.stop)
        ensure_storage_sync(azurite.connection_string, CONTAINER, TABLE)
        ensure_storage_sync(azurite.connection_string, CONTAINER, FLOOR_TABLE)
        proxy = start_proxy(azurite.blob_port, azurite.table_port, emulator.port)
        stack.stops.append(lambda: stop_popen(proxy.process))
        stack.proxy = proxy
        stack.storage, stack.servicebus = azurite.connection_string, emulator.connection_string
        stack.admin_url = emulator.admin_url
        stack.table_port = azurite.table_port
        proxied_storage = (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint=http://{HOST}:{proxy.blob}/{DEV_ACCOUNT};"
            f"TableEndpoint=http://{HOST}:{proxy.table}/{DEV_ACCOUNT};"
        )
        proxied_servicebus = (
            f"Endpoint=sb://{HOST}:{proxy.amqp};SharedAccessKeyName={SAS_KEY_NAME};"
            f"SharedAccessKey={SAS_KEY_VALUE};UseDevelopmentEmulator=true"
        )
        app_root = write_app_root(workdir)
        stack.timed = start_host(
            "timed",
            app_root,
            host_environment(stack.storage, stack.servicebus, stack.admin_url),
            workdir,
        )
        stack.counting = start_host(
            "counting",
            app_root,
            host_environment(proxied_storage, proxied_servicebus, stack.admin_url),
            workdir,
        )
        stack.pids = {
            "host": stack.timed.pid,
            "counting host": stack.counting.pid,
            "azurite": azurite.pid,
            "emulator": emulator.pid,
            "proxy": proxy.process.pid,
            "bench": os.getpid(),
        }
    except BaseException:
        stack.stop_all()
        raise
    return stack


SCENARIO_ACTIONS: dict[str, Action] = {
    "presign": presign_action,
    "status": status_action,
    "stream": stream_action,
}


async def warm_counting_host(stack: Stack, user: User) -> None:
    """One of each request on the counting host, outside any count (first-use costs: the
    stream-token key, the sender's link, the SDK clients' connections)."""
    assert stack.counting is not None
    assert stack.timed is not None
    await upload_blobs(stack.timed, [user], 3)
    conn = HttpConnection(stack.counting.port)
    try:
        await presign_action(conn, user, 0)
        for _ in range(3):
            if await enqueue_once(conn, user, None) == 202:
                break
        await status_action(conn, user, 0)
        await stream_action(conn, user, 0)
    finally:
        conn.close()


async def run_bench(options: Options) -> None:
    print(
        f"api bench: {psutil.cpu_count()} cores; callers {', '.join(map(str, options.callers))};"
        f" scenarios {', '.join(options.scenarios)}; windows {options.warmup:g} s warm-up +"
        f" {options.seconds:g} s measured; enqueue {options.enqueues} per caller; counting"
        f" passes {options.count_per_caller} requests per caller; floors"
        f" {options.floor_seconds:g} s each; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    results: list[Measured] = []
    main_task = asyncio.current_task()
    assert main_task is not None
    # SIGTERM (e.g. from `timeout`): cancel, so the `finally` below stops every process.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        workdir = Path(tmp)
        stack = await asyncio.to_thread(start_stack, workdir)
        try:
            await _run(stack, options, results)
            print_goals(results)
        except Exception:
            for host in (stack.timed, stack.counting):
                if host is not None:
                    print(f"--- host {host.name} log tail:\n{log_tail(host.log_path)}")
            raise
        finally:
            stack.stop_hosts()  # first: their AMQP connections close and get logged
            await asyncio.sleep(0.5)
            print(emulator_log_summary(workdir / "servicebus.log"))
            stack.stop_all()
            keep_logs(workdir)


def keep_logs(workdir: Path) -> None:
    """Copy the run's logs to bench/results/api-logs/ (git-ignored), replacing the last ones."""
    shutil.rmtree(LOGS_DIR, ignore_errors=True)
    LOGS_DIR.mkdir(parents=True)
    for log in workdir.glob("*.log"):
        shutil.copyfile(log, LOGS_DIR / log.name)
    print(f"logs of this run: {LOGS_DIR.relative_to(REPO_ROOT)}/")


async def _run(stack: Stack, options: Options, results: list[Measured]) -> None:
    timed, counting, proxy = stack.timed, stack.counting, stack.proxy
    assert timed is not None
    assert counting is not None
    assert proxy is not None
    await health(timed)
    await health(counting)
    print(
        f"stack: host pid {timed.pid} (python -m devstack.host on :{timed.port}: the process "
        f"itself holds the socket; main.py's HTTP blueprints, no Service Bus triggers); counting "
        f"host pid {counting.pid} behind the proxy (pid {proxy.process.pid}); Azurite pid "
        f"{stack.pids['azurite']}, emulator pid {stack.pids['emulator']}, bench pid {os.getpid()}"
        f"; uvicorn parses HTTP with {http_parser()}",
        flush=True,
    )
    users = [
        User(f"bench-user-{i:03d}", user_token(f"bench-user-{i:03d}"))
        for i in range(max(options.callers))
    ]
    started = time.perf_counter()
    retries = await seed_jobs(timed, users)
    print(
        f"setup: {len(users)} users, {SEED_JOBS_PER_USER} jobs each enqueued one at a time "
        f"({retries} retries after a 503) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    seed_ids = [job for u in users for job, _ in u.jobs]
    await warm_counting_host(stack, users[0])
    monitor = CpuMonitor({k: v for k, v in stack.pids.items() if k != "counting host"})
    stack.monitor = monitor
    cpu = cpu_floors()
    for callers in options.callers:
        group = users[:callers]
        print(f"\n=== {callers} callers", flush=True)
        measured: dict[str, Measured] = {}
        ops: dict[str, list[OpCount]] = {}
        for scenario in options.scenarios:
            ops[scenario] = await count_scenario(stack, options, scenario, group)
            profiler = None
            if options.profile == scenario and options.py_spy:
                assert stack.timed is not None
                output = RESULTS_DIR / f"api-{scenario}-{callers}c.speedscope.json"
                log = stack.workdir / "py-spy.log"
                profiler = Profiler(options.py_spy, stack.timed.pid, output, log)
                profiler.start()
            m = Measured(scenario, len(group))
            try:
                _, hung = await supervised(
                    stack, "timed", scenario, time_scenario(stack, options, m, group)
                )
            finally:
                if profiler is not None:
                    profiler.stop()
            if hung:
                m.failures["host hung (cut short)"] += m.in_flight
                m.note = "HOST HUNG: the scenario was cut short and the host restarted"
                if not m.elapsed:
                    m.elapsed = time.perf_counter() - m.started
            measured[scenario] = m
            results.append(m)
            print_measured(m)
            for count in ops[scenario]:
                print_ops(count)
            if profiler is not None:
                print(f"  profile of the host: {profiler.output.relative_to(REPO_ROOT)}")
                print("\n".join(summarize_profile(profiler.output)))
        assert stack.timed is not None
        blob_names = await floor_blobs(stack.timed, group)
        floors = await io_floors(
            callers,
            monitor,
            stack.storage,
            stack.table_port,
            stack.servicebus,
            seed_ids,
            blob_names,
            min(0.5, options.warmup),
            options.floor_seconds,
        )
        print_floors(callers, floors, cpu)
        by_label = {f.label: f for f in floors}
        print("scenario vs. the floor its operations imply (same concurrency):")
        for scenario, m in measured.items():
            concurrent = [c for c in ops[scenario] if not c.sequential and not c.hung]
            if concurrent:
                print_comparison(m, merged_ops(concurrent), by_label, cpu, "ops as counted")
            sequential = [c for c in ops[scenario] if c.sequential and not c.hung]
            if sequential:
                print_comparison(
                    m, merged_ops(sequential), by_label, cpu, "ops counted one at a time"
                )


async def floor_blobs(host: Host, group: Sequence[User]) -> list[str]:
    """Blobs for the get-properties floor: a few fresh uploads per caller."""
    before = {u.owner: len(u.blobs) for u in group}
    await upload_blobs(host, group, 2)
    names = [b for u in group for b in u.blobs[before[u.owner] :]]
    for user in group:
        del user.blobs[before[user.owner] :]
    return names


async def count_scenario(
    stack: Stack, options: Options, scenario: str, group: Sequence[User]
) -> list[OpCount]:
    """Operations per request: counting passes on the proxied host, same concurrency; each
    pass watched on its own (a pass the host hung in is reported as such, the others stand)."""
    assert stack.timed is not None
    passes: list[tuple[str, Sequence[User], Action, int, float]]
    if scenario != "enqueue":
        settle = 1.0 if scenario == "stream" else 0.3
        action = SCENARIO_ACTIONS[scenario]
        passes = [("", group, action, options.count_per_caller, settle)]
    else:
        half = max(1, options.count_per_caller // 2)
        first = group[0]
        await upload_blobs(stack.timed, group, 2 * half)
        await upload_blobs(stack.timed, [first], 2 * SEQUENTIAL_ENQUEUES)
        # The first user's blobs go in order: the one-at-a-time passes take theirs first.
        n = 2 * SEQUENTIAL_ENQUEUES
        first.blobs = first.blobs[-n:] + first.blobs[:-n]
        plain, keyed = enqueue_action(never), enqueue_action(always)
        passes = [
            ("one caller, one at a time, no key", [first], plain, SEQUENTIAL_ENQUEUES, 0.3),
            (
                "one caller, one at a time, fresh Idempotency-Key",
                [first],
                keyed,
                SEQUENTIAL_ENQUEUES,
                0.3,
            ),
            ("no key", group, plain, half, 0.3),
            ("fresh Idempotency-Key", group, keyed, half, 0.3),
        ]
    counted = []
    for variant, users, action, per, settle in passes:
        assert stack.counting is not None
        assert stack.proxy is not None
        work = count_operations(
            scenario,
            variant,
            stack.counting,
            stack.proxy,
            stack.admin_url,
            users,
            action,
            per,
            settle,
        )
        result, _ = await supervised(stack, "counting", scenario, work)
        counted.append(
            result
            or OpCount(
                scenario, variant, per * len(users), Counter(), Counter(), 0, len(users), hung=True
            )
        )
    return counted


async def time_scenario(stack: Stack, options: Options, m: Measured, group: Sequence[User]) -> None:
    """The timed run on the direct host, into `m` (partly filled if it is cut short)."""
    timed, monitor = stack.timed, stack.monitor
    assert timed is not None
    assert monitor is not None
    if m.scenario == "enqueue":
        await upload_blobs(timed, group, options.enqueues + 1)
        queued_before = await queue_active(stack.admin_url, QUEUE)
        await run_counted(m, timed, group, enqueue_action(odd), monitor, 1, options.enqueues)
        sent = await queue_active(stack.admin_url, QUEUE) - queued_before
        accepted = m.ok + m.warmup_ok
        m.note = (
            f"odd-numbered enqueues of each caller with a fresh Idempotency-Key; messages into "
            f"the queue: {sent} for {accepted} 202s ({m.ok} timed, {m.warmup_ok} warm-up)"
        )
        return
    action = SCENARIO_ACTIONS[m.scenario]
    await run_for_duration(m, timed, group, action, monitor, options.warmup, options.seconds)
    if m.scenario == "stream":
        await asyncio.sleep(1.0)
        m.note = f"streams open on the host 1 s later: {await open_streams(timed, group[0])}"


# --- a host that stops answering ------------------------------------------------------------


async def host_answers(host: Host) -> bool:
    """Does the host's event loop answer at all (a 404 for an unknown route will do)?"""
    try:
        async with asyncio.timeout(PING_TIMEOUT_SECONDS):
            reader, writer = await asyncio.open_connection(HOST, host.port)
            try:
                writer.write(f"GET /bench-ping HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                await writer.drain()
                await _read_head(reader)
            finally:
                writer.close()
        return True
    except (OSError, TimeoutError, ConnectionError, ValueError):
        return False


async def watch_host(host: Host, hung: asyncio.Event) -> None:
    missed = 0
    while missed < PINGS_MISSED:
        await asyncio.sleep(PING_EVERY_SECONDS)
        missed = 0 if await host_answers(host) else missed + 1
    hung.set()


async def supervised[T](
    stack: Stack, which: str, scenario: str, work: Coroutine[Any, Any, T]
) -> tuple[T | None, bool]:
    """Run `work` while watching host `which`; if the host stops answering, cut `work` short,
    report it, restart the host, and return (None, True)."""
    host = stack.timed if which == "timed" else stack.counting
    assert host is not None
    hung = asyncio.Event()
    job = asyncio.ensure_future(work)
    watch = asyncio.create_task(watch_host(host, hung))
    waiting = asyncio.create_task(hung.wait())
    try:
        await asyncio.wait({job, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        waiting.cancel()
    if job.done():
        return job.result(), False
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError, *TRANSPORT_ERRORS):
        await job
    await asyncio.to_thread(restart_hung_host, stack, which, scenario)
    return None, True


def restart_hung_host(stack: Stack, which: str, scenario: str) -> None:
    """Record where the hung host is stuck (py-spy dump), SIGKILL it (its loop cannot run a
    SIGTERM handler), start a fresh one on the same settings."""
    host = stack.timed if which == "timed" else stack.counting
    assert host is not None
    cpu = 0.0
    with contextlib.suppress(psutil.Error):
        cpu = psutil.Process(host.pid).cpu_percent(interval=0.5)
    dump = stack.workdir / f"host-{which}-hung-{scenario}.log"
    where = "py-spy is not installed: no stack"
    py_spy = py_spy_path()
    if py_spy is not None:
        result = subprocess.run(
            [py_spy, "dump", "--pid", str(host.pid)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        dump.write_text(result.stdout + result.stderr, encoding="utf-8")
        frames = [line.strip() for line in result.stdout.splitlines() if line.startswith("    ")]
        where = " <- ".join(frames[:5]) or "(empty dump)"
    stop_popen(host.process, signal.SIGKILL)
    fresh = start_host(host.name, host.app_root, host.env, stack.workdir)
    if which == "timed":
        stack.timed = fresh
        if stack.monitor is not None:
            stack.monitor.replace("host", fresh.pid)
    else:
        stack.counting = fresh
    print(
        f"  HOST HUNG during {scenario}: the {which} host (pid {host.pid}, {cpu:.0f}% CPU) did "
        f"not answer {PINGS_MISSED} pings of {PING_TIMEOUT_SECONDS:g} s; its main thread: "
        f"{where}; full dump in {LOGS_DIR.relative_to(REPO_ROOT)}/{dump.name}; restarted as "
        f"pid {fresh.pid}",
        flush=True,
    )


def parse_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--callers", default="32,64", help="concurrent callers, e.g. 32,64")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="e.g. presign,status")
    parser.add_argument("--seconds", type=float, default=None, help="measured window (default 5)")
    parser.add_argument("--enqueues", type=int, default=None, help="timed enqueues per caller")
    parser.add_argument("--quick", action="store_true", help="shorter windows and counts")
    parser.add_argument(
        "--profile",
        choices=SCENARIOS,
        default=None,
        help="run py-spy on the host during this scenario's windows (bench/results/)",
    )
    parser.add_argument("--proxy-serve", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv or [])
    if args.proxy_serve:
        blob, table, amqp = (int(p) for p in args.proxy_serve.split(","))
        asyncio.run(serve_proxy(blob, table, amqp))
        return
    scenarios = tuple(parse_list(args.scenarios))
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if not scenarios:
        parser.error("nothing to run")
    py_spy = None
    if args.profile:
        py_spy = py_spy_path()
        if py_spy is None:
            print(
                "api bench: --profile needs py-spy, which is not installed (it is not a project "
                "requirement): `.venv/bin/python -m pip install py-spy`, then run again",
                file=sys.stderr,
            )
            raise SystemExit(2)
        if args.profile not in scenarios:
            parser.error(f"--profile {args.profile}: that scenario is not in --scenarios")
    quick = args.quick
    options = Options(
        callers=tuple(int(c) for c in parse_list(args.callers)),
        scenarios=tuple(s for s in SCENARIOS if s in scenarios),
        warmup=0.5 if quick else 1.0,
        seconds=args.seconds if args.seconds is not None else (2.0 if quick else 5.0),
        enqueues=args.enqueues if args.enqueues is not None else (6 if quick else 12),
        count_per_caller=2 if quick else 4,
        floor_seconds=1.0 if quick else 2.0,
        profile=args.profile,
        py_spy=py_spy,
    )
    try:
        asyncio.run(run_bench(options))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("api bench: interrupted; the processes it started are stopped", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main(sys.argv[1:])
