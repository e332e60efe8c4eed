"""The per-job stream in two vocabularies: ours (`job_update`, as seed 001 listens) and the
steps vocabulary seed 003/004 frontends listen for (`step-change`, `progress-update`,
`complete`, `failed`). Pure: a stored event in, the named events for it out.

One stored event (sequence N) becomes a group of SSE events, in this order: `step-change`
(the job started, or its step differs from the event before), then `progress-update` while
the job runs, or `complete` / `failed` when it ends (a cancelled job ends `failed` with
errorCode `cancelled`, as seed 003 folds it), then `job_update`; a job type's sub-step log
line goes out as `scrape-phase` {phase, message}, the name seed 003's frontends listen for.
Each also carries the event's `traceId` when it has one (docs/tracing.md).
The last event of a group has
the id `N`; the ones before it `N.1`, `N.2`, ... So a `job_update`'s id is its sequence, as it
always was; a client whose `Last-Event-ID` is `N` has the whole group N, and one holding `N.k`
has its first k events: a resume from any id loses and repeats nothing. `?events=` narrows
a stream to one vocabulary (`jobstream` or `steps`); the default sends both, so a seed 001
page and a seed 003 page both work on either stream route.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from function_app.domain.jobs import JobEvent, JobStatus

JOBSTREAM = "jobstream"
STEPS = "steps"
VOCABULARIES = (JOBSTREAM, STEPS)

_POSITION = re.compile(r"([0-9]{1,18})(?:\.([0-9]{1,3}))?")
CANCELLED_CODE = "cancelled"
# Seed 003 names its sub-step log `scrape-phase`; its frontends listen for that name, so every
# job type's log lines go out under it.
LOG_EVENT = "scrape-phase"


@dataclass(frozen=True)
class NamedEvent:
    name: str
    payload: Mapping[str, Any]
    id: str


@dataclass(frozen=True)
class Position:
    """Where a client is: all of groups up to `sequence - 1`, and the first `part` events of
    group `sequence` (part 0: all of group `sequence`)."""

    sequence: int
    part: int = 0

    @property
    def complete_through(self) -> int:
        """The last sequence whose whole group the client has."""
        return self.sequence if self.part == 0 else self.sequence - 1


def parse_position(raw: str | None) -> Position:
    """`N` or `N.k` (as this stream's ids are written); None or empty: from the start."""
    if raw is None or not raw.strip():
        return Position(0)
    match = _POSITION.fullmatch(raw.strip())
    if match is None:
        raise ValueError(
            f"Last-Event-ID / since must be an event id of this stream (N or N.k), "
            f"got {raw.strip()[:40]!r}"
        )
    part = int(match.group(2) or 0)
    return Position(int(match.group(1)), part)


def parse_vocabularies(raw: str | None) -> tuple[str, ...]:
    """`?events=`: a comma-separated subset of the vocabularies; default both."""
    if raw is None or not raw.strip():
        return VOCABULARIES
    asked = tuple(dict.fromkeys(v.strip().lower() for v in raw.split(",") if v.strip()))
    unknown = [v for v in asked if v not in VOCABULARIES]
    if unknown or not asked:
        raise ValueError(f"events must name {' or '.join(VOCABULARIES)}, got {raw[:60]!r}")
    return tuple(v for v in VOCABULARIES if v in asked)


def step_of(event: JobEvent) -> str:
    """What says which step an event is in: the job type's step label, else its stage."""
    return event.step or event.stage


def steps_events(
    event: JobEvent, previous_step: str | None, current_step: Callable[[JobEvent], str | None]
) -> list[tuple[str, dict[str, Any]]]:
    """Seed 003/004's events for one stored event (`previous_step`: `step_of` the one before)."""
    if event.log:
        # A sub-step line ("thought"): seed 003's frontends show these from `scrape-phase`.
        return [(LOG_EVENT, {"phase": event.phase, "message": event.message})]
    named: list[tuple[str, dict[str, Any]]] = []
    step = current_step(event)
    eta = event.eta_seconds
    if event.status is JobStatus.STARTED or (
        event.status is JobStatus.IN_PROGRESS
        and previous_step is not None
        and step_of(event) != previous_step
    ):
        named.append(
            (
                "step-change",
                {"progress": event.progress, "currentStep": step, "estimatedTimeRemaining": eta},
            )
        )
    if event.status is JobStatus.COMPLETED:
        named.append(("complete", {"result": None if event.result is None else dict(event.result)}))
    elif event.status is JobStatus.CANCELLED:
        message = event.error.message if event.error else event.message or "cancelled"
        named.append(("failed", {"error": message, "errorCode": CANCELLED_CODE}))
    elif event.status is JobStatus.FAILED:
        error = event.error
        named.append(
            (
                "failed",
                {
                    "error": error.message if error else event.message,
                    "errorCode": error.code if error else "failed",
                },
            )
        )
    else:
        named.append(
            (
                "progress-update",
                {
                    "progress": event.progress,
                    "currentStep": step,
                    "phase": event.phase,
                    "detail": event.detail,
                    "estimatedTimeRemaining": eta,
                },
            )
        )
    return named


def with_trace(payload: dict[str, Any], event: JobEvent) -> dict[str, Any]:
    """`payload` with the event's `traceId` beside its fields (none for an untraced event)."""
    return payload if event.trace_id is None else {**payload, "traceId": event.trace_id}


def group(
    event: JobEvent,
    previous_step: str | None,
    vocabularies: Sequence[str],
    job_update: Callable[[JobEvent], dict[str, Any]],
    current_step: Callable[[JobEvent], str | None],
) -> list[NamedEvent]:
    """The SSE events for one stored event, each with its id (see the module docstring)."""
    named: list[tuple[str, Mapping[str, Any]]] = []
    if STEPS in vocabularies:
        named.extend(
            (name, with_trace(payload, event))
            for name, payload in steps_events(event, previous_step, current_step)
        )
    if JOBSTREAM in vocabularies:  # last: a job_update's id stays its sequence, `N`
        named.append(("job_update", job_update(event)))
    last = len(named)
    return [
        NamedEvent(name, payload, str(event.sequence) if k == last else f"{event.sequence}.{k}")
        for k, (name, payload) in enumerate(named, start=1)
    ]
