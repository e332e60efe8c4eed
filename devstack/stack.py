"""The whole local stack in one command: Azurite, the Service Bus emulator, the Functions host.

`python -m devstack` (what `make run` calls):
1. reads local.settings.json (or the sample) into the environment, as Core Tools does;
2. starts Azurite (persistent under .devstack/azurite, or in memory) and the Service Bus
   emulator (its queues persistent under .devstack/servicebus, or in memory), on their
   default ports unless told otherwise (a taken default port fails with a message naming
   it); the emulator's config is written to .devstack/servicebus-config.json:
   devstack/servicebus/config.json (namespace, logging) plus the queues of
   function_app/queues.json, under the names their app settings give them;
3. points the app at them: settings that name the local emulators (UseDevelopmentStorage,
   the dev account, UseDevelopmentEmulator) are replaced with the actual endpoints; a
   setting pointing anywhere else is kept, so real Azure settings run the app against Azure;
4. builds the app's settings once (a bad one stops the stack, naming it), creates the
   uploads container and jobs table, checks the trigger queues exist;
5. serves the app with the local Functions host and prints the URLs;
6. on Ctrl-C / SIGTERM stops the host (in-flight invocations finish), then the emulator,
   then Azurite, each by its pid.

(Over 300 lines: one command's start, wait and stop order for three processes, kept together.)
"""

import asyncio
import json
import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError

from devstack.azurite import AzuriteProcess, ensure_storage, start_azurite
from devstack.emulator_queues import EmulatorQueuesError, write_emulator_config
from devstack.host.loader import check_app_settings
from devstack.host.server import FunctionsHost
from devstack.local_settings import LocalSettings, read_local_settings
from devstack.servicebus.launcher import EmulatorProcess, start_emulator
from function_app.settings import get_settings

log = logging.getLogger("devstack")

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_HOST_PORT = 7071
DEFAULT_AZURITE_PORTS = (10000, 10001, 10002)
DEFAULT_SERVICEBUS_PORTS = (5672, 5673)
STORAGE_SETTINGS = ("AzureWebJobsStorage", "STORAGE_CONNECTION_STRING")
SERVICEBUS_SETTING = "ServiceBusConnection"
SERVICEBUS_ADMIN_SETTING = "SERVICEBUS_EMULATOR_ADMIN_URL"
FAULT_INJECTION_SETTING = "ALLOW_FAULT_INJECTION"
# Written under the workdir: devstack/servicebus/config.json plus the app's queues.
SERVICEBUS_CONFIG_NAME = "servicebus-config.json"


class StackError(RuntimeError):
    """The stack cannot start; the message says what to do."""


@dataclass(frozen=True)
class StackOptions:
    root: Path = REPO_ROOT
    port: int | None = None
    in_memory: bool = False
    azurite: bool = True
    servicebus: bool = True
    any_free_ports: bool = False
    workdir: Path | None = None
    state_file: Path | None = None
    access_log: bool = False
    # The emulator queues' LockDuration (ISO 8601), overriding queues.json (test stacks).
    lock_duration: str | None = None
    # Origins the API's CORS allows (`--cors`), overriding local settings' Host.CORS.
    cors_origins: tuple[str, ...] | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir if self.workdir is not None else self.root / ".devstack"


@dataclass
class RunningStack:
    """What is up, for printing, the state file, and stopping in reverse order."""

    azurite: AzuriteProcess | None = None
    emulator: EmulatorProcess | None = None
    host: FunctionsHost | None = None
    stops: list[Callable[[], Any]] = field(default_factory=list)

    def stop_children(self) -> None:
        for stop in reversed(self.stops):
            try:
                stop()
            except Exception as exc:  # keep stopping the others
                log.error("stopping a child failed: %r", exc)
        self.stops.clear()


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def require_free(ports: dict[int, str]) -> None:
    taken = [f"{port} ({what})" for port, what in ports.items() if port and not port_is_free(port)]
    if taken:
        raise StackError(
            "port(s) already in use: "
            + ", ".join(taken)
            + ". Another stack or emulator is probably running: stop it, or run "
            "`python -m devstack --any-free-ports` (and --port for the host)."
        )


def is_local_storage(value: str | None) -> bool:
    return not value or "UseDevelopmentStorage=true" in value or "devstoreaccount1" in value


