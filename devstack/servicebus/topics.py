"""Topics: a message sent to a topic is copied to every subscription with a matching rule.

A subscription is a queue of its own (an ``Entity``: locks, delivery counts, TTL, sessions)
with its own dead-letter queue, addressed as ``topic/Subscriptions/name`` and
``topic/Subscriptions/name/$DeadLetterQueue``. The topic itself holds only scheduled
messages (``schedule_messages`` on a topic sender) until they are due, and the duplicate
detection window; its scheduled messages are journalled like a queue's (a message sent now
is copied at once and never stored in the topic).
"""

from dataclasses import dataclass, field
from typing import Any

from .codec import (
    PROPERTIES,
    IncomingMessage,
    decode_application_properties,
    decode_section_value,
    encode_application_properties,
)
from .rules.filters import Rule
from .rules.sql_filter import Properties
from .store import Entity, StoredMessage, carried, entity_class
from .topic_config import TopicConfig

# the properties section's fields, by position, as the filters name them
_SYSTEM_FIELDS = (
    (0, "message_id"),
    (2, "to"),
    (3, "subject"),
    (4, "reply_to"),
    (5, "correlation_id"),
    (6, "content_type"),
    (10, "session_id"),
    (12, "reply_to_session_id"),
)


def _plain(value: Any) -> Any:
    """AMQP values as the filters compare them: strings as str, ids as text."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if value is None:
        return None
    return str(value)


def message_properties(message: StoredMessage | IncomingMessage) -> Properties:
    """``sys.<field>`` and ``user.<name>`` for the filters (absent ones left out)."""
    out: Properties = {}
    fields = (
        decode_section_value(message.properties_raw, PROPERTIES) if message.properties_raw else None
    )
    if isinstance(fields, list):
        for index, name in _SYSTEM_FIELDS:
            if index < len(fields) and fields[index] is not None:
                out[f"sys.{name}"] = _plain(fields[index])
    for key, value in decode_application_properties(message.application_properties_raw).items():
        if value is not None:
            out[f"user.{_plain(key)}"] = _plain(value)
    return out


@dataclass(slots=True)
class Topic(Entity):
    """The topic: sends are matched against each subscription's rules and copied."""

    subscriptions: dict[str, Entity] = field(default_factory=dict)  # by lower-case name
    rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, config: TopicConfig) -> "Topic":
        topic = cls(name=config.name, config=config.queue, dead_letter=None)
        for sub in config.subscriptions:
            path = f"{config.name}/Subscriptions/{sub.name}"
            dlq = Entity(name=f"{path}/$DeadLetterQueue", config=sub.queue)
            topic.subscriptions[sub.name.lower()] = entity_class(sub.queue)(
                name=path, config=sub.queue, dead_letter=dlq
            )
            topic.rules[sub.name.lower()] = sub.rules
        return topic

    @property
    def is_dead_letter(self) -> bool:
        return False  # a topic has none; its scheduled messages still expire

    def subscription(self, name: str) -> Entity | None:
        return self.subscriptions.get(name.lower())

    def send(self, incoming: IncomingMessage, now: int, scheduled_ms: int | None = None) -> None:
        """Copied to the subscriptions now; a scheduled message is held (and journalled)
        until its time. A duplicate within the detection window is dropped."""
        if self._is_duplicate(incoming.message_id, now):
            return
        if scheduled_ms is not None and scheduled_ms > now:
            self._store(incoming, now, scheduled_ms)
            return
        message_id = incoming.message_id
        if self.journal is not None and self.config.requires_duplicate_detection and message_id:
            self.journal.remembered(self, message_id, now)  # not stored here: its id still is
        sequence_number = self._next_sequence
        self._next_sequence += 1
        self.fan_out(incoming, now, sequence_number)

    def _make_available(self, message: StoredMessage) -> None:
        """A scheduled message is due: copy it to the subscriptions."""
        if self.messages.pop(message.sequence_number, None) is not None and self.journal:
            self.journal.removed(self, message.sequence_number)
        self.fan_out(carried(message), message.enqueued_time_ms, message.sequence_number)

    def restore(self, now: int) -> int:
        """After the journal's replay (the subscriptions first): number on past every copy."""
        count = Entity.restore(self, now)
        for subscription in self.subscriptions.values():
            self.continue_sequence_from(subscription.next_sequence)
        return count

    def fan_out(self, message: IncomingMessage, now: int, sequence_number: int) -> int:
        """Copy to every subscription with a matching rule, each copy with the topic's
        sequence number; returns how many got it."""
        properties = message_properties(message)
        copies = 0
        for key, subscription in self.subscriptions.items():
            matched = [rule for rule in self.rules[key] if rule.matches(properties)]
            if not matched:
                continue
            application_raw = message.application_properties_raw
            actions = [rule.action for rule in matched if rule.action is not None]
            if actions:
                application = decode_application_properties(application_raw)
                for action in actions:
                    application = action.apply(application)
                application_raw = encode_application_properties(application)
            incoming = IncomingMessage(
                ttl_ms=message.ttl_ms,
                annotations=message.annotations,
                message_id=message.message_id,
                properties_raw=message.properties_raw,
                application_properties_raw=application_raw,
                body_raw=message.body_raw,
                hops=message.hops,
                encoded_annotations=message.encoded_annotations,
            )
            subscription.take_copy(incoming, now, sequence_number)
            copies += 1
        return copies

    def pump(self, now: int) -> None:
        for subscription in self.subscriptions.values():
            subscription.pump(now)

    def runtime(self) -> dict[str, int]:
        scheduled = len(self.messages)
        return {
            "activeMessageCount": 0,
            "deadLetterMessageCount": 0,
            "scheduledMessageCount": scheduled,
            "totalMessageCount": scheduled,
        }
