"""read_upload: the whole upload, hashed as it streams, never more than the validated size."""

import hashlib
from dataclasses import dataclass, replace

import pytest

from function_app.domain.errors import PermanentJobError
from function_app.jobtypes.upload_reader import read_upload
from function_app.ports import BlobInfo
from tests.samples.job_context import FakeJobContext


@dataclass
class UnderstatedContext(FakeJobContext):
    """A context whose stream holds more than the size the worker validated."""

    validated_size: int = 0

    @property
    def blob(self) -> BlobInfo:
        return replace(super().blob, size=self.validated_size)


async def test_reads_everything_and_hashes_it() -> None:
    data = bytes(range(256)) * 20
    upload = await read_upload(FakeJobContext(data, chunk_size=300), max_bytes=len(data))
    assert upload.data == data
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.size == len(data)


async def test_a_stream_longer_than_the_validated_size_is_refused_while_streaming() -> None:
    ctx = UnderstatedContext(b"x" * 1000, chunk_size=100, validated_size=250)
    with pytest.raises(PermanentJobError) as caught:
        await read_upload(ctx, max_bytes=10_000)
    assert caught.value.code == "upload_changed"
    assert ctx.chunks_served == 3  # stopped at the chunk that went past 250 bytes


async def test_the_byte_limit_applies_below_the_validated_size() -> None:
    ctx = FakeJobContext(b"x" * 1000, chunk_size=100)
    with pytest.raises(PermanentJobError) as caught:
        await read_upload(ctx, max_bytes=450)
    assert caught.value.code == "file_too_large"
    assert ctx.chunks_served == 5