def is_local_servicebus(value: str | None) -> bool:
    return not value or "UseDevelopmentEmulator=true" in value


def faults_allowed(environ: Mapping[str, str]) -> bool:
    """ALLOW_FAULT_INJECTION (the app's test hook, never on in Azure) also turns on the
    emulator's fault hook (`POST /faults/drop-connections`), parsed as the app's settings parse
    it (before they can be built: the emulator starts first). A value they refuse is off here,
    and the settings check then stops the stack naming it."""
    value = environ.get(FAULT_INJECTION_SETTING, "").strip()
    try:
        return bool(value) and TypeAdapter(bool).validate_python(value)
    except ValidationError:
        return False


def is_local_url(value: str | None) -> bool:
    return not value or "://127.0.0.1" in value or "://localhost" in value


def point_app_at_emulators(
    environ: MutableMapping[str, str],
    azurite: AzuriteProcess | None,
    emulator: EmulatorProcess | None,
) -> list[str]:
    """Replace settings that name the local emulators with the running ones' endpoints."""
    changed = []
    if azurite is not None:
        for name in STORAGE_SETTINGS:
            if is_local_storage(environ.get(name)):
                environ[name] = azurite.connection_string
                changed.append(name)
    if emulator is not None:
        if is_local_servicebus(environ.get(SERVICEBUS_SETTING)):
            environ[SERVICEBUS_SETTING] = emulator.connection_string
            changed.append(SERVICEBUS_SETTING)
        if is_local_url(environ.get(SERVICEBUS_ADMIN_SETTING)):
            environ[SERVICEBUS_ADMIN_SETTING] = emulator.admin_url
            changed.append(SERVICEBUS_ADMIN_SETTING)
    return changed


async def check_queues(admin_url: str, queues: set[str]) -> None:
    async with httpx.AsyncClient(timeout=5.0) as http:
        response = await http.get(f"{admin_url}/queues")
        response.raise_for_status()
        known = {str(q).lower() for q in response.json()}
    missing = sorted(q for q in queues if q.lower() not in known)
    if missing:
        raise StackError(
            f"the Service Bus emulator has no queue(s) {', '.join(missing)}: its queues are "
            "function_app/queues.json's, named by their app settings as the triggers are"
        )


def summary(stack: RunningStack, settings: LocalSettings) -> dict[str, Any]:
    assert stack.host is not None
    base = stack.host.info.base_url
    state: dict[str, Any] = {
        "baseUrl": base,
        "api": f"{base}/{stack.host.info.route_prefix}/v1",
        "demoPage": f"{base}/",
        "pid": os.getpid(),
        "settingsFile": str(settings.source) if settings.source else None,
        "blobEndpoint": None,
        "tableEndpoint": None,
        "serviceBusConnectionString": None,
        "serviceBusAdminUrl": None,
    }
    if stack.azurite is not None:
        state["blobEndpoint"] = stack.azurite.blob_endpoint
        state["tableEndpoint"] = stack.azurite.table_endpoint
        state["azuritePid"] = stack.azurite.pid
    if stack.emulator is not None:
        state["serviceBusConnectionString"] = stack.emulator.connection_string
        state["serviceBusAmqp"] = f"amqp://{stack.emulator.host}:{stack.emulator.port}"
        state["serviceBusAdminUrl"] = stack.emulator.admin_url
        state["serviceBusPid"] = stack.emulator.pid
        # ServiceBusAdministrationClient: HTTPS on the AMQP port, trusting this bundle
        state["serviceBusCaBundle"] = stack.emulator.client_env.get("REQUESTS_CA_BUNDLE")
    return state


def print_summary(state: dict[str, Any], host: FunctionsHost) -> None:
    lines = [
        "",
        "jobstream local stack is up (Ctrl-C stops it)",
        f"  API          {state['api']}",
        f"  Demo page    {state['demoPage']}",
        f"  Health       {state['api']}/health",
    ]
    if state["blobEndpoint"]:
        lines += [
            f"  Azurite blob {state['blobEndpoint']}",
            f"  Azurite table {state['tableEndpoint']}",
        ]
    if state.get("serviceBusAmqp"):
        lines += [f"  Service Bus  {state['serviceBusAmqp']} (admin {state['serviceBusAdminUrl']})"]
        if state.get("serviceBusCaBundle"):
            lines += [f"  SB mgmt CA   {state['serviceBusCaBundle']} (REQUESTS_CA_BUNDLE)"]
    lines.append(f"  Settings     {state['settingsFile'] or '(none: environment only)'}")
    lines.append("  Functions:")
    lines += [
        f"    {route}"
        for route in host.info.http_routes + host.info.queue_triggers + host.info.timer_triggers
    ]
    print("\n".join(lines), flush=True)


