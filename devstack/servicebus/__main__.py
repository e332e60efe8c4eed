"""``python -m devstack.servicebus --host 127.0.0.1 --port 5672 --admin-port 5673 --config PATH``

The AMQP port also serves the administration client's HTTPS (ATOM) with a local certificate made
in ``--tls-dir`` (default ``.devstack/servicebus-tls``; ``--no-tls``: AMQP only).

``--data-dir DIR`` keeps the queues in DIR/journal.jsonl across restarts (journal.py; without
it they are in memory); ``--fsync`` flushes each change to disk too. ``--allow-faults``
enables the admin endpoint's fault hook (tests only)."""

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from .config import ConfigError, load_config
from .journal import Journal
from .server import Emulator
from .tls import DEFAULT_TLS_DIR

DEFAULT_CONFIG = Path(__file__).with_name("config.json")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.servicebus",
        description="Local Azure Service Bus emulator (AMQP 1.0; the management API over HTTPS "
        "on the same port).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=5672, help="AMQP port (0 picks a free one)")
    parser.add_argument(
        "--admin-port", type=int, default=5673, help="admin HTTP port (0 picks a free one)"
    )
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="Config.json (official format)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the queues here across restarts (default: in memory)",
    )
    parser.add_argument(
        "--fsync",
        action="store_true",
        help="with --data-dir: flush every change to disk (survives a power cut, not only a kill)",
    )
    parser.add_argument(
        "--tls-dir",
        type=Path,
        default=DEFAULT_TLS_DIR,
        help="the local CA and certificate for HTTPS management on the AMQP port "
        "(made on first use; trust DIR/bundle.pem)",
    )
    parser.add_argument(
        "--no-tls", action="store_true", help="no HTTPS management on the AMQP port"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument(
        "--allow-faults",
        action="store_true",
        help="enable POST /faults/drop-connections on the admin port (for tests)",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    journal = Journal(args.data_dir, fsync=args.fsync) if args.data_dir is not None else None
    tls_dir = None if args.no_tls else args.tls_dir
    emulator = Emulator(config, allow_faults=args.allow_faults, journal=journal, tls_dir=tls_dir)
    port, admin_port = await emulator.start(args.host, args.port, args.admin_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    queues = ", ".join(q.name for q in config.queues) or "(none)"
    logger = logging.getLogger("devstack.servicebus")
    management = (
        f"; management (ServiceBusAdministrationClient) on https://{args.host}:{port}, "
        f"clients trust {emulator.tls_files.bundle}"
        if emulator.tls_files is not None
        else ""
    )
    logger.info("namespace %s with queues: %s%s", config.namespace, queues, management)
    if journal is not None:
        logger.info("queues kept in %s: %d messages restored", journal.path, emulator.restored)
    print(
        f"servicebus emulator listening on amqp://{args.host}:{port} "
        f"(admin http://{args.host}:{admin_port})",
        flush=True,
    )
    await stop.wait()
    await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s servicebus: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(_serve(args))
    except ConfigError as exc:
        print(f"servicebus emulator: bad config: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"servicebus emulator: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
