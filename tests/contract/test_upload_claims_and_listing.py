"""UploadClaims and UploadStore.list_uploads contracts, real adapter (Azurite) and fake alike:
what enqueue-by-fileName relies on."""

import asyncio
import uuid
from typing import Any

import pytest

from function_app.adapters.table_storage import TableStorage
from tests.fakes import FakeUploadClaims

from .conftest import UploadsUnderTest


@pytest.fixture
def table_upload_claims(table_storage: TableStorage) -> Any:
    return table_storage.upload_claims


@pytest.fixture
def fake_upload_claims() -> FakeUploadClaims:
    return FakeUploadClaims()


@pytest.fixture(params=["table_upload_claims", "fake_upload_claims"])
def upload_claims(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def a_blob() -> str:
    return f"u/{uuid.uuid4().hex}/{uuid.uuid4().hex}/cv.pdf"


async def test_the_first_claim_wins_and_is_remembered(upload_claims: Any) -> None:
    blob = a_blob()
    assert await upload_claims.used_by(blob) is None
    assert await upload_claims.claim(blob, "job-1") is True
    assert await upload_claims.claim(blob, "job-2") is False
    assert await upload_claims.used_by(blob) == "job-1"


async def test_racing_claims_agree_on_one_winner(upload_claims: Any) -> None:
    blob = a_blob()
    won = await asyncio.gather(*(upload_claims.claim(blob, f"job-{i}") for i in range(8)))
    assert won.count(True) == 1
    assert await upload_claims.used_by(blob) == f"job-{won.index(True)}"


async def test_only_the_holder_releases_a_claim(upload_claims: Any) -> None:
    blob = a_blob()
    await upload_claims.claim(blob, "job-1")
    await upload_claims.release(blob, "job-2")  # not the holder: left alone
    assert await upload_claims.used_by(blob) == "job-1"
    await upload_claims.release(blob, "job-1")
    assert await upload_claims.used_by(blob) is None
    await upload_claims.release(blob, "job-1")  # releasing twice is harmless
    assert await upload_claims.claim(blob, "job-3") is True


async def test_listing_finds_the_blobs_under_a_prefix_with_their_write_times(
    uploads_under_test: UploadsUnderTest,
) -> None:
    prefix = f"u/{uuid.uuid4().hex}/abc"
    names = [f"{prefix}{i}/cv.pdf" for i in range(3)]
    for i, name in enumerate(names):
        await uploads_under_test.put(name, b"%PDF-1.4 x", "application/pdf")
        if i == 0:
            await asyncio.sleep(1.1)  # Blob Storage keeps write times to the second
    await uploads_under_test.put(f"u/{uuid.uuid4().hex}/abc0/cv.pdf", b"other", None)
    listed = await uploads_under_test.uploads.list_uploads(prefix, 10)
    assert sorted(b.name for b in listed) == names
    written = {b.name: b.last_modified for b in listed}
    assert written[names[0]] < written[names[1]] <= written[names[2]]  # a later write is newer
    assert all(b.size == 10 and b.content_type == "application/pdf" for b in listed)
    for blob in listed:  # as a read describes it: the worker compares the ETags
        assert blob == await uploads_under_test.uploads.describe(blob.name)
    assert len(await uploads_under_test.uploads.list_uploads(prefix, 2)) == 2
    assert await uploads_under_test.uploads.list_uploads(prefix + "zzz", 10) == []
