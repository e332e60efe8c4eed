"""Entities created, changed and deleted at run time (the administration client, admin_atom.py).

Every entity is described in the official ``Config.json`` shape (``{"Name", "Properties"}``,
topics with ``Subscriptions``, subscriptions with ``Rules``) and built by the same parsers as
the config file (config.py, topic_config.py), so an entity made at run time is validated and
behaves exactly like a configured one: its dead-letter queue, sessions, rules, journal.

With ``--data-dir`` the whole topology is written to ``DIR/topology.json`` after each change
(a temporary file renamed over it) and merged into the config on the next start, before the
journal is replayed, so a queue created at run time comes back with its messages. The config
file wins for the entities it names (its edits are never overridden by an old run's), so a
configured entity deleted at run time is there again after a restart.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config as c
from . import topic_config as tc
from .rules.filters import CorrelationFilter, Rule, SqlRule, TrueRule
from .store import Entity, entity_class

if TYPE_CHECKING:
    from .store import Namespace
    from .topics import Topic

TOPOLOGY_NAME = "topology.json"
TRUE_SQL = "1=1"
FALSE_SQL = "1=0"
# The correlation filter's fields as the management API names them (Label, not Subject):
# (XML / Config.json name, the filters' property key), from the config's own table.
CORRELATION_FIELDS = tuple(
    (name, key) for name, key in tc._CORRELATION_FIELDS.items() if name != "Subject"
)
_CORRELATION_NAMES = {key: name for name, key in CORRELATION_FIELDS}


class EntityNotFoundError(LookupError):
    """404: the queue, topic, subscription or rule does not exist."""


class EntityExistsError(ValueError):
    """409: an entity of that name exists already (queues and topics share one namespace)."""


class BadEntityError(ValueError):
    """400: the description cannot be served (the message says which field and why)."""


# ---- durations and descriptions --------------------------------------------------------------
def iso_duration(seconds: float) -> str:
    """``PT1M``, ``P14D``, ``PT0.5S``: what parse_duration reads back."""
    whole = int(seconds)
    fraction = seconds - whole
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"P{days}D" if days else "P"
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if secs or fraction:
        time += f"{secs + fraction:g}S" if fraction else f"{secs}S"
    if time:
        out += "T" + time
    return out if out != "P" else "PT0S"


def queue_properties(queue: c.QueueConfig) -> dict[str, Any]:
    """Config.json properties; the forwarding targets only when set (names, as Config.json)."""
    out: dict[str, Any] = {
        "LockDuration": iso_duration(queue.lock_duration_s),
        "MaxDeliveryCount": queue.max_delivery_count,
        "DefaultMessageTimeToLive": iso_duration(queue.default_ttl_s),
        "DeadLetteringOnMessageExpiration": queue.dead_letter_on_expiration,
        "RequiresDuplicateDetection": queue.requires_duplicate_detection,
        "DuplicateDetectionHistoryTimeWindow": iso_duration(queue.duplicate_window_s),
        "RequiresSession": queue.requires_session,
    }
    if queue.forward_to is not None:
        out["ForwardTo"] = queue.forward_to
    if queue.forward_dead_lettered_to is not None:
        out["ForwardDeadLetteredMessagesTo"] = queue.forward_dead_lettered_to
    return out


def topic_properties(queue: c.QueueConfig) -> dict[str, Any]:
    full = queue_properties(queue)
    return {k: full[k] for k in tc.TOPIC_PROPERTIES}


def subscription_properties(queue: c.QueueConfig) -> dict[str, Any]:
    full = queue_properties(queue)
    return {k: v for k, v in full.items() if k in tc.SUBSCRIPTION_PROPERTIES}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def substitute(text: str, parameters: dict[str, Any]) -> str:
    """``@name`` parameters of a SQL filter or action, outside string literals, as literals."""
    if not parameters:
        return text
    lowered = {
        k.lower() if k.startswith("@") else "@" + k.lower(): v for k, v in parameters.items()
    }
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            end = i + 1
            while end < n:
                if text[end] == "'" and (end + 1 >= n or text[end + 1] != "'"):
                    break
                end += 2 if text[end] == "'" else 1
            out.append(text[i : end + 1])
            i = end + 1
        elif ch == "@":
            end = i + 1
            while end < n and (text[end].isalnum() or text[end] == "_"):
                end += 1
            name = text[i:end].lower()
            if name not in lowered:
                raise BadEntityError(f"SQL parameter {text[i:end]!r} has no value")
            out.append(_literal(lowered[name]))
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ParameterizedSqlRule(SqlRule):
    """A SQL filter made with ``@name`` parameters: evaluated with them substituted, answered
    (get_rule) with its own text and parameters, as Azure keeps them."""

    parameters: dict[str, Any] = field(default_factory=dict)


def with_parameters(rule: Rule, original: str, parameters: dict[str, Any]) -> Rule:
    if not parameters or not isinstance(rule, SqlRule):
        return rule
    return ParameterizedSqlRule(rule.name, rule.action, original, rule.predicate, parameters)


def rule_definition(rule: Rule) -> dict[str, Any]:
    """A rule in Config.json's shape (a TrueRule as SQL ``1=1``, as Azure stores it)."""
    props: dict[str, Any]
    if isinstance(rule, CorrelationFilter):
        fields: dict[str, Any] = {}
        user: dict[str, Any] = {}
        for key, value in rule.wanted.items():
            if key.startswith("user."):
                user[key[len("user.") :]] = value
            else:
                fields[_CORRELATION_NAMES[key]] = value
        if user:
            fields["Properties"] = user
        props = {"FilterType": "Correlation", "CorrelationFilter": fields}
    else:
        text = rule.expression if isinstance(rule, SqlRule) else TRUE_SQL
        if isinstance(rule, ParameterizedSqlRule):  # kept substituted (Config.json has none)
            text = substitute(rule.expression, rule.parameters)
        props = {"FilterType": "Sql", "SqlFilter": {"SqlExpression": text}}
    if rule.action is not None:
        steps = [
            f"SET [{name}] = {_literal(value)}" if verb == "SET" else f"REMOVE [{name}]"
            for verb, name, value in rule.action.steps
        ]
        props["Action"] = {"SqlExpression": "; ".join(steps)}
    return {"Name": rule.name, "Properties": props}


