"""Topology from a JSON file in the official Service Bus emulator's ``Config.json`` format.

Queues here; topics, subscriptions and rules in ``topic_config.py``. A bad file raises
:class:`ConfigError` naming the offending field.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .topic_config import TopicConfig

_ISO_DURATION = re.compile(
    r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_TIMESPAN = re.compile(
    r"^(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2}):(?P<seconds>\d{1,2}(?:\.\d+)?)$"
)
# Azure: letters, digits, '.', '-', '_' (and '/' as a path separator, which the emulator
# cannot serve), starting and ending with a letter or digit, at most 260 characters.
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._\-]*[A-Za-z0-9])?$", re.ASCII)
MAX_QUEUE_NAME = 260
_USER_CONFIG_KEYS = {"Namespaces", "Logging"}
_LOGGING_TYPES = {"Console", "File"}

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
    requires_session: bool = False
    # auto-forwarding: the name of a queue or topic of the namespace (None: off)
    forward_to: str | None = None
    forward_dead_lettered_to: str | None = None


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    namespace: str
    queues: tuple[QueueConfig, ...]
    topics: "tuple[TopicConfig, ...]" = ()


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


ROOT = "(root)"
_KIND_NAMES: dict[type, str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    bool: "true or false",
}


def _expect[T](value: object, kind: type[T], field: str) -> T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        wanted = _KIND_NAMES.get(kind, kind.__name__)
        raise ConfigError(f"{field}: expected {wanted}, got {_json_type(value)} {value!r}")
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _path(field: str, key: str) -> str:
    return key if field == ROOT else f"{field}.{key}"


def _require[T](entry: dict[str, Any], key: str, kind: type[T], field: str) -> T:
    if key not in entry:
        wanted = _KIND_NAMES.get(kind, kind.__name__)
        raise ConfigError(f"{_path(field, key)}: missing (expected {wanted})")
    return _expect(entry[key], kind, _path(field, key))


def _object(value: object, known: set[str], field: str) -> dict[str, Any]:
    """A JSON object whose keys are all known; an unknown key is refused by its path."""
    entry: dict[str, Any] = _expect(value, dict, field)
    for key in entry:
        if key not in known:
            raise ConfigError(
                f"{_path(field, str(key))}: unknown field (known: {', '.join(sorted(known))})"
            )
    return entry


def _queue_name(entry: dict[str, Any], field: str) -> str:
    name = _require(entry, "Name", str, field)
    where = f"{field}.Name"
    if not name:
        raise ConfigError(f"{where}: empty; a queue needs a name")
    if "/" in name:
        raise ConfigError(
            f"{where}: {name!r} contains '/', which Azure reads as a path separator; this "
            "emulator serves only plain names (letters, digits, '.', '-' and '_')"
        )
    if len(name) > MAX_QUEUE_NAME:
        raise ConfigError(f"{where}: {name!r} is longer than {MAX_QUEUE_NAME} characters")
    if not _QUEUE_NAME.match(name):
        raise ConfigError(
            f"{where}: {name!r} is not a valid queue name: only letters, digits, '.', '-' and "
            "'_', starting and ending with a letter or digit"
        )
    return name


def _queue(raw: object, field: str) -> QueueConfig:
    entry = _object(raw, {"Name", "Properties"}, field)
    name = _queue_name(entry, field)
    props = _object(entry.get("Properties", {}), _KNOWN_PROPERTIES, f"{field}.Properties")
    where = f"{field}.Properties"
    forward_to = _forward_name(props, "ForwardTo", where)
    forward_dead_lettered_to = _forward_name(props, "ForwardDeadLetteredMessagesTo", where)
    requires_session = _expect(
        props.get("RequiresSession", False), bool, f"{where}.RequiresSession"
    )
    if requires_session and forward_to is not None:
        raise ConfigError(
            f"{where}.ForwardTo: auto-forwarding cannot be enabled on an entity that requires "
            "sessions, as in Azure"
        )
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
        requires_session=requires_session,
        forward_to=forward_to,
        forward_dead_lettered_to=forward_dead_lettered_to,
    )


def _forward_name(props: dict[str, Any], key: str, where: str) -> str | None:
    """A forwarding target's name; null or "" (as the official Config.json writes it): off."""
    value = props.get(key)
    if value is None:
        return None
    name = _expect(value, str, f"{where}.{key}")
    return name or None


