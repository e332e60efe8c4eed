"""A job type's first steps: read the upload from `JobContext.read()` into memory, hashing as
it streams, and tell its file type from its bytes; and the file name the result reports.

A SHA-256 the client declared (`data.sha256` at enqueue, else the blob's `sha256` metadata
from the presign) is compared with the digest of the bytes read: a difference ends the job
`failed` `checksum_mismatch` (not retryable: the stored bytes are not the client's file).

Memory: the whole upload is held (job types parse it as a whole: PDF, DOCX, JSON), so a job
holds at least its upload's size, and about twice that while the buffer becomes `bytes`.
The bound is the worker's (`ctx.read()` never yields more than the validated `ctx.blob.size`,
which the worker checked against MAX_UPLOAD_BYTES before the job started). See
docs/job-types.md, "Memory and time".
"""

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from function_app.domain.errors import PermanentJobError
from function_app.domain.jobs import Stage
from function_app.domain.uploads import MAX_FILE_NAME_CHARS
from function_app.jobtypes.base import JobContext
from function_app.jobtypes.reading.file_types import FileKind, detect_file_type


@dataclass(frozen=True)
class Upload:
    data: bytes
    sha256: str
    file_name: str  # what the result reports: the enqueued fileName, else the blob's name
    # True when the client declared a SHA-256 and `sha256` (of the bytes read) equals it.
    sha256_verified: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def result_fields(self) -> dict[str, Any]:
        """What every job type's result says of the file it read."""
        return {
            "fileName": self.file_name,
            "sizeBytes": self.size,
            "sha256": self.sha256,
            "sha256Verified": self.sha256_verified,
        }


async def read_upload(ctx: JobContext) -> Upload:
    """All of the upload's bytes and their SHA-256. The worker reports byte progress while
    this consumes the stream."""
    digest = hashlib.sha256()
    buffer = bytearray()
    async for chunk in ctx.read():
        digest.update(chunk)
        buffer += chunk
    sha256 = digest.hexdigest()
    declared = declared_sha256(ctx)
    if declared is not None and declared != sha256:
        raise PermanentJobError(
            "checksum_mismatch",
            f"the uploaded bytes have SHA-256 {sha256}, not the declared {declared}: "
            "upload the file again",
        )
    return Upload(
        data=bytes(buffer),
        sha256=sha256,
        file_name=upload_file_name(ctx),
        sha256_verified=declared is not None,
    )


def declared_sha256(ctx: JobContext) -> str | None:
    """The SHA-256 the client declared: at enqueue (`data.sha256`, checked there), else at
    presign (the blob's metadata), else None."""
    declared = ctx.data.get("sha256")
    if isinstance(declared, str) and declared:
        return declared.lower()
    return ctx.blob.sha256


async def fetch_upload(ctx: JobContext) -> Upload:
    """`read_upload` between two checkpoints: a cancel before or during the fetch stops there."""
    await ctx.checkpoint()
    upload = await read_upload(ctx)
    await ctx.checkpoint()
    return upload


async def fetch_and_detect(ctx: JobContext, message: str) -> tuple[Upload, FileKind]:
    """The first two steps of a job that parses its upload: `fetch_upload`, then
    `detect_kind` (its progress message `message`)."""
    upload = await fetch_upload(ctx)
    return upload, await detect_kind(ctx, upload, message)


async def detect_kind(ctx: JobContext, upload: Upload, message: str) -> FileKind:
    """The second step (phase `detect`): what the bytes are (by their content, not their
    name); a log line says what was found."""
    await ctx.progress(Stage.PARSING, 45, message, phase="detect", detail=byte_count(upload.size))
    kind = await asyncio.to_thread(detect_file_type, upload.data)
    await ctx.log("detected", f"The content is {kind.value}")
    return kind


def byte_count(size: int) -> str:
    return f"{size:,} bytes"


def upload_file_name(ctx: JobContext) -> str:
    """The enqueued `fileName`, else the blob's name; at most MAX_FILE_NAME_CHARS characters."""
    return str(ctx.data.get("fileName") or ctx.blob.name)[:MAX_FILE_NAME_CHARS]
