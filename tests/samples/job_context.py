"""An in-memory JobContext for job-type tests: serves bytes in chunks, records progress calls
and log lines, checks them against the job type's declared `steps` when given, and can ask to
cancel at a chosen checkpoint."""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from function_app.domain.errors import JobCancelled
from function_app.domain.jobs import Stage
from function_app.jobtypes.steps import Steps
from function_app.ports import BlobInfo


@dataclass(frozen=True)
class ProgressCall:
    stage: str
    progress: int
    message: str
    phase: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class LogLine:
    phase: str
    message: str


@dataclass
class FakeJobContext:
    content: bytes
    file_name: str = "upload.bin"
    content_type: str | None = None
    chunk_size: int | None = 1024
    cancel_at_checkpoint: int | None = None
    job_id: str = "job-test"
    steps: Steps | None = None
    progress_calls: list[ProgressCall] = field(default_factory=list)
    log_lines: list[LogLine] = field(default_factory=list)
    checkpoints: int = 0
    chunks_served: int = 0
    # More enqueue data (e.g. a declared "sha256"), and the SHA-256 the blob's metadata declares.
    extra_data: Mapping[str, Any] = field(default_factory=dict)
    blob_sha256: str | None = None

    @property
    def data(self) -> Mapping[str, Any]:
        return {
            "blobName": f"anonymous/{self.job_id}/{self.file_name}",
            "fileName": self.file_name,
            **self.extra_data,
        }

    @property
    def blob(self) -> BlobInfo:
        return BlobInfo(
            name=f"anonymous/{self.job_id}/{self.file_name}",
            size=len(self.content),
            content_type=self.content_type,
            sha256=self.blob_sha256,
        )

    async def read(self, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        size = self.chunk_size or chunk_size
        for start in range(0, len(self.content), size):
            self.chunks_served += 1
            yield self.content[start : start + size]

    async def progress(
        self,
        stage: Stage,
        percent: int,
        message: str,
        *,
        phase: str | None = None,
        detail: str | None = None,
    ) -> None:
        assert isinstance(stage, Stage), f"job types report a Stage, not {stage!r}"
        assert 0 <= percent <= 100, percent
        if self.steps is not None:
            step = self.steps.get(stage)
            assert step is not None, f"{stage} is not a declared step"
            assert phase is None or phase in {p.key for p in step.phases}, (stage, phase)
        self.progress_calls.append(ProgressCall(stage, percent, message, phase, detail))

    async def log(self, phase: str, message: str) -> None:
        assert phase
        assert message
        self.log_lines.append(LogLine(phase, message))

    async def checkpoint(self) -> None:
        self.checkpoints += 1
        if self.cancel_at_checkpoint is not None and self.checkpoints >= self.cancel_at_checkpoint:
            raise JobCancelled(f"cancel requested (checkpoint {self.checkpoints})")

    @property
    def percentages(self) -> list[int]:
        return [call.progress for call in self.progress_calls]

    @property
    def stages(self) -> list[str]:
        return [call.stage for call in self.progress_calls]