def check_forwarding(entries: list[tuple[str, str, QueueConfig]], targets: set[str]) -> None:
    """Each forwarding target must be a queue or topic of the namespace (names compared
    case-insensitively) and not the entity itself. `entries`: (field, own name, config).
    Longer cycles are allowed, as in Azure: a message is dead-lettered with
    ``MaxTransferHopCountExceeded`` after 4 hops."""
    for field, own, queue in entries:
        for key, target in (
            ("ForwardTo", queue.forward_to),
            ("ForwardDeadLetteredMessagesTo", queue.forward_dead_lettered_to),
        ):
            if target is None:
                continue
            where = f"{field}.Properties.{key}"
            if target.lower() not in targets:
                raise ConfigError(
                    f"{where}: {target!r} is not a queue or topic of this namespace (the "
                    "auto-forwarding destination entity must exist)"
                )
            if target.lower() == own.lower():
                raise ConfigError(f"{where}: {target!r} forwards to itself")


def _logging(raw: object, field: str) -> None:
    entry = _object(raw, {"Type"}, field)
    if "Type" in entry and entry["Type"] not in _LOGGING_TYPES:
        raise ConfigError(
            f"{field}.Type: expected one of {', '.join(sorted(_LOGGING_TYPES))}, "
            f"got {entry['Type']!r}"
        )


def parse_config(document: object) -> EmulatorConfig:
    root = _object(document, {"UserConfig"}, ROOT)
    user = _object(_require(root, "UserConfig", dict, ROOT), _USER_CONFIG_KEYS, "UserConfig")
    if "Logging" in user:
        _logging(user["Logging"], "UserConfig.Logging")
    namespaces = _require(user, "Namespaces", list, "UserConfig")
    if len(namespaces) != 1:
        raise ConfigError(
            f"UserConfig.Namespaces: exactly one namespace is supported, got {len(namespaces)}"
        )
    where = "UserConfig.Namespaces[0]"
    ns = _object(namespaces[0], {"Name", "Queues", "Topics"}, where)
    ns_name = _require(ns, "Name", str, where)
    if not ns_name:
        raise ConfigError(f"{where}.Name: empty; the namespace needs a name")
    from .topic_config import parse_topics  # here: topic_config builds on this module

    topics = parse_topics(ns.get("Topics", []), f"{where}.Topics")
    raw_queues = _require(ns, "Queues", list, where)
    queues = tuple(_queue(q, f"{where}.Queues[{i}]") for i, q in enumerate(raw_queues))
    seen: set[str] = set()
    for i, q in enumerate(queues):
        if q.name.lower() in seen:
            raise ConfigError(
                f"{where}.Queues[{i}].Name: duplicate {q.name!r} (names are case-insensitive)"
            )
        seen.add(q.name.lower())
    for i, t in enumerate(topics):
        if t.name.lower() in seen:
            raise ConfigError(
                f"{where}.Topics[{i}].Name: {t.name!r} is already a queue or topic "
                "(names are case-insensitive)"
            )
        seen.add(t.name.lower())
    entries = [(f"{where}.Queues[{i}]", q.name, q) for i, q in enumerate(queues)]
    for i, t in enumerate(topics):
        entries += [
            (f"{where}.Topics[{i}].Subscriptions[{j}]", f"{t.name}/Subscriptions/{s.name}", s.queue)
            for j, s in enumerate(t.subscriptions)
        ]
    check_forwarding(entries, seen)
    return EmulatorConfig(namespace=ns_name, queues=queues, topics=topics)


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
