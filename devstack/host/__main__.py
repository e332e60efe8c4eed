"""`python -m devstack.host`: run only the local Functions host (Azure or emulators set up
elsewhere). Reads local.settings.json into the environment first, as Core Tools does, then
builds the app's settings once: a bad one stops it (exit 2) with one line naming it."""

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from devstack.host.host_json import HostJsonError
from devstack.host.loader import (
    DEFAULT_SETTINGS_CHECK,
    AppLoadError,
    AppSettingsError,
    check_app_settings,
)
from devstack.host.server import FunctionsHost, PortInUseError
from devstack.host.servicebus_trigger import TriggerConfigError
from devstack.local_settings import LocalSettingsError, load_into_environ

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """Ours at INFO; the Azure SDKs (which log every AMQP retry at INFO) at WARNING."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("azure").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.host", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the app root (host.json)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default 7071)")
    parser.add_argument("--web-root", type=Path, default=None, help="static files served at /")
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    parser.add_argument(
        "--settings-check",
        default=DEFAULT_SETTINGS_CHECK,
        metavar="MODULE:FUNCTION",
        help="the app's settings builder, called once before serving "
        f"(default {DEFAULT_SETTINGS_CHECK}; skipped if the app has no such module)",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    root: Path = args.root.resolve()
    settings = load_into_environ(root)
    check_app_settings(root, args.settings_check)
    port = args.port if args.port is not None else (settings.http_port or 7071)
    host = FunctionsHost(
        root,
        port=port,
        web_root=args.web_root,
        cors_origins=settings.cors_origins,
        cors_credentials=settings.cors_credentials,
        access_log=args.access_log,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, host.stop)
    serving = asyncio.create_task(host.serve())
    await host.wait_started()
    print(f"Functions host listening on {host.info.base_url}", flush=True)
    for line in host.info.http_routes + host.info.queue_triggers + host.info.timer_triggers:
        print(f"  {line}", flush=True)
    await serving


# Start-up problems the user can fix: one line on stderr, exit 2, no traceback.
STARTUP_ERRORS = (
    AppSettingsError,
    AppLoadError,
    HostJsonError,
    LocalSettingsError,
    PortInUseError,
    TriggerConfigError,
)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(run(args))
    except STARTUP_ERRORS as exc:
        print(f"devstack.host: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
