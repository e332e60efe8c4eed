"""Topology from a JSON file in the official Service Bus emulator's ``Config.json`` format.

Only queues are supported. A bad file raises :class:`ConfigError` naming the offending field.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ISO_DURATION = re.compile(
    r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_TIMESPAN = re.compile(
    r"^(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2}):(?P<seconds>\d{1,2}(?:\.\d+)?)$"
)
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,259}$")

MAX_LOCK_DURATION_S = 300.0
_KNOWN_PROPERTIES = {
    "LockDuration",
    "MaxDeliveryCount",
    "DefaultMessageTimeToLive",
    "DeadLetteringOnMessageExpiration",
    "RequiresDuplicateDetection",
    "DuplicateDetectionHistoryTimeWindow",
    "RequiresSession",
    "ForwardTo",
    "ForwardDeadLetteredMessagesTo",
}


class ConfigError(ValueError):
    """The config file is unusable; the message names the field."""


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    lock_duration_s: float = 60.0
    max_delivery_count: int = 10
    default_ttl_s: float = 14 * 24 * 3600.0
    dead_letter_on_expiration: bool = False
    requires_duplicate_detection: bool = False
    duplicate_window_s: float = 600.0


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    namespace: str
    queues: tuple[QueueConfig, ...]


def parse_duration(value: object, field: str) -> float:
    """Seconds from an ISO 8601 duration (``PT1M``, ``P1D``) or a TimeSpan (``00:01:00``)."""
    if not isinstance(value, str):
        raise ConfigError(f"{field}: expected a duration string like 'PT1M', got {value!r}")
    match = _ISO_DURATION.match(value) or _TIMESPAN.match(value)
    if match is None or value in ("P", "PT"):
        raise ConfigError(f"{field}: {value!r} is not an ISO 8601 duration like 'PT1M' or 'P1D'")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    seconds = (
        parts.get("days", 0.0) * 86400
        + parts.get("hours", 0.0) * 3600
        + parts.get("minutes", 0.0) * 60
        + parts.get("seconds", 0.0)
    )
    if seconds <= 0:
        raise ConfigError(f"{field}: {value!r} must be longer than zero")
    return seconds


def _expect[T](value: object, kind: type[T], field: str) -> T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{field}: expected {kind.__name__}, got {value!r}")
    return value


def _queue(raw: object, field: str) -> QueueConfig:
    entry = _expect(raw, dict, field)
    name = _expect(entry.get("Name"), str, f"{field}.Name")
    if not _QUEUE_NAME.match(name) or "$" in name:
        raise ConfigError(f"{field}.Name: {name!r} is not a valid queue name")
    props: dict[str, Any] = _expect(entry.get("Properties", {}), dict, f"{field}.Properties")
    where = f"{field}.Properties"
    for key in props:
        if key not in _KNOWN_PROPERTIES:
            raise ConfigError(f"{where}.{key}: unknown queue property")
    for key in ("ForwardTo", "ForwardDeadLetteredMessagesTo"):
        if props.get(key):
            raise ConfigError(f"{where}.{key}: auto-forwarding is not supported by this emulator")
    if props.get("RequiresSession", False) is not False:
        raise ConfigError(f"{where}.RequiresSession: sessions are not supported by this emulator")
    defaults = QueueConfig(name=name)
    lock = defaults.lock_duration_s
    if "LockDuration" in props:
        lock = parse_duration(props["LockDuration"], f"{where}.LockDuration")
        if lock > MAX_LOCK_DURATION_S:
            raise ConfigError(f"{where}.LockDuration: at most PT5M, as in Azure")
    max_delivery = defaults.max_delivery_count
    if "MaxDeliveryCount" in props:
        max_delivery = _expect(props["MaxDeliveryCount"], int, f"{where}.MaxDeliveryCount")
        if max_delivery < 1:
            raise ConfigError(f"{where}.MaxDeliveryCount: must be at least 1")
    ttl = defaults.default_ttl_s
    if "DefaultMessageTimeToLive" in props:
        ttl = parse_duration(props["DefaultMessageTimeToLive"], f"{where}.DefaultMessageTimeToLive")
    window = defaults.duplicate_window_s
    if "DuplicateDetectionHistoryTimeWindow" in props:
        window = parse_duration(
            props["DuplicateDetectionHistoryTimeWindow"],
            f"{where}.DuplicateDetectionHistoryTimeWindow",
        )
    return QueueConfig(
        name=name,
        lock_duration_s=lock,
        max_delivery_count=max_delivery,
        default_ttl_s=ttl,
        dead_letter_on_expiration=_expect(
            props.get("DeadLetteringOnMessageExpiration", False),
            bool,
            f"{where}.DeadLetteringOnMessageExpiration",
        ),
        requires_duplicate_detection=_expect(
            props.get("RequiresDuplicateDetection", False),
            bool,
            f"{where}.RequiresDuplicateDetection",
        ),
        duplicate_window_s=window,
    )


def parse_config(document: object) -> EmulatorConfig:
    root = _expect(document, dict, "(root)")
    user = _expect(root.get("UserConfig"), dict, "UserConfig")
    namespaces = _expect(user.get("Namespaces"), list, "UserConfig.Namespaces")
    if len(namespaces) != 1:
        raise ConfigError("UserConfig.Namespaces: exactly one namespace is supported")
    ns = _expect(namespaces[0], dict, "UserConfig.Namespaces[0]")
    ns_name = _expect(ns.get("Name"), str, "UserConfig.Namespaces[0].Name")
    if ns.get("Topics"):
        raise ConfigError("UserConfig.Namespaces[0].Topics: topics are not supported, only queues")
    raw_queues = _expect(ns.get("Queues", []), list, "UserConfig.Namespaces[0].Queues")
    queues = tuple(
        _queue(q, f"UserConfig.Namespaces[0].Queues[{i}]") for i, q in enumerate(raw_queues)
    )
    seen: set[str] = set()
    for i, q in enumerate(queues):
        if q.name.lower() in seen:
            raise ConfigError(f"UserConfig.Namespaces[0].Queues[{i}].Name: duplicate {q.name!r}")
        seen.add(q.name.lower())
    return EmulatorConfig(namespace=ns_name, queues=queues)


def load_config(path: Path) -> EmulatorConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from exc
    return parse_config(document)
