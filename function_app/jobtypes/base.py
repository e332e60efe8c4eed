"""What a job type is, and what the worker hands it while it runs.

A job type is registered by name (`function_app.jobtypes.registry`) and runs as the steps
it declares (`steps`, `function_app.jobtypes.steps`): it reports each with `ctx.progress`
(the step's stage, a phase key it declares, a detail such as "page 3 of 12") and may add
sub-step log lines with `ctx.log`. Between steps it calls `ctx.checkpoint()`, which raises
`JobCancelled` when the job's owner asked to cancel. It reads the upload as a stream with
`ctx.read()`; the worker reports progress as the bytes arrive. It raises
`PermanentJobError` for files it can never process and lets anything transient (or a
`TransientJobError`) propagate so Service Bus redelivers.
"""

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from function_app.domain.jobs import Stage
from function_app.jobtypes.steps import Steps
from function_app.ports import BlobInfo


class JobContext(Protocol):
    @property
    def job_id(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]:
        """The `data` object given at enqueue (blobName, fileName, ...)."""
        ...

    @property
    def blob(self) -> BlobInfo:
        """The uploaded blob the job works on (size and content type as stored)."""
        ...

    def read(self, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        """The upload's bytes, chunk by chunk; progress is reported as they arrive."""
        ...

    async def progress(
        self,
        stage: Stage,
        percent: int,
        message: str,
        *,
        phase: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record an `in_progress` event (0-100 for the whole job) in the step of `stage`:
        it carries the step's label, phase `phase`'s label, `detail` ("4 sections found")
        and the learned ETA."""
        ...

    async def log(self, phase: str, message: str) -> None:
        """Record a sub-step log line (`phase` a machine key, `message` its text); progress,
        step and ETA stay as they are."""
        ...

    async def checkpoint(self) -> None:
        """Between steps: raise JobCancelled if cancel was requested."""
        ...


class JobType(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def steps(self) -> Steps:
        """The steps `run` reports, in order (docs/job-types.md has a table per type)."""
        ...

    async def run(self, ctx: JobContext) -> Mapping[str, Any]:
        """Do the work; return the JSON-serialisable result."""
        ...
