"""Which upload a job runs on: by `data.blobName`, or by the `fileName` its presign answered
(seed 001's frontend names its upload only that way): the newest unused one of the caller's."""

import asyncio

import pytest

from function_app.domain.errors import Conflict, DependencyUnavailable, NotFound, UnsupportedType
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, JobStatus
from tests.fakes import FakeWorld, fake_world, test_settings

ALICE = Caller("alice")


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(test_settings(MAX_UPLOAD_BYTES=1000))


def by_name(file_name: str, **data: object) -> EnqueueRequest:
    return EnqueueRequest(
        "resume-analysis",
        "analyze-resume",
        {"resumeId": "resume-123", "fileName": file_name, **data},
    )


async def test_an_upload_named_by_its_file_name_is_found_and_the_data_kept(
    world: FakeWorld,
) -> None:
    blob = world.upload("alice", "cv.txt", b"hello")
    accepted = await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    job = world.log.jobs[accepted.job_id]
    assert job.blob_name == blob
    assert job.data == {"resumeId": "resume-123", "fileName": "cv.txt"}  # as sent
    assert world.upload_claims.claims == {blob: accepted.job_id}


async def test_the_newest_unused_upload_of_that_name_is_taken_then_the_next(
    world: FakeWorld,
) -> None:
    older = world.upload("alice", "cv.txt", b"first")
    newer = world.upload("alice", "cv.txt", b"second")
    first = await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    second = await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    assert world.log.jobs[first.job_id].blob_name == newer
    assert world.log.jobs[second.job_id].blob_name == older
    with pytest.raises(Conflict) as used:
        await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    assert used.value.code == "upload_already_used"
    assert "upload the file again, or pass data.blobName" in used.value.message


async def test_an_upload_a_job_used_by_blob_name_is_not_taken_by_file_name(
    world: FakeWorld,
) -> None:
    blob = world.upload("alice", "cv.txt", b"hello")
    await world.services.jobs.enqueue(ALICE, by_name("cv.txt", blobName=blob))
    with pytest.raises(Conflict):
        await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    # By blobName the same upload may run again: that is what naming it exactly is for.
    again = await world.services.jobs.enqueue(ALICE, by_name("cv.txt", blobName=blob))
    assert world.log.jobs[again.job_id].blob_name == blob


async def test_no_upload_of_that_name_says_how_to_fix_it(world: FakeWorld) -> None:
    world.upload("bob", "cv.txt", b"bob's")  # someone else's upload of the same name
    world.upload("alice", "other.txt", b"hello")
    with pytest.raises(NotFound) as missing:
        await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    assert missing.value.code == "blob_not_found"
    assert "presign it and PUT the file first, or pass data.blobName" in missing.value.message
    assert world.log.writes == 0


async def test_a_job_that_could_not_be_queued_gives_its_upload_back(world: FakeWorld) -> None:
    blob = world.upload("alice", "cv.txt", b"hello")
    world.queue.fail_with = ConnectionError("broker down")
    with pytest.raises(DependencyUnavailable):
        await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    assert world.upload_claims.claims == {}
    world.queue.fail_with = None
    retried = await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    assert world.log.jobs[retried.job_id].blob_name == blob


async def test_two_enqueues_racing_for_one_upload_agree_on_one_winner(world: FakeWorld) -> None:
    world.upload("alice", "cv.txt", b"hello")
    results = await asyncio.gather(
        *(world.services.jobs.enqueue(ALICE, by_name("cv.txt")) for _ in range(2)),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(accepted) == 1, results
    assert len(refused) == 1, results
    assert refused[0].code == "upload_already_used"
    # The loser wrote no job: only the winner's is recorded.
    assert list(world.log.jobs) == [accepted[0].job_id]


async def test_an_idempotent_repeat_by_file_name_answers_the_same_job(world: FakeWorld) -> None:
    world.upload("alice", "cv.txt", b"hello")
    first = await world.services.jobs.enqueue(ALICE, by_name("cv.txt"), "key-1")
    repeat = await world.services.jobs.enqueue(ALICE, by_name("cv.txt"), "key-1")
    assert repeat.job_id == first.job_id
    assert repeat.replayed


async def test_a_put_without_content_type_is_judged_by_the_file_name(world: FakeWorld) -> None:
    # A PUT without Content-Type stores application/octet-stream.
    world.upload("alice", "cv.txt", b"hello", content_type="application/octet-stream")
    accepted = await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    assert world.log.jobs[accepted.job_id].status is JobStatus.QUEUED
    world.upload("alice", "tool.exe", b"MZ", content_type="application/octet-stream")
    with pytest.raises(UnsupportedType):
        await world.services.jobs.enqueue(ALICE, by_name("tool.exe"))


async def test_two_unused_uploads_written_in_the_same_second_are_not_guessed(
    world: FakeWorld,
) -> None:
    first = world.upload("alice", "cv.txt", b"one")
    second = world.upload("alice", "cv.txt", b"two")
    same_second = world.uploads.blobs[first].last_modified  # type: ignore[attr-defined]
    world.uploads.blobs[second].last_modified = same_second  # type: ignore[attr-defined]
    with pytest.raises(Conflict) as ambiguous:
        await world.services.jobs.enqueue(ALICE, by_name("cv.txt"))
    assert ambiguous.value.code == "ambiguous_upload"
    assert "pass data.blobName" in ambiguous.value.message
    assert world.log.writes == 0