def is_true_rule(rule: Rule) -> bool:
    return isinstance(rule, TrueRule) or (
        isinstance(rule, SqlRule) and rule.expression.replace(" ", "") == TRUE_SQL
    )


def is_false_rule(rule: Rule) -> bool:
    return isinstance(rule, SqlRule) and rule.expression.replace(" ", "") == FALSE_SQL


def _parse[T](parse: Callable[[dict[str, Any], str], T], raw: dict[str, Any], field: str) -> T:
    try:
        return parse(raw, field)
    except c.ConfigError as exc:
        raise BadEntityError(str(exc)) from exc


def parse_rule(raw: dict[str, Any]) -> Rule:
    name = raw.get("Name")
    if not isinstance(name, str) or not name or len(name) > tc.MAX_SUBSCRIPTION_NAME:
        raise BadEntityError(f"rule name: 1 to {tc.MAX_SUBSCRIPTION_NAME} characters")
    return _parse(tc._rule, raw, "RuleDescription")


# ---- the namespace, changed ------------------------------------------------------------------
class Entities:
    """Create, change and delete entities of one namespace; persist the topology."""

    def __init__(self, namespace: "Namespace", data_dir: Path | None = None) -> None:
        self.namespace = namespace
        self.data_dir = data_dir

    # lookups -----------------------------------------------------------------------------
    def queue(self, name: str) -> Entity:
        queue = self.namespace.queues.get(name.lower())
        if queue is None:
            raise EntityNotFoundError(f"queue {name!r} does not exist")
        return queue

    def topic(self, name: str) -> "Topic":
        topic = self.namespace.topics.get(name.lower())
        if topic is None:
            raise EntityNotFoundError(f"topic {name!r} does not exist")
        return topic

    def subscription(self, topic_name: str, name: str) -> tuple["Topic", Entity]:
        topic = self.topic(topic_name)
        subscription = topic.subscription(name)
        if subscription is None:
            raise EntityNotFoundError(f"subscription {topic_name}/{name} does not exist")
        return topic, subscription

    def rules(self, topic_name: str, subscription_name: str) -> tuple[Rule, ...]:
        topic, subscription = self.subscription(topic_name, subscription_name)
        return topic.rules[_key(subscription)]

    def rule(self, topic_name: str, subscription_name: str, name: str) -> Rule:
        for rule in self.rules(topic_name, subscription_name):
            if rule.name.lower() == name.lower():
                return rule
        raise EntityNotFoundError(f"rule {topic_name}/{subscription_name}/{name} does not exist")

    def _taken(self, name: str) -> bool:
        key = name.lower()
        return key in self.namespace.queues or key in self.namespace.topics

    # auto-forwarding -----------------------------------------------------------------------
    def _check_forwarding(self, own: str, config: c.QueueConfig, field: str) -> None:
        """The config's rules: each target a queue or topic of the namespace, not `own`."""
        targets = {*self.namespace.queues, *self.namespace.topics, own.lower()}
        try:
            c.check_forwarding([(field, own, config)], targets)
        except c.ConfigError as exc:
            raise BadEntityError(str(exc)) from exc

    def _wire(self, entity: Entity) -> None:
        """Forwarding on (or off) at once; what the entity holds already goes on too."""
        self.namespace.wire_forwarding(entity)
        now = self.namespace.clock()
        entity.forward_stored(now)
        if entity.dead_letter is not None:
            entity.dead_letter.forward_stored(now)

    def _refuse_if_forwarded_to(self, name: str, deleted: list[Entity]) -> None:
        """A target still named by another entity stays (its messages would have nowhere to
        go, and the topology could not be restored); Azure's answer is not documented."""
        gone = {id(e) for e in deleted}
        for entity in self.namespace.entities():
            if entity.is_dead_letter or id(entity) in gone:
                continue
            config = entity.config
            for target in (config.forward_to, config.forward_dead_lettered_to):
                if target is not None and target.lower() == name.lower():
                    raise BadEntityError(
                        f"{name!r} is the auto-forwarding destination of {entity.name!r}; "
                        "change or delete that entity first"
                    )

    # queues --------------------------------------------------------------------------------
    def put_queue(self, name: str, properties: dict[str, Any], *, update: bool) -> Entity:
        config = _parse(c._queue, {"Name": name, "Properties": properties}, "QueueDescription")
        if update:
            queue = self.queue(name)
            if config.requires_session != queue.config.requires_session:
                raise BadEntityError("RequiresSession cannot be changed on an existing queue")
            self._check_forwarding(queue.name, config, "QueueDescription")
            queue.config = config
            if queue.dead_letter is not None:
                queue.dead_letter.config = config
        else:
            if self._taken(name):
                raise EntityExistsError(f"an entity named {name!r} exists already")
            self._check_forwarding(config.name, config, "QueueDescription")
            dead_letter = Entity(name=f"{config.name}/$DeadLetterQueue", config=config)
            queue = entity_class(config)(name=config.name, config=config, dead_letter=dead_letter)
            self._journal(queue)
            self.namespace.queues[name.lower()] = queue
        self._wire(queue)
        self.save()
        return queue

    def delete_queue(self, name: str) -> list[Entity]:
        """Deleted: the queue and its dead-letter queue (the caller detaches their links)."""
        queue = self.queue(name)
        deleted = _with_dead_letter(queue)
        self._refuse_if_forwarded_to(queue.name, deleted)
        _detach_journal(queue)
        del self.namespace.queues[name.lower()]
        self._forget()
        return deleted

    # topics --------------------------------------------------------------------------------
    def put_topic(self, name: str, properties: dict[str, Any], *, update: bool) -> "Topic":
        from .topics import Topic  # here: topics builds on store, as this module does

        config = _parse(tc._topic, {"Name": name, "Properties": properties}, "TopicDescription")
        if update:
            topic = self.topic(name)
            topic.config = config.queue
        else:
            if self._taken(name):
                raise EntityExistsError(f"an entity named {name!r} exists already")
            topic = Topic.build(config)
            self._journal(topic)  # its scheduled messages and duplicate ids, as a configured one's
            self.namespace.topics[name.lower()] = topic
        self.save()
        return topic

    def delete_topic(self, name: str) -> list[Entity]:
        """Deleted: the topic, its subscriptions and their dead-letter queues."""
        topic = self.topic(name)
        deleted: list[Entity] = [topic]
        for subscription in topic.subscriptions.values():
            deleted += _with_dead_letter(subscription)
        self._refuse_if_forwarded_to(topic.name, deleted)
        _detach_journal(topic)
        for subscription in topic.subscriptions.values():
            _detach_journal(subscription)
        del self.namespace.topics[name.lower()]
        self._forget()
        return deleted

    # subscriptions -------------------------------------------------------------------------
    def put_subscription(
        self,
        topic_name: str,
        name: str,
        properties: dict[str, Any],
        *,
        update: bool,
        default_rule: Rule | None = None,
    ) -> Entity:
        topic = self.topic(topic_name)
        raw = {"Name": name, "Properties": properties}
        config = _parse(tc._subscription, raw, "SubscriptionDescription")
        existing = topic.subscription(name)
        if update:
            if existing is None:
                raise EntityNotFoundError(f"subscription {topic_name}/{name} does not exist")
            if config.queue.requires_session != existing.config.requires_session:
                raise BadEntityError("RequiresSession cannot be changed on a subscription")
            self._check_forwarding(existing.name, config.queue, "SubscriptionDescription")
            existing.config = config.queue
            if existing.dead_letter is not None:
                existing.dead_letter.config = config.queue
            self._wire(existing)
            self.save()
            return existing
        if existing is not None:
            raise EntityExistsError(f"subscription {topic_name}/{name} exists already")
        path = f"{topic.name}/Subscriptions/{config.name}"
        self._check_forwarding(path, config.queue, "SubscriptionDescription")
        dead_letter = Entity(name=f"{path}/$DeadLetterQueue", config=config.queue)
        subscription = entity_class(config.queue)(
            name=path, config=config.queue, dead_letter=dead_letter
        )
        self._journal(subscription)
        rules = (default_rule,) if default_rule is not None else config.rules
        topic.subscriptions[config.name.lower()] = subscription
        topic.rules[config.name.lower()] = rules
        self._wire(subscription)
        self.save()
        return subscription

    def delete_subscription(self, topic_name: str, name: str) -> list[Entity]:
        """Deleted: the subscription and its dead-letter queue."""
        topic, subscription = self.subscription(topic_name, name)
        _detach_journal(subscription)
        key = _key(subscription)
        del topic.subscriptions[key]
        del topic.rules[key]
        self._forget()
        return _with_dead_letter(subscription)

    # rules ---------------------------------------------------------------------------------
    def put_rule(
        self, topic_name: str, subscription_name: str, rule: Rule, *, update: bool
    ) -> Rule:
        topic, subscription = self.subscription(topic_name, subscription_name)
        key = _key(subscription)
        rules = list(topic.rules[key])
        index = next((i for i, r in enumerate(rules) if r.name.lower() == rule.name.lower()), None)
        if update:
            if index is None:
                raise EntityNotFoundError(f"rule {rule.name!r} does not exist")
            rules[index] = rule
        else:
            if index is not None:
                raise EntityExistsError(f"rule {rule.name!r} exists already")
            rules.append(rule)
        topic.rules[key] = tuple(rules)
        self.save()
        return rule

    def delete_rule(self, topic_name: str, subscription_name: str, name: str) -> None:
        topic, subscription = self.subscription(topic_name, subscription_name)
        key = _key(subscription)
        rules = topic.rules[key]
        kept = tuple(r for r in rules if r.name.lower() != name.lower())
        if len(kept) == len(rules):
            raise EntityNotFoundError(
                f"rule {topic_name}/{subscription_name}/{name} does not exist"
            )
        topic.rules[key] = kept  # no rule left: the subscription gets nothing, as in Azure
        self.save()

    # persistence ---------------------------------------------------------------------------
    def _journal(self, entity: Entity) -> None:
        journal = self.namespace.journal
        entity.journal = journal
        if entity.dead_letter is not None:
            entity.dead_letter.journal = journal

    def _forget(self) -> None:
        """After a delete: the journal rewritten without the entity's messages (a new entity of
        that name starts empty, also after a restart), then the topology."""
        if self.namespace.journal is not None:
            self.namespace.journal.compact(self.namespace)
        self.save()

    def topology(self) -> dict[str, Any]:
        """The namespace as a Config.json namespace (``Queues``, ``Topics``)."""
        queues = [
            {"Name": q.name, "Properties": queue_properties(q.config)}
            for q in self.namespace.queues.values()
        ]
        topics = []
        for topic in self.namespace.topics.values():
            subscriptions = [
                {
                    "Name": sub.name.rsplit("/", 1)[-1],
                    "Properties": subscription_properties(sub.config),
                    "Rules": [rule_definition(r) for r in topic.rules[key]],
                }
                for key, sub in topic.subscriptions.items()
            ]
            topics.append(
                {
                    "Name": topic.name,
                    "Properties": topic_properties(topic.config),
                    "Subscriptions": subscriptions,
                }
            )
        return {"Queues": queues, "Topics": topics}

    def save(self) -> None:
        if self.data_dir is None:
            return
        path = self.data_dir / TOPOLOGY_NAME
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.topology(), indent=1), encoding="utf-8")
        os.replace(temporary, path)


