"""The Service Bus emulator's config for this app: its queues come from function_app/queues.json.

`devstack/servicebus/config.json` holds what is not the app's (the namespace, logging) in
Microsoft's Config.json format; `emulator_config` adds one queue per queue of the topology,
under the name its app setting gives it (what the triggers resolve `%SETTING%` to; the file's
name when the setting is unset) and with the file's properties. `python -m devstack` writes the
result under its workdir and starts the emulator with it; to run the emulator alone with the
app's queues:

    python -m devstack.emulator_queues .devstack/servicebus-config.json
    python -m devstack.servicebus --config .devstack/servicebus-config.json
"""

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from function_app.topology import TopologyError, topology

BASE_CONFIG = Path(__file__).resolve().parent / "servicebus" / "config.json"


class EmulatorQueuesError(ValueError):
    """The topology or a queue-name setting is unusable; the message names it."""


def emulator_config(
    environ: Mapping[str, str],
    base: Path = BASE_CONFIG,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`base` (its one namespace, logging, any queues of its own) plus the app's queues, named
    as the app settings in `environ` name them; `overrides`: queue properties to change (a
    test stack's shorter LockDuration)."""
    try:
        queues = topology()
        names = queues.names_in_use(environ.get)
    except TopologyError as exc:
        raise EmulatorQueuesError(str(exc)) from None
    except ValueError as exc:
        raise EmulatorQueuesError(f"invalid app settings: {exc}") from None
    document: dict[str, Any] = json.loads(base.read_text(encoding="utf-8"))
    (namespace,) = document["UserConfig"]["Namespaces"]
    properties = {**queues.queue_properties.as_service_bus(), **(overrides or {})}
    namespace["Queues"] = [
        *namespace.get("Queues", []),
        *({"Name": names[queue.name], "Properties": dict(properties)} for queue in queues.queues),
    ]
    return document


def write_emulator_config(
    path: Path,
    environ: Mapping[str, str] | None = None,
    base: Path = BASE_CONFIG,
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Write `emulator_config` (for `environ`, default the process's) to `path`; return it."""
    document = emulator_config(os.environ if environ is None else environ, base, overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.emulator_queues",
        description="Write the emulator's Config.json with the app's queues (queues.json).",
    )
    parser.add_argument("output", type=Path, help="where to write the config")
    args = parser.parse_args(argv)
    try:
        print(write_emulator_config(args.output))
    except EmulatorQueuesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
