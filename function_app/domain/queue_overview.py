"""The queue-wide picture seed 000's catalogue shows: outcome counters, worker instances and
their heartbeats, the backlog. Pure: the stores keep beats and tallies, the rules live here.

- **Tally** (`QueueTally`): jobs a worker ended, by outcome, and the seconds they ran
  (started -> ended). `success_rate` = completed / (completed + failed), in percent;
  cancelled jobs count apart and are in neither. Counts only: no job ids, no owners.
- **Workers** (`WorkerBeat`): each worker instance writes a beat when a job starts or ends
  on it and every WORKER_HEARTBEAT_SECONDS while it runs any. An instance is *online* while
  its last beat is at most `offline_seconds` old. A stale beat that still lists running
  jobs is an instance that died under them: `offline`, reason `heartbeat_missed`, with the
  affected jobs; a stale beat with none is an instance with nothing to do (`offline`,
  reason `idle`; it comes back `online` with its next job).
- **Backlog**: waiting = active messages - running jobs (Service Bus counts a locked message
  as active). An alert when it passes the threshold, one "cleared" when it falls back.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from function_app.domain.jobs import JobStatus


@dataclass(frozen=True)
class QueueTally:
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    # Seconds from started to ended, summed over the `timed` completed or failed jobs.
    seconds: float = 0.0
    timed: int = 0

    def counting(self, status: JobStatus, seconds: float | None) -> "QueueTally":
        """This tally with one more job ended `status` after `seconds` (None: never started)."""
        if not status.is_terminal:
            raise ValueError(f"only an ended job is counted, not {status}")
        if status is JobStatus.CANCELLED:
            return QueueTally(
                self.completed, self.failed, self.cancelled + 1, self.seconds, self.timed
            )
        completed = self.completed + (status is JobStatus.COMPLETED)
        failed = self.failed + (status is JobStatus.FAILED)
        if seconds is None:
            return QueueTally(completed, failed, self.cancelled, self.seconds, self.timed)
        seconds = max(seconds, 0.0)
        return QueueTally(completed, failed, self.cancelled, self.seconds + seconds, self.timed + 1)

    def __add__(self, other: "QueueTally") -> "QueueTally":
        return QueueTally(
            self.completed + other.completed,
            self.failed + other.failed,
            self.cancelled + other.cancelled,
            self.seconds + other.seconds,
            self.timed + other.timed,
        )

    @property
    def processed(self) -> int:
        return self.completed + self.failed

    @property
    def success_rate(self) -> float | None:
        """Percent of processed jobs that completed, one decimal; None before the first."""
        if not self.processed:
            return None
        return round(100 * self.completed / self.processed, 1)

    @property
    def average_seconds(self) -> float | None:
        if not self.timed:
            return None
        return round(self.seconds / self.timed, 1)


@dataclass(frozen=True)
class RunningJob:
    """A job a worker instance runs, and whose it is (the owner's feed key, not the owner)."""

    job_id: str
    owner_key: str
    queue_name: str


@dataclass(frozen=True)
class WorkerBeat:
    worker_id: str
    started_at: datetime
    seen_at: datetime
    running: tuple[RunningJob, ...] = ()


def worker_id_of(instance: str) -> str:
    """A short, stable name for a worker instance (from its host's instance id)."""
    return "worker-" + hashlib.sha256(instance.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class WorkerChange:
    """A worker instance came or went, as one caller may see it."""

    worker_id: str
    status: str  # "online" | "offline"
    reason: str  # "heartbeat" (online) | "heartbeat_missed" | "idle"
    affected_jobs: tuple[str, ...] = ()  # the caller's jobs it ran when it went


def is_online(beat: WorkerBeat, now: datetime, offline_seconds: float) -> bool:
    return now - beat.seen_at <= timedelta(seconds=offline_seconds)


@dataclass
class WorkerWatch:
    """One viewer's view of the worker instances: what changed since it last looked."""

    owner_key: str
    offline_seconds: float
    online: dict[str, WorkerBeat] = field(default_factory=dict)
    primed: bool = False

    def changes(self, beats: Iterable[WorkerBeat], now: datetime) -> list[WorkerChange]:
        """Instances that came online or went offline since the last call. The first call
        only learns who is online (the viewer's `queue-status` says how many)."""
        latest = {b.worker_id: b for b in beats}
        online = {w: b for w, b in latest.items() if is_online(b, now, self.offline_seconds)}
        found: list[WorkerChange] = []
        if self.primed:
            for worker_id in sorted(online.keys() - self.online.keys()):
                found.append(WorkerChange(worker_id, "online", "heartbeat"))
            for worker_id in sorted(self.online.keys() - online.keys()):
                last = latest.get(worker_id, self.online[worker_id])
                mine = tuple(r.job_id for r in last.running if r.owner_key == self.owner_key)
                reason = "heartbeat_missed" if last.running else "idle"
                found.append(WorkerChange(worker_id, "offline", reason, mine))
        self.online = online
        self.primed = True
        return found


@dataclass(frozen=True)
class QueueOverview:
    """The queue-wide figures at one instant: the tally, the workers' recent beats, and
    Service Bus's active messages per queue; each None when it could not be read. Beats name
    owners only by key: what leaves for a caller is counts and that caller's own jobs."""

    at: datetime
    tally: QueueTally | None
    beats: tuple[WorkerBeat, ...] | None
    active: Mapping[str, int] | None
    offline_seconds: float

    @property
    def online(self) -> tuple[WorkerBeat, ...]:
        beats = self.beats or ()
        return tuple(b for b in beats if is_online(b, self.at, self.offline_seconds))

    @property
    def running(self) -> int:
        return sum(len(b.running) for b in self.online)

    def waiting(self, queue_name: str | None = None) -> int | None:
        """Messages waiting for a worker (in one queue, or all); None when not known."""
        if self.active is None:
            return None
        if queue_name is not None:
            running = sum(1 for b in self.online for r in b.running if r.queue_name == queue_name)
            return max(self.active.get(queue_name, 0) - running, 0)
        return max(sum(self.active.values()) - self.running, 0)


@dataclass
class BacklogWatch:
    """One viewer's backlog alarm: raised when waiting jobs pass `threshold`, cleared once
    they are back at or under it. `level`: what to say now (None: nothing new)."""

    threshold: int
    raised: bool = False

    def level(self, waiting: int | None) -> str | None:
        if waiting is None or self.threshold <= 0:
            return None
        if waiting > self.threshold and not self.raised:
            self.raised = True
            return "warning"
        if waiting <= self.threshold and self.raised:
            self.raised = False
            return "info"
        return None


def wait_text(seconds: int | None) -> str | None:
    """Seed 000's `estimatedWait` words: "less than a minute", "1 minute", "2 minutes"."""
    if seconds is None:
        return None
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
