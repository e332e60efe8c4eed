"""Topics, subscriptions and rules in the official emulator's ``Config.json`` shape:
``Topics[].Subscriptions[].Rules[]``. A bad entry raises ``ConfigError`` naming the field."""

from dataclasses import dataclass
from typing import Any

from . import config as c
from .rules.filters import CorrelationFilter, Rule, SqlRule, TrueRule
from .rules.sql_filter import SqlError, compile_action, compile_filter

MAX_SUBSCRIPTION_NAME = 50
TOPIC_PROPERTIES = {
    "DefaultMessageTimeToLive",
    "RequiresDuplicateDetection",
    "DuplicateDetectionHistoryTimeWindow",
}
SUBSCRIPTION_PROPERTIES = {
    "LockDuration",
    "MaxDeliveryCount",
    "DefaultMessageTimeToLive",
    "DeadLetteringOnMessageExpiration",
    "RequiresSession",
    "ForwardTo",
    "ForwardDeadLetteredMessagesTo",
}
_CORRELATION_FIELDS = {
    "CorrelationId": "sys.correlation_id",
    "MessageId": "sys.message_id",
    "To": "sys.to",
    "ReplyTo": "sys.reply_to",
    "Label": "sys.subject",
    "Subject": "sys.subject",
    "SessionId": "sys.session_id",
    "ReplyToSessionId": "sys.reply_to_session_id",
    "ContentType": "sys.content_type",
}


@dataclass(frozen=True, slots=True)
class SubscriptionConfig:
    name: str
    queue: c.QueueConfig  # lock, delivery count, TTL, sessions: as a queue's
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class TopicConfig:
    name: str
    queue: c.QueueConfig  # TTL and duplicate detection, held by the topic
    subscriptions: tuple[SubscriptionConfig, ...]


def _rule(raw: object, field: str) -> Rule:
    entry = c._object(raw, {"Name", "Properties"}, field)
    name = c._require(entry, "Name", str, field)
    where = f"{field}.Properties"
    props = c._object(
        c._require(entry, "Properties", dict, field),
        {"FilterType", "SqlFilter", "CorrelationFilter", "Action"},
        where,
    )
    kind = c._require(props, "FilterType", str, where)
    action = None
    if "Action" in props:
        raw_action = c._object(props["Action"], {"SqlExpression"}, f"{where}.Action")
        text = c._require(raw_action, "SqlExpression", str, f"{where}.Action")
        try:
            action = compile_action(text)
        except SqlError as exc:
            raise c.ConfigError(f"{where}.Action.SqlExpression: {exc}") from exc
    if kind == "Sql":
        sql = c._object(
            c._require(props, "SqlFilter", dict, where), {"SqlExpression"}, f"{where}.SqlFilter"
        )
        text = c._require(sql, "SqlExpression", str, f"{where}.SqlFilter")
        try:
            return SqlRule(name, action, text, compile_filter(text))
        except SqlError as exc:
            raise c.ConfigError(f"{where}.SqlFilter.SqlExpression: {exc}") from exc
    if kind == "Correlation":
        raw_filter = c._object(
            c._require(props, "CorrelationFilter", dict, where),
            {*_CORRELATION_FIELDS, "Properties"},
            f"{where}.CorrelationFilter",
        )
        wanted: dict[str, Any] = {}
        for key, value in raw_filter.items():
            if key == "Properties":
                user = c._expect(value, dict, f"{where}.CorrelationFilter.Properties")
                wanted.update({f"user.{k}": v for k, v in user.items()})
            elif value not in (None, ""):
                wanted[_CORRELATION_FIELDS[key]] = c._expect(
                    value, str, f"{where}.CorrelationFilter.{key}"
                )
        if not wanted:
            raise c.ConfigError(f"{where}.CorrelationFilter: needs at least one property")
        return CorrelationFilter(name, action, wanted)
    raise c.ConfigError(f"{where}.FilterType: expected Sql or Correlation, got {kind!r}")


def _subscription(raw: object, field: str) -> SubscriptionConfig:
    entry = c._object(raw, {"Name", "Properties", "Rules"}, field)
    name = c._queue_name({"Name": entry.get("Name")} if "Name" in entry else {}, field)
    if len(name) > MAX_SUBSCRIPTION_NAME:
        raise c.ConfigError(f"{field}.Name: longer than {MAX_SUBSCRIPTION_NAME} characters")
    props = c._object(entry.get("Properties", {}), SUBSCRIPTION_PROPERTIES, f"{field}.Properties")
    queue = c._queue({"Name": name, "Properties": props}, field)
    raw_rules = c._expect(entry.get("Rules", []), list, f"{field}.Rules")
    rules = tuple(_rule(r, f"{field}.Rules[{i}]") for i, r in enumerate(raw_rules))
    return SubscriptionConfig(name=name, queue=queue, rules=rules or (TrueRule("$Default", None),))


def _topic(raw: object, field: str) -> TopicConfig:
    entry = c._object(raw, {"Name", "Properties", "Subscriptions"}, field)
    name = c._queue_name(entry, field)
    props = c._object(entry.get("Properties", {}), TOPIC_PROPERTIES, f"{field}.Properties")
    queue = c._queue({"Name": name, "Properties": props}, field)
    raw_subs = c._expect(entry.get("Subscriptions", []), list, f"{field}.Subscriptions")
    subs = tuple(_subscription(s, f"{field}.Subscriptions[{i}]") for i, s in enumerate(raw_subs))
    seen: set[str] = set()
    for i, sub in enumerate(subs):
        if sub.name.lower() in seen:
            raise c.ConfigError(f"{field}.Subscriptions[{i}].Name: duplicate {sub.name!r}")
        seen.add(sub.name.lower())
    return TopicConfig(name=name, queue=queue, subscriptions=subs)


def parse_topics(raw: object, field: str) -> tuple[TopicConfig, ...]:
    entries = c._expect(raw, list, field)
    return tuple(_topic(t, f"{field}[{i}]") for i, t in enumerate(entries))
