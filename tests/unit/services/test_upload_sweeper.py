"""The upload sweeper deletes append and page blobs, trims snapshots, and deletes uploads older
than UNUSED_UPLOAD_TTL_SECONDS that no job claimed; it keeps claimed and recent uploads."""

import logging

import pytest

from function_app.domain.errors import DependencyUnavailable
from function_app.domain.uploads import APPEND_BLOB, PAGE_BLOB, new_upload_id, upload_blob_name
from function_app.services.sweeps import SweepReport
from function_app.services.upload_sweeper import UPLOAD_SWEEP_WORDING, UploadAction
from tests.fakes import FakeUploads, FakeWorld, fake_world, test_settings

TEXT = b"hello\n"


@pytest.fixture
def world() -> FakeWorld:
    # The fakes' writes are dated 2026-01-01 00:00; the clock says 12:00, TTL one hour.
    return fake_world(test_settings(UNUSED_UPLOAD_TTL_SECONDS=3600))


def store(world: FakeWorld) -> FakeUploads:
    assert isinstance(world.uploads, FakeUploads)
    return world.uploads


def put(world: FakeWorld, blob_type: str = "BlockBlob", *, recent: bool = False) -> str:
    name = upload_blob_name("alice", new_upload_id("cv.txt"), "cv.txt")
    store(world).put(name, TEXT, "text/plain", blob_type=blob_type)
    if recent:
        store(world).blobs[name].last_modified = world.clock.now()
    return name


async def test_each_kind_of_leftover_is_deleted_and_uploads_in_use_are_kept(
    world: FakeWorld,
) -> None:
    append, page = put(world, APPEND_BLOB, recent=True), put(world, PAGE_BLOB, recent=True)
    unused_old = put(world)
    claimed_old = put(world)
    await world.upload_claims.claim(claimed_old, "job-1")
    recent = put(world, recent=True)
    snapshotted = put(world, recent=True)
    store(world).snapshot(snapshotted)
    store(world).snapshot(snapshotted)

    report = await world.services.upload_sweeper.sweep()

    done = {UploadAction.WRONG_TYPE: 2, UploadAction.SNAPSHOTS: 1, UploadAction.UNUSED: 1}
    assert report == SweepReport(seen=6, done=done, failed=0, wording=UPLOAD_SWEEP_WORDING)
    assert set(store(world).blobs) == {claimed_old, recent, snapshotted}
    assert store(world).blobs[snapshotted].snapshots == []
    assert {append, page, unused_old} <= set(store(world).deleted)


async def test_an_old_upload_with_snapshots_and_no_claim_is_deleted_with_them(
    world: FakeWorld,
) -> None:
    name = put(world)
    store(world).snapshot(name)
    report = await world.services.upload_sweeper.sweep()
    assert (report.count(UploadAction.UNUSED), report.count(UploadAction.SNAPSHOTS)) == (1, 0)
    assert name not in store(world).blobs


async def test_an_upload_is_unused_only_after_the_ttl(world: FakeWorld) -> None:
    name = put(world, recent=True)
    assert (await world.services.upload_sweeper.sweep()).count(UploadAction.UNUSED) == 0
    world.clock.advance(3601)
    assert (await world.services.upload_sweeper.sweep()).count(UploadAction.UNUSED) == 1
    assert name not in store(world).blobs


async def test_only_uploads_are_swept(world: FakeWorld) -> None:
    store(world).put("elsewhere/cv.txt", TEXT, "text/plain", blob_type=PAGE_BLOB)
    assert (await world.services.upload_sweeper.sweep()).seen == 0
    assert "elsewhere/cv.txt" in store(world).blobs


async def test_a_failure_on_one_blob_is_logged_and_the_sweep_goes_on(
    world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = put(world, PAGE_BLOB), put(world, PAGE_BLOB)
    real_delete = store(world).delete

    async def flaky(blob_name: str, *, snapshots_only: bool = False) -> bool:
        if blob_name == first:
            raise DependencyUnavailable("storage", "blob storage delete failed")
        return await real_delete(blob_name, snapshots_only=snapshots_only)

    store(world).delete = flaky  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING):
        report = await world.services.upload_sweeper.sweep()
    assert (report.count(UploadAction.WRONG_TYPE), report.failed) == (1, 1)
    assert first in store(world).blobs
    assert second not in store(world).blobs
    assert f"upload sweep of {first} failed" in caplog.text


def test_an_upload_sweep_report_reads_as_one_line_for_the_timer_log() -> None:
    done = {UploadAction.WRONG_TYPE: 1, UploadAction.SNAPSHOTS: 2, UploadAction.UNUSED: 3}
    report = SweepReport(seen=9, done=done, failed=1, wording=UPLOAD_SWEEP_WORDING)
    assert report.summary() == (
        "9 blobs, 1 append/page blobs deleted, 2 with snapshots trimmed, 3 unused deleted, 1 failed"
    )
