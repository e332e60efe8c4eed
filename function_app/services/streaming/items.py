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
