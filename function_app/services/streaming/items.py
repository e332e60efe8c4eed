"""What iterating a `JobStream` yields: the connection, job updates and control events.

The entry points frame them (`entrypoints/sse.py`); only `Update` carries a sequence.
"""

from dataclasses import dataclass
from datetime import datetime

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
