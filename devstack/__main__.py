"""`python -m devstack`: the whole local stack (see devstack/stack.py). `make run` calls it."""

import argparse
import asyncio
import sys
from pathlib import Path

from devstack.azurite import AzuriteError
from devstack.host.__main__ import configure_logging
from devstack.host.host_json import HostJsonError
from devstack.host.loader import AppLoadError, AppSettingsError
from devstack.host.server import PortInUseError
from devstack.host.servicebus_trigger import TriggerConfigError
from devstack.local_settings import LocalSettingsError, parse_origins
from devstack.servicebus.launcher import EmulatorStartError
from devstack.stack import REPO_ROOT, StackError, StackOptions, run_stack


def parse_args(argv: list[str]) -> StackOptions:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Start Azurite, the Service Bus emulator and the Functions host.",
    )
    parser.add_argument("--port", type=int, default=None, help="host HTTP port (default 7071)")
    parser.add_argument(
        "--in-memory",
        action="store_true",
        help="Azurite and the Service Bus emulator keep nothing on disk",
    )
    parser.add_argument(
        "--no-azurite", action="store_true", help="use the storage settings as given (real Azure)"
    )
    parser.add_argument(
        "--no-servicebus",
        action="store_true",
        help="use ServiceBusConnection as is",
    )
    parser.add_argument(
        "--any-free-ports", action="store_true", help="Azurite and the emulator on any free ports"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="state and logs (.devstack)")
    parser.add_argument(
        "--state-file", type=Path, default=None, help="write the URLs as JSON when ready"
    )
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    parser.add_argument(
        "--cors",
        default=None,
        metavar="ORIGINS",
        help="comma-separated origins the API and blob CORS allow, or '*' (like func start "
        "--cors); default: local.settings.json's Host.CORS",
    )
    parser.add_argument(
        "--lock-duration",
        default=None,
        metavar="ISO8601",
        help="the emulator queues' LockDuration instead of function_app/queues.json's (tests)",
    )
    args = parser.parse_args(argv)
    return StackOptions(
        root=REPO_ROOT,
        port=args.port,
        in_memory=args.in_memory,
        azurite=not args.no_azurite,
        servicebus=not args.no_servicebus,
        any_free_ports=args.any_free_ports,
        workdir=args.workdir,
        state_file=args.state_file,
        access_log=args.access_log,
        lock_duration=args.lock_duration,
        cors_origins=None if args.cors is None else parse_origins(args.cors),
    )


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    options = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(run_stack(options))
    except (
        StackError,
        PortInUseError,
        AppSettingsError,
        AppLoadError,
        HostJsonError,
        LocalSettingsError,
        TriggerConfigError,
        AzuriteError,
        EmulatorStartError,
    ) as exc:
        print(f"devstack: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
