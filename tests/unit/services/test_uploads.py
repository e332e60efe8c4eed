"""UploadService.presign: name, type and size rules; the URL for one blob under the prefix."""

from datetime import timedelta

import pytest

from function_app.domain.errors import InvalidRequest, TooLarge, Unauthenticated, UnsupportedType
from function_app.domain.identity import Caller
from function_app.domain.uploads import is_owned_upload
from function_app.services.uploads import PresignRequest
from tests.fakes import FakeWorld, fake_world, test_settings

ALICE = Caller("alice")


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(test_settings(MAX_UPLOAD_BYTES=1000, UPLOAD_URL_TTL_SECONDS=300))


async def test_presign_signs_one_new_blob_under_the_callers_prefix(world: FakeWorld) -> None:
    upload = await world.services.uploads.presign(
        ALICE, PresignRequest("cv.pdf", "application/pdf", 999)
    )
    assert is_owned_upload("alice", upload.blob_name)
    assert upload.blob_name.endswith("/cv.pdf")
    assert upload.expires_at == world.clock.now() + timedelta(seconds=300)
    assert upload.method == "PUT"
    assert upload.headers == {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/pdf"}
    assert upload.max_bytes == 1000
    assert upload.container == "uploads"
    assert world.uploads.signed == [(upload.blob_name, "application/pdf", upload.expires_at)]
    assert upload.upload_url.startswith("https://fake.blob/uploads/" + upload.blob_name)


async def test_each_presign_gets_a_new_blob_name(world: FakeWorld) -> None:
    a = await world.services.uploads.presign(ALICE, PresignRequest("cv.pdf"))
    b = await world.services.uploads.presign(ALICE, PresignRequest("cv.pdf"))
    assert a.blob_name != b.blob_name


async def test_content_type_is_inferred_from_the_extension(world: FakeWorld) -> None:
    upload = await world.services.uploads.presign(ALICE, PresignRequest("notes.TXT"))
    assert upload.headers["Content-Type"] == "text/plain"


async def test_declared_type_is_normalized(world: FakeWorld) -> None:
    upload = await world.services.uploads.presign(
        ALICE, PresignRequest("a.txt", "Text/Plain; charset=utf-8")
    )
    assert upload.content_type == "text/plain"


@pytest.mark.parametrize(
    ("file_name", "content_type"), [("run.exe", None), ("cv.pdf", "application/x-msdownload")]
)
async def test_types_outside_the_allow_list_are_refused(
    world: FakeWorld, file_name: str, content_type: str | None
) -> None:
    with pytest.raises(UnsupportedType):
        await world.services.uploads.presign(ALICE, PresignRequest(file_name, content_type))
    assert world.uploads.signed == []


async def test_declared_size_over_the_limit_is_refused(world: FakeWorld) -> None:
    with pytest.raises(TooLarge) as info:
        await world.services.uploads.presign(ALICE, PresignRequest("cv.pdf", size=1001))
    assert info.value.details == [{"maxBytes": 1000}]
    assert world.uploads.signed == []


@pytest.mark.parametrize("name", ["", "../cv.pdf", "a/b.pdf", "x" * 256, "c\x07v.pdf"])
async def test_bad_names_are_refused_before_signing(world: FakeWorld, name: str) -> None:
    with pytest.raises(InvalidRequest):
        await world.services.uploads.presign(ALICE, PresignRequest(name, "text/plain"))
    assert world.uploads.signed == []


async def test_a_stream_token_caller_cannot_upload(world: FakeWorld) -> None:
    with pytest.raises(Unauthenticated):
        await world.services.uploads.presign(
            Caller("alice", job_scope="j1"), PresignRequest("a.txt")
        )
