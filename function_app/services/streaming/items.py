"""What iterating a `JobStream` (or a caller's `FeedStream`) yields: the connection, job
updates and control events.

The entry points frame them (`entrypoints/sse.py`); only `Update` carries a sequence.
"""

from dataclasses import dataclass
from datetime import datetime

from function_app.domain.feed import FeedEntry
from function_app.domain.jobs import JobEvent
from function_app.ports import QueueCounts


@dataclass(frozen=True)
class Connected:
    connection_id: str
    job_id: str
    at: datetime


@dataclass(frozen=True)
class Update:
    event: JobEvent


@dataclass(frozen=True)
class Heartbeat:
    at: datetime


@dataclass(frozen=True)
class QueueSnapshot:
    counts: QueueCounts
    at: datetime


@dataclass(frozen=True)
class TimedOut:
    job_id: str
    last_event_id: int


type StreamItem = Connected | Update | Heartbeat | QueueSnapshot | TimedOut


@dataclass(frozen=True)
class EventPage:
    """One long-poll answer (`StreamHub.poll`): the job's events after `after`, in order.

    `after` is where the page starts (the asked position, lowered to the job's last event).
    `previous` is the event at `after`, read for context when asked for and there are events
    (whether the first one changes step). `finished`: the job has ended and nothing comes after
    this page. `more`: the page was cut at its size; more events are there already.
    """

    job_id: str
    after: int
    events: tuple[JobEvent, ...]
    previous: JobEvent | None = None
    finished: bool = False
    more: bool = False

    @property
    def last_sequence(self) -> int:
        """Where the next page starts: the last event's sequence, else `after`."""
        return self.events[-1].sequence if self.events else self.after


# --- a caller's feed (`FeedHub.watch`) --------------------------------------------------------


@dataclass(frozen=True)
class FeedConnected:
    connection_id: str
    at: datetime


@dataclass(frozen=True)
class FeedUpdate:
    """One entry of the feed. `resume_at`: where a client that got it resumes (the highest
    position sent so far; an entry that landed late sits below it)."""

    entry: FeedEntry
    resume_at: int


@dataclass(frozen=True)
class Tick:
    """The stream's periodic moment for queue-wide figures (`FeedStream.tick_seconds`)."""

    at: datetime


@dataclass(frozen=True)
class FeedTimedOut:
    resume_at: int


type FeedItem = FeedConnected | FeedUpdate | Heartbeat | Tick | FeedTimedOut
