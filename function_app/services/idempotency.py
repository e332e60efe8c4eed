"""Idempotency-Key handling for enqueue: lookup, claim, takeover, confirm, release, replay.

The flow (`JobService.enqueue` drives it; the rules of claims are in `domain.idempotency`):

1. `lookup` before anything is validated: a key the caller already used for this very request
   answers from the recorded job (even if its blob is gone by now). A claim past its lease
   (its request died before confirming) is remembered for step 2.
2. `claim` the key for the new job id once the request is valid. Another holder means a
   repeat that raced us: answer from its job, or 409 when it is still being created or was
   for another request. Taking an abandoned claim over ends the job its dead request may
   have recorded (never sent: sending needs the confirm).
3. `confirm` once the job is recorded, before it is sent: a claim that was taken over in the
   meantime ends our job unsent (`idempotency_claim_lost`) and answers 409.
4. `release` when the job could not be recorded or sent, so a retry may use the key again.

Every repeat is answered through one path, `_recorded_for`.
"""

import logging
import re
from dataclasses import dataclass
from enum import Enum, auto

from function_app.domain.errors import Conflict, InvalidRequest
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, EventDraft, Job, JobError, JobStatus, Stage
from function_app.ports import Clock, EventLog, IdempotencyKeys

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")

ABANDONED = JobError(
    "enqueue_abandoned",
    "the request that created this job stopped before queueing it; a retry with the same "
    "Idempotency-Key created another job",
    True,
)
CLAIM_LOST = JobError(
    "idempotency_claim_lost",
    "another request with the same Idempotency-Key took the key over; this job was not queued",
    False,
)


@dataclass(frozen=True)
class Prior:
    """What the key held before this request validated anything."""

    replay: Job | None = None  # the recorded job of this same request: answer with it
    abandoned: str | None = None  # a claim past its lease: take it over on claim


class _Recorded(Enum):
    SAME = auto()
    NOT_RECORDED = auto()  # unknown or another owner's: still being created, as far as we know
    DIFFERENT = auto()


def check_key(key: str | None) -> str | None:
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1-200 printable ASCII characters without spaces",
            code="invalid_idempotency_key",
        )
    return key


class Idempotency:
    def __init__(self, log: EventLog, keys: IdempotencyKeys, clock: Clock) -> None:
        self._log = log
        self._keys = keys
        self._clock = clock

    async def lookup(self, caller: Caller, key: str, request: EnqueueRequest) -> Prior:
        claim = await self._keys.lookup(caller.owner, key)
        if claim is None:
            return Prior()
        if claim.is_abandoned(self._clock.now()):
            return Prior(abandoned=claim.job_id)
        verdict, job = await self._recorded_for(caller, claim.job_id, request)
        # Anything but the same recorded request goes the usual way (validate, claim), which
        # answers the conflict then.
        return Prior(replay=job if verdict is _Recorded.SAME else None)

    async def claim(
        self, caller: Caller, key: str, job_id: str, request: EnqueueRequest, prior: Prior
    ) -> Job | None:
        """Claim `key` for `job_id`. None: ours; a Job: a repeat to answer with. Raises
        Conflict when the holder is another request, or one not recorded yet."""
        holder = await self._keys.claim(caller.owner, key, job_id, now=self._clock.now())
        if holder != job_id:
            verdict, job = await self._recorded_for(caller, holder, request)
            if verdict is _Recorded.DIFFERENT:
                raise Conflict(
                    "this Idempotency-Key was used for a different request",
                    code="idempotency_key_reused",
                )
            if job is None:
                raise _in_progress()
            return job
        if prior.abandoned is not None and prior.abandoned != job_id:
            await self._end_abandoned(caller.owner, prior.abandoned)
        return None

    async def confirm(self, owner: str, key: str, job_id: str) -> None:
        """Make the claim permanent before the job is sent. Raises Conflict (after ending the
        job unsent) when another request took the key over meanwhile."""
        if await self._keys.confirm(owner, key, job_id):
            return
        logger.warning("job %s: its idempotency claim was taken over; not sent", job_id)
        await end_unsent(self._log, job_id, CLAIM_LOST)
        raise _in_progress()

    async def release(self, owner: str, key: str | None, job_id: str) -> None:
        """Best effort: the job could not be recorded or sent; free the key for a retry."""
        if key is None:
            return
        try:
            await self._keys.release(owner, key, job_id)
        except Exception as exc:
            logger.warning("job %s: could not release its idempotency key: %r", job_id, exc)

    async def _recorded_for(
        self, caller: Caller, job_id: str, request: EnqueueRequest
    ) -> tuple[_Recorded, Job | None]:
        """Whether the key's holder is the caller's job recorded for this same request."""
        job = await self._log.get(job_id)
        if job is None or job.owner != caller.owner:
            return _Recorded.NOT_RECORDED, None
        if not request.made(job):
            return _Recorded.DIFFERENT, None
        return _Recorded.SAME, job

    async def _end_abandoned(self, owner: str, job_id: str) -> None:
        """We took the key over from a claim never confirmed: a job its request recorded was
        never sent (sending needs the confirm) and nobody will send it; end it rather than
        leave it `queued` forever. Best effort: the new job goes ahead regardless."""
        try:
            job = await self._log.get(job_id)
            if job is None or job.owner != owner:
                return
            draft = EventDraft(
                JobStatus.FAILED, 0, Stage.QUEUED, "The job was never queued", error=ABANDONED
            )
            await self._log.append(
                job_id, lambda current: draft if current.status is JobStatus.QUEUED else None
            )
        except Exception as exc:
            logger.warning("job %s: could not end the abandoned job: %r", job_id, exc)


async def end_unsent(log: EventLog, job_id: str, error: JobError) -> None:
    """Best effort: end a recorded job that was not (and will not be) sent."""
    draft = EventDraft(
        JobStatus.FAILED, 0, Stage.QUEUED, "The job could not be queued", error=error
    )
    try:
        await log.append(job_id, lambda _job: draft)
    except Exception as exc:  # the log may be down too; the caller's answer still goes out
        logger.warning("job %s: could not record %s: %r", job_id, error.code, exc)


def _in_progress() -> Conflict:
    return Conflict(
        "a request with this Idempotency-Key is still being processed",
        code="idempotency_in_progress",
    )