def _detach_journal(entity: Entity) -> None:
    """A deleted entity writes no more lines (a link still attached to it sends into nothing),
    so nothing of it can come back into a new entity of the same name."""
    entity.journal = None
    if entity.dead_letter is not None:
        entity.dead_letter.journal = None


def _with_dead_letter(entity: Entity) -> list[Entity]:
    return [entity] if entity.dead_letter is None else [entity, entity.dead_letter]


def _key(subscription: Entity) -> str:
    return subscription.name.rsplit("/", 1)[-1].lower()


def merge_saved(config: c.EmulatorConfig, data_dir: Path) -> c.EmulatorConfig:
    """The config plus the entities a previous run created (``topology.json``), the config's
    own entities as the config says. A subscription with no rule left is saved with none;
    Config.json would give it ``$Default``, so its rules are restored as saved."""
    path = data_dir / TOPOLOGY_NAME
    if not path.exists():
        return config
    saved = json.loads(path.read_text(encoding="utf-8"))
    taken = {q.name.lower() for q in config.queues} | {t.name.lower() for t in config.topics}
    queues = list(config.queues)
    for raw in saved.get("Queues", []):
        if raw["Name"].lower() not in taken:
            queues.append(c._queue(raw, "topology.json"))
    topics = list(config.topics)
    by_name = {t.name.lower(): i for i, t in enumerate(topics)}
    for raw in saved.get("Topics", []):
        name = raw["Name"].lower()
        subscriptions = [_saved_subscription(s) for s in raw.get("Subscriptions", [])]
        if name in by_name:  # configured: only the subscriptions the config does not name
            topic = topics[by_name[name]]
            have = {s.name.lower() for s in topic.subscriptions}
            extra = tuple(s for s in subscriptions if s.name.lower() not in have)
            topics[by_name[name]] = replace(topic, subscriptions=topic.subscriptions + extra)
        elif name not in taken:
            topic = tc._topic({"Name": raw["Name"], "Properties": raw["Properties"]}, "topology")
            topics.append(replace(topic, subscriptions=tuple(subscriptions)))
    _check_saved_forwarding(queues, topics, path)
    return replace(config, queues=tuple(queues), topics=tuple(topics))


def _check_saved_forwarding(
    queues: list[c.QueueConfig], topics: list[tc.TopicConfig], path: Path
) -> None:
    """A saved entity's forwarding target may have left the config since (ConfigError:
    exit 2 naming topology.json, rather than an entity forwarding to nothing)."""
    entries = [(f"{path}: Queues[{q.name}]", q.name, q) for q in queues]
    entries += [
        (f"{path}: Topics[{t.name}].Subscriptions[{s.name}]", f"{t.name}/{s.name}", s.queue)
        for t in topics
        for s in t.subscriptions
    ]
    targets = {q.name.lower() for q in queues} | {t.name.lower() for t in topics}
    c.check_forwarding(entries, targets)


def _saved_subscription(raw: dict[str, Any]) -> tc.SubscriptionConfig:
    rules = tuple(tc._rule(r, "topology.json") for r in raw.get("Rules", []))
    sub = tc._subscription({"Name": raw["Name"], "Properties": raw["Properties"]}, "topology")
    return replace(sub, rules=rules)