def upload_origins(host_port: int, api_origins: tuple[str, ...]) -> tuple[str, ...]:
    """The origins Azurite's blob CORS lets PUT an upload: the host's own (the demo page it
    serves uploads across origins, to Azurite's port) and every origin the API allows."""
    if "*" in api_origins:
        return ("*",)
    own = (f"http://localhost:{host_port}", f"http://127.0.0.1:{host_port}")
    return tuple(dict.fromkeys((*own, *api_origins)))


async def run_stack(options: StackOptions) -> None:
    settings = read_local_settings(options.root)
    settings.apply_to(os.environ)
    host_port = (
        options.port if options.port is not None else (settings.http_port or DEFAULT_HOST_PORT)
    )
    azurite_ports = (0, 0, 0) if options.any_free_ports else DEFAULT_AZURITE_PORTS
    bus_ports = (0, 0) if options.any_free_ports else DEFAULT_SERVICEBUS_PORTS
    wanted = {host_port: "Functions host"}
    if options.azurite:
        wanted.update(
            zip(azurite_ports, ("Azurite blob", "Azurite queue", "Azurite table"), strict=True)
        )
    if options.servicebus:
        wanted.update(zip(bus_ports, ("Service Bus AMQP", "Service Bus admin"), strict=True))
    require_free(wanted)
    cors_origins = settings.cors_origins if options.cors_origins is None else options.cors_origins

    stopping = asyncio.Event()
    stack = RunningStack()
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        stopping.set()
        if stack.host is not None:
            stack.host.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    logs = options.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        if options.azurite:
            stack.azurite = await asyncio.to_thread(
                start_azurite,
                options.data_dir / "azurite",
                HOST,
                *azurite_ports,
                in_memory=options.in_memory,
                log_path=logs / "azurite.log",
            )
            stack.stops.append(stack.azurite.stop)
        if options.servicebus and not stopping.is_set():
            try:
                config = write_emulator_config(
                    options.data_dir / SERVICEBUS_CONFIG_NAME,
                    base=options.root / "devstack" / "servicebus" / "config.json",
                    overrides=None
                    if options.lock_duration is None
                    else {"LockDuration": options.lock_duration},
                )
            except EmulatorQueuesError as exc:
                raise StackError(str(exc)) from None
            stack.emulator = await asyncio.to_thread(
                start_emulator,
                config,
                HOST,
                *bus_ports,
                log_path=logs / "servicebus.log",
                allow_faults=faults_allowed(os.environ),
                data_dir=None if options.in_memory else options.data_dir / "servicebus",
            )
            stack.stops.append(stack.emulator.stop)
        changed = point_app_at_emulators(os.environ, stack.azurite, stack.emulator)
        log.info("settings pointed at the local emulators: %s", ", ".join(changed) or "none")
        # The settings the app will run with are final now: build them once, before serving.
        check_app_settings(options.root)
        if stack.azurite is not None:
            app_settings = get_settings()  # the ones just checked (cached)
            await ensure_storage(
                stack.azurite.connection_string,
                app_settings.UPLOADS_CONTAINER,
                app_settings.JOBS_TABLE,
                upload_origins(host_port, cors_origins),
            )
        if stopping.is_set():
            return
        stack.host = FunctionsHost(
            options.root,
            port=host_port,
            web_root=options.root / "web",
            cors_origins=cors_origins,
            cors_credentials=settings.cors_credentials,
            access_log=options.access_log,
        )
        if stack.emulator is not None:
            await check_queues(
                stack.emulator.admin_url,
                {r.trigger.queue_name for r in stack.host.runners},
            )
        serving = asyncio.create_task(stack.host.serve())
        await stack.host.wait_started()
        state = summary(stack, settings)
        print_summary(state, stack.host)
        if options.state_file is not None:
            tmp = options.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
            tmp.replace(options.state_file)
        if stopping.is_set():
            stack.host.stop()
        await serving
    finally:
        if stack.host is not None:
            stack.host.stop()
        stack.stop_children()
        log.info("local stack stopped")
