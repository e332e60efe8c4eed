"""Bounded runs: a job type's `run` is a task the worker stops (cancels) when the job's owner
asks to cancel or when it has run too long.

The cancel request is watched every `cancel_poll_seconds` while the run goes on, not only
at the job type's checkpoints: the job ends `cancelled` (or the attempt stops with
`AttemptSuperseded` once a newer one started). Past `time_limit_seconds` the job ends
`failed`, code `time_limit_exceeded`, not retryable. Stopping the task waits for it to
unwind, which stops an extraction's child process (`jobtypes.reading.sandbox`), so the worker keeps
serving.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from function_app.domain.errors import AttemptSuperseded, JobCancelled, PermanentJobError
from function_app.services.run_context import RunContext

logger = logging.getLogger(__name__)


async def run_bounded[T](
    work: Coroutine[Any, Any, T],
    ctx: RunContext,
    *,
    time_limit_seconds: float | None,
    cancel_poll_seconds: float,
) -> T:
    """`work`'s result, unless a cancel request (JobCancelled, or AttemptSuperseded when a
    newer attempt started) or the time limit (`time_limit_exceeded`; None: no limit) stops
    it first. Stopping cancels its task and waits for it to unwind."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_watch_cancel(ctx, cancel_poll_seconds))
    try:
        await asyncio.wait(
            {task, watch}, timeout=time_limit_seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for pending in (task, watch):
            pending.cancel()
        await asyncio.gather(task, watch, return_exceptions=True)
    if not task.cancelled():
        return task.result()
    if not watch.cancelled():
        watch.result()  # raises what stopped the run
    raise PermanentJobError(
        "time_limit_exceeded",
        f"the job did not finish within its time limit of {time_limit_seconds:g} s",
    )


async def _watch_cancel(ctx: RunContext, poll_seconds: float) -> None:
    """Raise JobCancelled (or AttemptSuperseded) once the job's owner asked to cancel; a
    read of the log that fails is only logged (the run goes on, watched)."""
    while True:
        await asyncio.sleep(poll_seconds)
        try:
            await ctx.checkpoint()
        except (JobCancelled, AttemptSuperseded):
            raise
        except Exception as exc:
            logger.warning("job %s: cancel check failed: %r", ctx.job_id, exc)
