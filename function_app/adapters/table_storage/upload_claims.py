"""`UploadClaims` on the jobs table: which job first used an upload.

| PartitionKey                  | RowKey  | what                     |
|-------------------------------|---------|--------------------------|
| `upload-<sha256(blob name)>`  | `claim` | `jobId` of the first job |

A claim is an insert-if-absent, so two enqueues racing for one upload agree on one winner; a
release deletes the row only while it still names the releasing job (its ETag pins it).
"""

import hashlib

from function_app.adapters.table_storage.rows import TableRows

UPLOAD_PREFIX = "upload-"
CLAIM_ROW = "claim"


def claim_partition(blob_name: str) -> str:
    return UPLOAD_PREFIX + hashlib.sha256(blob_name.encode("utf-8")).hexdigest()


class TableUploadClaims:
    def __init__(self, rows: TableRows) -> None:
        self._rows = rows

    async def used_by(self, blob_name: str) -> str | None:
        row = await self._rows.get(claim_partition(blob_name), CLAIM_ROW)
        return None if row is None else str(row["jobId"])

    async def claim(self, blob_name: str, job_id: str) -> bool:
        row = {"PartitionKey": claim_partition(blob_name), "RowKey": CLAIM_ROW, "jobId": job_id}
        return await self._rows.insert_if_absent(row, "claim upload")

    async def release(self, blob_name: str, job_id: str) -> None:
        partition = claim_partition(blob_name)
        row = await self._rows.get(partition, CLAIM_ROW)
        if row is None or row.get("jobId") != job_id:
            return
        await self._rows.delete_if_unchanged(
            partition, CLAIM_ROW, row.metadata["etag"], "release upload"
        )
