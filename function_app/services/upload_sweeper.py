"""The upload sweeper: deletes what the upload URL can leave behind and no job will use.

`UploadSweeper.sweep()` runs on a timer (entrypoints/timers.py, schedule
UPLOAD_SWEEP_SCHEDULE; the local host runs it too). Azure's lifecycle rules delete old block
and append blobs and snapshots, but not page blobs, and not on Azurite; this sweep covers
both, locally and in Azure. One listing of the uploads (with snapshots), then per blob:
- not a block blob (an append or page blob: never an upload): deleted with its snapshots;
- a block blob's snapshots: deleted (a job reads the blob itself, pinned to its ETag);
- a block blob last written more than UNUSED_UPLOAD_TTL_SECONDS ago that no job claimed
  (one claim read each): deleted. A claimed upload is kept (a job may still read it; the
  lifecycle rule removes it after UPLOAD_RETENTION days in Azure).
A failure on one blob is logged and left for the next sweep; the sweep goes on.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from function_app.domain.uploads import BLOCK_BLOB, UPLOAD_ROOT
from function_app.ports import BlobInfo, Clock, UploadClaims, UploadStore
from function_app.services.job_uploads import Listed, listed_by_name
from function_app.services.sweeps import SweepReport, Wording, sweep_each

logger = logging.getLogger(__name__)

# One sweep lists at most this many entries (blobs and snapshots: ten listing pages).
MAX_LISTED_PER_SWEEP = 50_000
CONCURRENT_DELETES = 16


class UploadAction(StrEnum):
    KEEP = "keep"
    WRONG_TYPE = "wrong_type"  # append or page blob: deleted
    SNAPSHOTS = "snapshots"  # a block blob's snapshots: deleted, the blob kept
    UNUSED = "unused"  # an old upload no job claimed: deleted


UPLOAD_SWEEP_WORDING = Wording(
    "blobs",
    {
        UploadAction.WRONG_TYPE: "append/page blobs deleted",
        UploadAction.SNAPSHOTS: "with snapshots trimmed",
        UploadAction.UNUSED: "unused deleted",
    },
)


@dataclass(frozen=True, eq=False)
class UploadSweeper:
    store: UploadStore
    claims: UploadClaims
    clock: Clock
    unused_ttl_seconds: float

    async def sweep(self) -> SweepReport[UploadAction]:
        listed = await self.store.list_uploads(
            f"{UPLOAD_ROOT}/", MAX_LISTED_PER_SWEEP, snapshots=True
        )
        blobs = list(listed_by_name(listed).values())
        report = await sweep_each(
            blobs,
            self._visit,
            at_once=CONCURRENT_DELETES,
            name=lambda blob: f"upload sweep of {blob.blob.name}",
            wording=UPLOAD_SWEEP_WORDING,
        )
        if any(report.done.values()) or report.failed:
            logger.info("upload sweep: %s", report.summary())
        return report

    async def _visit(self, blob: Listed) -> UploadAction:
        info = blob.blob
        if info.blob_type != BLOCK_BLOB:
            await self.store.delete(info.name)
            logger.info("upload sweep: deleted %s (%s)", info.name, info.blob_type)
            return UploadAction.WRONG_TYPE
        if self._is_old(info) and await self.claims.used_by(info.name) is None:
            await self.store.delete(info.name)
            logger.info("upload sweep: deleted %s (unused)", info.name)
            return UploadAction.UNUSED
        if blob.snapshots:
            await self.store.delete(info.name, snapshots_only=True)
            logger.info("upload sweep: deleted %d snapshots of %s", blob.snapshots, info.name)
            return UploadAction.SNAPSHOTS
        return UploadAction.KEEP

    def _is_old(self, info: BlobInfo) -> bool:
        return info.last_modified is not None and (
            self.clock.now() - info.last_modified > timedelta(seconds=self.unused_ttl_seconds)
        )
