"""read_upload: the whole upload, hashed as it streams (the worker bounds what it yields:
tests/unit/services/test_worker.py)."""

import hashlib

import pytest

from function_app.domain.errors import PermanentJobError
from function_app.jobtypes.reading.upload_reader import read_upload
from tests.samples.job_context import FakeJobContext


async def test_reads_everything_and_hashes_it() -> None:
    data = bytes(range(256)) * 20
    upload = await read_upload(FakeJobContext(data, chunk_size=300))
    assert upload.data == data
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.size == len(data)


# --- a declared SHA-256 is verified while the bytes are read ------------------------------

DATA = b"the file the client hashed\n" * 100
DIGEST = hashlib.sha256(DATA).hexdigest()
OTHER = hashlib.sha256(b"another file").hexdigest()


async def test_no_declared_digest_reads_as_before_and_says_nothing_was_verified() -> None:
    upload = await read_upload(FakeJobContext(DATA))
    assert upload.sha256 == DIGEST
    assert upload.sha256_verified is False


@pytest.mark.parametrize(
    ("extra", "metadata"),
    [({"sha256": DIGEST}, None), ({"sha256": DIGEST.upper()}, None), ({}, DIGEST)],
    ids=["at enqueue", "at enqueue, upper case", "at presign (blob metadata)"],
)
async def test_a_matching_declared_digest_is_verified(
    extra: dict[str, str], metadata: str | None
) -> None:
    upload = await read_upload(FakeJobContext(DATA, extra_data=extra, blob_sha256=metadata))
    assert upload.sha256 == DIGEST
    assert upload.sha256_verified is True


@pytest.mark.parametrize(
    ("extra", "metadata"),
    [({"sha256": OTHER}, None), ({}, OTHER), ({"sha256": OTHER}, DIGEST)],
    ids=["at enqueue", "at presign", "enqueue wins over presign"],
)
async def test_a_different_declared_digest_fails_checksum_mismatch_not_retryable(
    extra: dict[str, str], metadata: str | None
) -> None:
    with pytest.raises(PermanentJobError) as failed:
        await read_upload(FakeJobContext(DATA, extra_data=extra, blob_sha256=metadata))
    assert failed.value.code == "checksum_mismatch"
    assert failed.value.retryable is False
    assert DIGEST in failed.value.message


async def test_every_result_reports_the_file_read_the_same_way() -> None:
    upload = await read_upload(FakeJobContext(DATA))
    assert upload.result_fields() == {
        "fileName": upload.file_name,
        "sizeBytes": len(DATA),
        "sha256": DIGEST,
        "sha256Verified": False,
    }
