"""The emulator's persistence: an append-only journal of every change to the stored messages,
replayed when the emulator starts (``--data-dir``).

Each change is one JSON line. The lines of the changes one batch of input made (the frames
of one socket read, or one clock tick) are written together, with one ``os.write`` on an
``O_APPEND`` descriptor, by ``write_pending``, which the AMQP layer calls before it writes
anything to any socket: no send is acknowledged, no settlement confirmed and no delivery
handed out before its line is written. The line is then in the kernel: it survives the
emulator being killed (``kill -9``) though not a power cut; ``fsync=True`` (``--fsync``) also
survives that, at the cost of a disk flush per batch (before the answers of that batch).

Records (``t``): ``s`` a message stored (all its fields); ``r`` removed (completed,
received-and-deleted, expired without dead-lettering, a cancelled schedule); ``m`` moved to
the dead-letter queue (with its new application properties); ``c`` its delivery count;
``d`` deferred; ``ss`` a session's state set (``v``, null when cleared) at ``u``; ``i`` a
message id the duplicate detection remembers (written by compaction, and for each message a
topic with duplicate detection copies on at once) and ``n`` the next sequence number
(written by compaction), for what no stored message says. A topic's other records are its
scheduled messages (stored, then removed when due or cancelled).
Locks are not kept: a message locked when the emulator stopped is available again after it
starts, its delivery count as recorded.

On start the journal is replayed (a torn last line, from a kill mid-write, is skipped) and
rewritten compactly (a temporary file, flushed, then renamed over the journal); it is
compacted again whenever it grows past ``COMPACT_BYTES`` and four times its live size.
"""

import base64
import binascii
import json
import logging
import os
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .delivery import client_annotations
from .sessions import SessionEntity
from .store import MessageState, StoredMessage

if TYPE_CHECKING:
    from .store import Entity, Namespace

log = logging.getLogger("devstack.servicebus.journal")

JOURNAL_NAME = "journal.jsonl"
COMPACT_BYTES = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def _json(value: str | int | None) -> str:
    """One JSON value of a record line: null, an integer or a string."""
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(int(value))
    return encode_basestring_ascii(str(value))  # what json.dumps does with a string


