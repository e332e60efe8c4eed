"""The parts of host.json the local host honours: HTTP route prefix and Service Bus options."""

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$")


class HostJsonError(ValueError):
    """host.json is missing or holds a value the host cannot use."""


@dataclass(frozen=True)
class ServiceBusOptions:
    max_concurrent_calls: int = 16
    auto_complete_messages: bool = True
    max_auto_lock_renewal: timedelta = timedelta(minutes=5)
    prefetch_count: int = 0


@dataclass(frozen=True)
class HostJson:
    route_prefix: str = "api"
    service_bus: ServiceBusOptions = ServiceBusOptions()


def parse_timespan(text: str) -> timedelta:
    """A .NET TimeSpan as host.json writes it: [d.]hh:mm:ss[.fff]."""
    match = _TIMESPAN.match(text.strip())
    if match is None:
        raise HostJsonError(f"not a timespan (expected hh:mm:ss): {text!r}")
    days, hours, minutes, seconds, fraction = match.groups()
    return timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds) + (float(f"0.{fraction}") if fraction else 0.0),
    )


def read_host_json(root: Path) -> HostJson:
    path = root / "host.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HostJsonError(f"{path} is missing: it marks the Functions app root") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise HostJsonError(f"{path}: {exc}") from None
    extensions = document.get("extensions") or {}
    http = extensions.get("http") or {}
    bus = extensions.get("serviceBus") or {}
    defaults = ServiceBusOptions()
    try:
        options = ServiceBusOptions(
            max_concurrent_calls=int(bus.get("maxConcurrentCalls", defaults.max_concurrent_calls)),
            auto_complete_messages=bool(
                bus.get("autoCompleteMessages", defaults.auto_complete_messages)
            ),
            max_auto_lock_renewal=parse_timespan(bus["maxAutoLockRenewalDuration"])
            if "maxAutoLockRenewalDuration" in bus
            else defaults.max_auto_lock_renewal,
            prefetch_count=int(bus.get("prefetchCount", defaults.prefetch_count)),
        )
    except (TypeError, ValueError) as exc:
        raise HostJsonError(f"{path}: extensions.serviceBus: {exc}") from None
    if options.max_concurrent_calls < 1 or options.prefetch_count < 0:
        raise HostJsonError(f"{path}: maxConcurrentCalls must be >= 1 and prefetchCount >= 0")
    prefix = str(http.get("routePrefix", "api")).strip("/")
    return HostJson(route_prefix=prefix, service_bus=options)
