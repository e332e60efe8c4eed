"""Which upload a job runs on: named exactly (`data.blobName`), or by the file name its presign
answered (`data.fileName`, as seed 001's frontend does), and the claim that marks it used.

By `fileName`: the caller's newest upload of that name that no job has used yet. The caller's
uploads of one name share a blob-name prefix (`domain.uploads.uploads_named`), so finding
them is one short listing; a claim row per used upload (`UploadClaims`) tells used from
unused, and claiming it is what makes two racing enqueues agree on one winner. By
`blobName`: that blob, used or not (running the same file again is what it is for).
Either way the blob must be the caller's, present, non-empty, within the size limit and of
an allowed content type; the choice is checked before anything is written.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from function_app.domain.errors import Conflict, InvalidRequest, NotFound, TooLarge, Unprocessable
from function_app.domain.uploads import (
    ContentTypePolicy,
    is_owned_upload,
    upload_file_name,
    uploads_named,
)
from function_app.ports import BlobInfo, UploadClaims, UploadStore

# More uploads of one name than this are not looked through (the newest are not ordered
# by the listing, so this bounds the work, not the choice among the first ones).
MAX_SAME_NAME_UPLOADS = 100
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class UploadRules:
    max_bytes: int
    content_types: ContentTypePolicy


@dataclass(frozen=True)
class ChosenUpload:
    blob: BlobInfo
    by_file_name: bool  # then the claim must be ours: another job may not have taken it


class JobUploads:
    def __init__(self, store: UploadStore, claims: UploadClaims, rules: UploadRules) -> None:
        self._store = store
        self._claims = claims
        self._rules = rules

    async def choose(self, owner: str, data: Mapping[str, Any]) -> ChosenUpload:
        blob_name = data.get("blobName")
        if blob_name is not None:
            if not isinstance(blob_name, str) or not blob_name:
                raise InvalidRequest(
                    "data.blobName must be the blobName the presign answered",
                    details=[{"field": "data.blobName", "problem": "non-empty string"}],
                )
            return ChosenUpload(self._checked(await self._exactly(owner, blob_name)), False)
        file_name = data.get("fileName")
        if not isinstance(file_name, str) or not file_name:
            raise InvalidRequest(
                "data.blobName is required (or data.fileName, naming an upload by the "
                "fileName its presign answered)",
                details=[{"field": "data.blobName", "problem": "required string"}],
            )
        return ChosenUpload(self._checked(await self._newest_unused(owner, file_name)), True)

    async def claim(self, chosen: ChosenUpload, job_id: str) -> bool:
        """Mark the upload used by `job_id`; True when this job holds the claim."""
        won = await self._claims.claim(chosen.blob.name, job_id)
        if not won and chosen.by_file_name:
            raise Conflict(
                f"another job took the upload {upload_file_name(chosen.blob.name)!r} just now; "
                "upload the file again, or pass data.blobName to run that upload again",
                code="upload_already_used",
            )
        return won

    async def release(self, blob_name: str, job_id: str) -> None:
        """Best effort, for a job that was never queued: its upload counts as unused again."""
        await self._claims.release(blob_name, job_id)

    async def _exactly(self, owner: str, blob_name: str) -> BlobInfo:
        # Someone else's (or a made-up) blob looks exactly like a missing one.
        info = await self._store.describe(blob_name) if is_owned_upload(owner, blob_name) else None
        if info is None:
            raise NotFound("blob not found", code="blob_not_found")
        return info

    async def _newest_unused(self, owner: str, file_name: str) -> BlobInfo:
        listed = await self._store.list_uploads(
            uploads_named(owner, file_name), MAX_SAME_NAME_UPLOADS
        )
        candidates = sorted(
            (
                b
                for b in listed
                if upload_file_name(b.name) == file_name and is_owned_upload(owner, b.name)
            ),
            key=lambda b: b.last_modified or _EPOCH,
            reverse=True,
        )
        if not candidates:
            raise NotFound(
                f"no upload named {file_name[:100]!r}: presign it and PUT the file first, "
                "or pass data.blobName",
                code="blob_not_found",
                details=[{"field": "data.fileName", "problem": "no upload with this name"}],
            )
        unused: list[BlobInfo] = []  # the newest two are enough to choose
        for blob in candidates:
            if len(unused) == 2:
                break
            if await self._claims.used_by(blob.name) is None:
                unused.append(blob)
        if unused:
            # Write times are kept to the second: two unused uploads of one name written in
            # the same second cannot be told apart, so neither is guessed.
            if len(unused) > 1 and unused[0].last_modified == unused[1].last_modified:
                raise Conflict(
                    f"two uploads named {file_name[:100]!r} were written in the same second; "
                    "pass data.blobName to say which",
                    code="ambiguous_upload",
                    details=[{"field": "data.fileName", "blobNames": [b.name for b in unused[:2]]}],
                )
            return unused[0]
        raise Conflict(
            f"every upload named {file_name[:100]!r} was already used by a job: upload the "
            "file again, or pass data.blobName to run one of them again",
            code="upload_already_used",
            details=[{"field": "data.fileName", "uploads": len(candidates)}],
        )

    def _checked(self, info: BlobInfo) -> BlobInfo:
        if info.size > self._rules.max_bytes:
            raise TooLarge(
                f"the upload is {info.size} bytes; the limit is {self._rules.max_bytes}",
                details=[{"maxBytes": self._rules.max_bytes}],
            )
        if info.size == 0:
            raise Unprocessable("the upload is empty", code="empty_upload")
        self._rules.content_types.for_stored_upload(info.name, info.content_type)
        return info