class Journal:
    def __init__(self, data_dir: Path, *, fsync: bool = False) -> None:
        self.path = data_dir / JOURNAL_NAME
        self._fsync = fsync
        self._fd: int | None = None
        self.bytes_written = 0
        self._live_bytes = 0
        self._pending: list[bytes] = []  # lines not written yet: see write_pending
        self._names: dict[str, str] = {}  # entity name -> as a JSON string
        data_dir.mkdir(parents=True, exist_ok=True)

    # ---- start ---------------------------------------------------------------------------
    def open(self, namespace: "Namespace") -> int:
        """Replay the journal into `namespace`, rewrite it compactly and start appending.
        Returns how many messages were restored."""
        restored = 0
        if self.path.exists():
            restored = self._replay(namespace)
            now = namespace.clock()
            for entity in namespace.journalled():  # the config gained a ForwardTo since
                entity.forward_stored(now)
        for entity in namespace.journalled():
            entity.journal = self
        namespace.journal = self
        self.compact(namespace)
        return restored

    def _lines(self) -> Iterator[dict[str, Any]]:
        with self.path.open("rb") as file:
            for number, raw in enumerate(file, start=1):
                if not raw.endswith(b"\n"):
                    log.warning("journal line %d is incomplete (a kill mid-write): skipped", number)
                    return
                try:
                    yield json.loads(raw)
                except ValueError:
                    log.warning("journal line %d is not JSON: skipped", number)

    def _replay(self, namespace: "Namespace") -> int:
        entities = {e.name: e for e in namespace.journalled()}
        remembered: list[tuple[Entity, str, int]] = []
        for record in self._lines():
            entity = entities.get(record.get("e", ""))
            if entity is None:
                continue  # a queue no longer in the config
            kind = record["t"]
            seq = int(record.get("q") or 0)
            if kind == "s":
                entity.messages[seq] = StoredMessage(
                    sequence_number=seq,
                    message_id=record["id"],
                    ttl_ms=record["ttl"],
                    annotations={},
                    properties_raw=_unb64(record["p"]),
                    application_properties_raw=_unb64(record["ap"]),
                    body_raw=_unb64(record["b"]),
                    enqueued_time_ms=record["et"],
                    expires_at_ms=record["x"],
                    state=MessageState(record["st"]),
                    scheduled_ms=record["sch"],
                    delivery_count=record["dc"],
                    dead_letter_source=record["dl"],
                    # The client's annotations as they were encoded (AMQP types kept).
                    encoded_annotations=(_unb64(record["a"]), record["an"]),
                )
                if record["id"] is not None and not entity.is_dead_letter:
                    remembered.append((entity, record["id"], record["et"]))
                # numbers go on past it, also when it was settled since (no compaction yet)
                entity.continue_sequence_from(seq + 1)
            elif kind == "r":
                entity.messages.pop(seq, None)
            elif kind == "m":
                message = entity.messages.pop(seq, None)
                target = entities.get(record["to"])
                if message is not None and target is not None:
                    message.application_properties_raw = _unb64(record["ap"])
                    message.dead_letter_source = entity.name
                    message.state = MessageState.ACTIVE
                    target.messages[seq] = message
            elif kind == "c":
                message = entity.messages.get(seq)
                if message is not None:
                    message.delivery_count = record["dc"]
            elif kind == "d":
                message = entity.messages.get(seq)
                if message is not None:
                    message.state = MessageState.DEFERRED
            elif kind == "i":
                remembered.append((entity, record["id"], record["et"]))
            elif kind == "n":
                entity.continue_sequence_from(record["q"])
            elif kind == "ss" and isinstance(entity, SessionEntity):
                state = record["v"]
                entity.restore_state(
                    str(record["sid"]), None if state is None else _unb64(state), int(record["u"])
                )
        now = namespace.clock()
        for entity, message_id, enqueued in remembered:
            entity.remember_id(message_id, enqueued, now)
        count = 0
        for entity in entities.values():
            count += entity.restore(now)
        return count

    # ---- changes -------------------------------------------------------------------------
    def _append(self, line: bytes) -> None:
        if self._fd is not None:
            self._pending.append(line)

    def write_pending(self) -> None:
        """Write the lines of the changes made since the last call: one write (and with
        ``fsync``, one flush to disk). Called before anything goes out on a socket."""
        if not self._pending or self._fd is None:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        if self._fsync:
            os.fsync(self._fd)
        self.bytes_written += len(data)

    def _name(self, entity: "Entity") -> str:
        name = self._names.get(entity.name)
        if name is None:
            name = self._names[entity.name] = _json(entity.name)
        return name

    def _message_record(self, entity: "Entity", message: StoredMessage) -> dict[str, Any]:
        annotations, annotation_count = client_annotations(message)
        return {
            "t": "s",
            "e": entity.name,
            "q": message.sequence_number,
            "id": message.message_id,
            "ttl": message.ttl_ms,
            "a": _b64(annotations),
            "an": annotation_count,
            "p": _b64(message.properties_raw),
            "ap": _b64(message.application_properties_raw),
            "b": _b64(message.body_raw),
            "et": message.enqueued_time_ms,
            "x": message.expires_at_ms,
            # A locked message comes back available (locks are not kept).
            "st": int(
                MessageState.ACTIVE if message.state is MessageState.LOCKED else message.state
            ),
            "sch": message.scheduled_ms,
            "dc": message.delivery_count,
            "dl": message.dead_letter_source,
        }

    def _message_line(self, entity: "Entity", message: StoredMessage) -> bytes:
        """``_message_record`` as its JSON line, written out by hand: once per message sent."""
        annotations, annotation_count = client_annotations(message)
        state = MessageState.ACTIVE if message.state is MessageState.LOCKED else message.state
        return (
            f'{{"t":"s","e":{self._name(entity)},"q":{message.sequence_number},'
            f'"id":{_json(message.message_id)},"ttl":{_json(message.ttl_ms)},'
            f'"a":"{_b64(annotations)}","an":{annotation_count},'
            f'"p":"{_b64(message.properties_raw)}",'
            f'"ap":"{_b64(message.application_properties_raw)}",'
            f'"b":"{_b64(message.body_raw)}","et":{message.enqueued_time_ms},'
            f'"x":{message.expires_at_ms},"st":{int(state)},"sch":{_json(message.scheduled_ms)},'
            f'"dc":{message.delivery_count},"dl":{_json(message.dead_letter_source)}}}\n'
        ).encode("ascii")

    def stored(self, entity: "Entity", message: StoredMessage) -> None:
        self._append(self._message_line(entity, message))

    def removed(self, entity: "Entity", sequence_number: int) -> None:
        self._append(f'{{"t":"r","e":{self._name(entity)},"q":{sequence_number}}}\n'.encode())

    def moved(self, entity: "Entity", target: "Entity", message: StoredMessage) -> None:
        self._append(
            self._encode(
                {
                    "t": "m",
                    "e": entity.name,
                    "q": message.sequence_number,
                    "to": target.name,
                    "ap": _b64(message.application_properties_raw),
                }
            )
        )

    def counted(self, entity: "Entity", message: StoredMessage) -> None:
        self._append(
            f'{{"t":"c","e":{self._name(entity)},"q":{message.sequence_number},'
            f'"dc":{message.delivery_count}}}\n'.encode()
        )

    def deferred(self, entity: "Entity", sequence_number: int) -> None:
        self._append(self._encode({"t": "d", "e": entity.name, "q": sequence_number}))

    def remembered(self, entity: "Entity", message_id: str, sent_ms: int) -> None:
        """A message id the duplicate detection holds though no message of it is stored
        (a topic's, copied to the subscriptions at once)."""
        self._append(self._encode({"t": "i", "e": entity.name, "id": message_id, "et": sent_ms}))

    def session_state(
        self, entity: "Entity", session: str, state: bytes | None, updated_ms: int
    ) -> None:
        self._append(self._state_line(entity, session, state, updated_ms))

    def _state_line(
        self, entity: "Entity", session: str, state: bytes | None, updated_ms: int
    ) -> bytes:
        value = None if state is None else _b64(state)
        return self._encode(
            {"t": "ss", "e": entity.name, "sid": session, "v": value, "u": updated_ms}
        )

    # ---- compaction ----------------------------------------------------------------------
    def compact_if_large(self, namespace: "Namespace") -> None:
        if self.bytes_written > COMPACT_BYTES and self.bytes_written > 4 * self._live_bytes:
            self.compact(namespace)

    def compact(self, namespace: "Namespace") -> None:
        """Rewrite the journal as the messages stored now (and the ids remembered)."""
        self.write_pending()
        temporary = self.path.with_suffix(".tmp")
        lines: list[bytes] = []
        for entity in namespace.journalled():
            if not entity.is_dead_letter:
                lines.append(self._encode({"t": "n", "e": entity.name, "q": entity.next_sequence}))
            stored_ids = {m.message_id for m in entity.messages.values()}
            for message in sorted(entity.messages.values(), key=lambda m: m.sequence_number):
                lines.append(self._encode(self._message_record(entity, message)))
            for message_id, enqueued in entity.remembered_ids():
                if message_id not in stored_ids:
                    lines.append(
                        self._encode({"t": "i", "e": entity.name, "id": message_id, "et": enqueued})
                    )
            if isinstance(entity, SessionEntity):
                for session, state in sorted(entity.session_states.items()):
                    updated = entity.state_updated_ms.get(session, 0)
                    lines.append(self._state_line(entity, session, state, updated))
        data = b"".join(lines)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if self._fd is not None:
            os.close(self._fd)
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._live_bytes = len(data)
        self.bytes_written = len(data)

    @staticmethod
    def _encode(record: dict[str, Any]) -> bytes:
        return json.dumps(record, separators=(",", ":")).encode("ascii") + b"\n"

    def close(self) -> None:
        self.write_pending()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
