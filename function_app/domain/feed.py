"""A caller's feed: every event of every job of one owner, at positions unique in that feed.

The per-job log (`jobs.py`) orders one job's events by sequence. The feed orders all of an
owner's events by *position*: microseconds since the epoch at which the event entered the
feed, unique within the owner's feed (a store refuses a taken position and the writer takes
the next free one). Within one job, positions grow with the sequence. So one number says
where a client is: `Last-Event-ID` carries it, and `?since=` takes it as epoch milliseconds
with a microsecond fraction (`epochMs`, the number each feed event carries).

A job's events enter its owner's feed after they are stored in the job's own log (two
partitions: no one transaction can hold both). The job's `FeedMark` says how far it was
copied; a writer that finds the mark behind copies the missing events from the job's log
first, so a crash between the two writes loses nothing (`services.caller_feed`).
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from function_app.domain.jobs import JobEvent

# Positions are microseconds since the epoch: 16 digits until the year 2286.
POSITION_DIGITS = 16
MAX_POSITION = 10**POSITION_DIGITS - 1
_EPOCH_MS = re.compile(r"[0-9]{1,13}(?:\.[0-9]{1,6})?")
_POSITION = re.compile(r"[0-9]{1,16}")


def owner_key(owner: str) -> str:
    """What names an owner's feed in a store: a hash, so no raw identity is a key."""
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()[:32]


def position_at(at: datetime) -> int:
    """The feed position of an instant (microseconds since the epoch)."""
    return int(at.timestamp() * 1_000_000)


def epoch_ms(position: int) -> float:
    """A position as epoch milliseconds with a microsecond fraction (`epochMs`)."""
    return position / 1000


def position_from_epoch_ms(text: str) -> int:
    """`?since=`: epoch milliseconds, optionally with up to six fraction digits, exactly
    (no binary rounding: `1733560000123.456` is position 1733560000123456)."""
    raw = text.strip()
    if not _EPOCH_MS.fullmatch(raw):
        raise ValueError(
            f"since must be epoch milliseconds (e.g. 1733560000123.456), got {raw[:40]!r}"
        )
    try:
        return int(Decimal(raw) * 1000)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"since must be epoch milliseconds, got {raw[:40]!r}") from None


def position_from_event_id(text: str) -> int:
    """`Last-Event-ID`: a feed event's id, its position as an integer."""
    raw = text.strip()
    if not _POSITION.fullmatch(raw):
        raise ValueError(f"Last-Event-ID must be an event id of this feed, got {raw[:40]!r}")
    return int(raw)


def resume_position(last_event_id: str | None, since: str | None) -> int | None:
    """Where a feed client is: `Last-Event-ID` first, else `?since=`; None: from now on."""
    if last_event_id is not None and last_event_id.strip():
        return position_from_event_id(last_event_id)
    if since is not None and since.strip():
        return position_from_epoch_ms(since)
    return None


@dataclass(frozen=True)
class FeedEntry:
    """One event as it stands in its owner's feed."""

    position: int
    job_name: str
    queue_name: str
    event: JobEvent

    @property
    def job_id(self) -> str:
        return self.event.job_id


@dataclass(frozen=True)
class FeedMark:
    """How far one job's events are in its owner's feed: through `through` (a sequence), the
    last at `last_position`; `ended`: its terminal event is in. `version` is the store's
    opaque version of the mark (writes are conditional on it)."""

    job_id: str
    through: int
    last_position: int
    ended: bool
    version: str | None = None
    updated_at: datetime | None = None


def mark_moved(stored: FeedMark | None, expected: FeedMark | None) -> bool:
    """Whether the stored mark is no longer the one a writer read (appeared, went, or a
    different version): its conditional write must not happen."""
    if stored is None or expected is None:
        return (stored is None) != (expected is None)
    return stored.version != expected.version
