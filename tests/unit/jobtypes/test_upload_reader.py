"""read_upload: the whole upload, hashed as it streams (the worker bounds what it yields:
tests/unit/services/test_worker.py)."""

import hashlib

from function_app.jobtypes.upload_reader import read_upload
from tests.samples.job_context import FakeJobContext


async def test_reads_everything_and_hashes_it() -> None:
    data = bytes(range(256)) * 20
    upload = await read_upload(FakeJobContext(data, chunk_size=300))
    assert upload.data == data
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.size == len(data)
