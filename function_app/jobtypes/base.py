"""What a job type is, and what the worker hands it while it runs.

A job type is registered by name (`function_app.jobtypes.registry`) and runs as a few steps.
Between steps it calls `ctx.checkpoint()`, which raises `JobCancelled` when the job's owner
asked to cancel. It reads the upload as a stream with `ctx.read()`; the worker reports
progress as the bytes arrive. It raises `PermanentJobError` for files it can never process
and lets anything transient (or a `TransientJobError`) propagate so Service Bus redelivers.
"""

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from function_app.domain.jobs import Stage
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
        self, stage: Stage, percent: int, message: str, *, phase: str | None = None
    ) -> None:
        """Record an `in_progress` event (0-100 for the whole job)."""
        ...

    async def checkpoint(self) -> None:
        """Between steps: raise JobCancelled if cancel was requested."""
        ...


class JobType(Protocol):
    @property
    def name(self) -> str: ...

    async def run(self, ctx: JobContext) -> Mapping[str, Any]:
        """Do the work; return the JSON-serialisable result."""
        ...
