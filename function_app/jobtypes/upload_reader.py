"""A job type's first step: read the upload from `JobContext.read()` into memory, bounded,
hashing as it streams; and the file name the result reports.

Memory: the whole upload is held (job types parse it as a whole: PDF, DOCX, JSON), so a job
holds at least its upload's size, and about twice that while the buffer becomes `bytes`.
The read never goes past `max_bytes` (MAX_UPLOAD_BYTES) nor past the size the worker
validated (`ctx.blob.size`). See docs/job-types.md, "Memory".
"""

import hashlib
from dataclasses import dataclass

from function_app.domain.errors import PermanentJobError
from function_app.domain.uploads import MAX_FILE_NAME_CHARS
from function_app.jobtypes.base import JobContext

# The default bound, equal to the MAX_UPLOAD_BYTES app setting's default (20 MiB).
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


async def read_upload(ctx: JobContext, max_bytes: int = DEFAULT_MAX_BYTES) -> Upload:
    """All of the upload's bytes and their SHA-256, refusing more than `max_bytes`, or more
    than the blob's validated size (`upload_changed`: not the file that was checked).

    The worker reports byte progress while this consumes the stream.
    """
    digest = hashlib.sha256()
    buffer = bytearray()
    expected = ctx.blob.size
    async for chunk in ctx.read():
        if len(buffer) + len(chunk) > max_bytes:
            raise PermanentJobError(
                "file_too_large", f"the upload is larger than the {max_bytes} byte limit"
            )
        if len(buffer) + len(chunk) > expected:
            raise PermanentJobError(
                "upload_changed", f"the upload holds more than the {expected} bytes validated"
            )
        digest.update(chunk)
        buffer += chunk
    return Upload(data=bytes(buffer), sha256=digest.hexdigest())


async def fetch_upload(ctx: JobContext, max_bytes: int = DEFAULT_MAX_BYTES) -> Upload:
    """`read_upload` between two checkpoints: a cancel before or during the fetch stops there."""
    await ctx.checkpoint()
    upload = await read_upload(ctx, max_bytes)
    await ctx.checkpoint()
    return upload


def upload_file_name(ctx: JobContext) -> str:
    """The enqueued `fileName`, else the blob's name; at most MAX_FILE_NAME_CHARS characters."""
    return str(ctx.data.get("fileName") or ctx.blob.name)[:MAX_FILE_NAME_CHARS]
