"""Which upload a job runs on: named exactly (`data.blobName`), or by the file name its presign
answered (`data.fileName`, as seed 001's frontend does), and the claim that marks it used.

By `fileName`: the caller's newest upload of that name that no job has used yet. The caller's
uploads of one name share a blob-name prefix (`domain.uploads.uploads_named`), so finding
them is one short listing; a claim row per used upload (`UploadClaims`) tells used from
unused, and claiming it is what makes two racing enqueues agree on one winner. By
`blobName`: that blob, used or not (running the same file again is what it is for).
Either way the blob must be the caller's, present, a block blob without snapshots,
non-empty, within the size limit and of an allowed content type, and its first bytes (one
ranged read) must be of the type it claims; a SHA-256 declared at enqueue (`data.sha256`)
must agree with one declared at presign. The choice is checked before anything is written.
An upload refused for what it is (never usable: wrong blob type, snapshots, too large, empty,
a type not allowed or not matching its bytes) is deleted, best effort.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from function_app.domain.errors import (
    Conflict,
    DomainError,
    InvalidRequest,
    NotFound,
    TooLarge,
    Unprocessable,
    UnsupportedType,
)
from function_app.domain.file_sniffing import LEADING_BYTES, leading_bytes_match
from function_app.domain.uploads import (
    BLOCK_BLOB,
    ContentTypePolicy,
    check_sha256,
    is_owned_upload,
    upload_file_name,
    uploads_named,
)
from function_app.ports import BlobChanged, BlobInfo, BlobMissing, UploadClaims, UploadStore

logger = logging.getLogger(__name__)

# More uploads of one name than this are not looked through (the newest are not ordered
# by the listing, so this bounds the work, not the choice among the first ones).
MAX_SAME_NAME_UPLOADS = 100
# A listing of one blob name with its snapshots reads at most this many entries.
MAX_LISTED = 50
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class UploadRules:
    max_bytes: int
    content_types: ContentTypePolicy


@dataclass(frozen=True)
class ChosenUpload:
    blob: BlobInfo
    by_file_name: bool  # then the claim must be ours: another job may not have taken it


@dataclass(frozen=True)
class Listed:
    """One blob as a listing with snapshots shows it: the blob and how many snapshots."""

    blob: BlobInfo
    snapshots: int


class JobUploads:
    def __init__(self, store: UploadStore, claims: UploadClaims, rules: UploadRules) -> None:
        self._store = store
        self._claims = claims
        self._rules = rules

    async def choose(self, owner: str, data: Mapping[str, Any]) -> ChosenUpload:
        declared = data.get("sha256")
        sha256 = None if declared is None else check_sha256(declared, "data.sha256")
        blob_name = data.get("blobName")
        if blob_name is not None:
            if not isinstance(blob_name, str) or not blob_name:
                raise InvalidRequest(
                    "data.blobName must be the blobName the presign answered",
                    details=[{"field": "data.blobName", "problem": "non-empty string"}],
                )
            listed = await self._exactly(owner, blob_name)
            return await self._checked(listed, sha256, by_file_name=False)
        file_name = data.get("fileName")
        if not isinstance(file_name, str) or not file_name:
            raise InvalidRequest(
                "data.blobName is required (or data.fileName, naming an upload by the "
                "fileName its presign answered)",
                details=[{"field": "data.blobName", "problem": "required string"}],
            )
        listed = await self._newest_unused(owner, file_name)
        return await self._checked(listed, sha256, by_file_name=True)

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

    async def _exactly(self, owner: str, blob_name: str) -> Listed:
        # Someone else's (or a made-up) blob looks exactly like a missing one.
        found = (
            listed_by_name(await self._store.list_uploads(blob_name, MAX_LISTED, snapshots=True))
            if is_owned_upload(owner, blob_name)
            else {}
        )
        listed = found.get(blob_name)
        if listed is None:
            raise NotFound("blob not found", code="blob_not_found")
        return listed

    async def _newest_unused(self, owner: str, file_name: str) -> Listed:
        found = listed_by_name(
            await self._store.list_uploads(
                uploads_named(owner, file_name), MAX_SAME_NAME_UPLOADS, snapshots=True
            )
        )
        candidates = sorted(
            (
                listed
                for name, listed in found.items()
                if upload_file_name(name) == file_name and is_owned_upload(owner, name)
            ),
            key=lambda listed: listed.blob.last_modified or _EPOCH,
            reverse=True,
        )
        if not candidates:
            raise NotFound(
                f"no upload named {file_name[:100]!r}: presign it and PUT the file first, "
                "or pass data.blobName",
                code="blob_not_found",
                details=[{"field": "data.fileName", "problem": "no upload with this name"}],
            )
        unused: list[Listed] = []  # the newest two are enough to choose
        for listed in candidates:
            if len(unused) == 2:
                break
            if await self._claims.used_by(listed.blob.name) is None:
                unused.append(listed)
        if unused:
            # Write times are kept to the second: two unused uploads of one name written in
            # the same second cannot be told apart, so neither is guessed.
            first, *rest = (u.blob for u in unused)
            if rest and first.last_modified == rest[0].last_modified:
                raise Conflict(
                    f"two uploads named {file_name[:100]!r} were written in the same second; "
                    "pass data.blobName to say which",
                    code="ambiguous_upload",
                    details=[{"field": "data.fileName", "blobNames": [first.name, rest[0].name]}],
                )
            return unused[0]
        raise Conflict(
            f"every upload named {file_name[:100]!r} was already used by a job: upload the "
            "file again, or pass data.blobName to run one of them again",
            code="upload_already_used",
            details=[{"field": "data.fileName", "uploads": len(candidates)}],
        )

    async def _checked(
        self, listed: Listed, sha256: str | None, *, by_file_name: bool
    ) -> ChosenUpload:
        info = listed.blob
        if sha256 is not None and info.sha256 is not None and sha256 != info.sha256:
            raise Unprocessable(
                "data.sha256 differs from the SHA-256 declared when the file was uploaded",
                code="checksum_mismatch",
                details=[{"field": "data.sha256", "problem": "differs from the upload's"}],
            )
        try:
            await self._usable(listed)
        except (TooLarge, Unprocessable, UnsupportedType) as refused:
            await self._discard(info.name, refused)
            raise
        return ChosenUpload(info, by_file_name)

    async def _usable(self, listed: Listed) -> None:
        """Raises what makes this upload unusable by any job, whatever the request."""
        info = listed.blob
        if info.blob_type != BLOCK_BLOB:
            raise Unprocessable(
                f"the upload is a blob of type {info.blob_type}, not a block blob: upload the "
                "file again with the header 'x-ms-blob-type: BlockBlob'",
                code="unsupported_blob_type",
                details=[{"blobType": info.blob_type, "expected": BLOCK_BLOB}],
            )
        if listed.snapshots:
            raise Unprocessable(
                "the upload has snapshots, which a job cannot be pinned to: upload the file "
                "again, without taking snapshots",
                code="upload_has_snapshots",
                details=[{"snapshots": listed.snapshots}],
            )
        if info.size > self._rules.max_bytes:
            raise TooLarge(
                f"the upload is {info.size} bytes; the limit is {self._rules.max_bytes}",
                details=[{"maxBytes": self._rules.max_bytes}],
            )
        if info.size == 0:
            raise Unprocessable("the upload is empty", code="empty_upload")
        content_type = self._rules.content_types.for_stored_upload(info.name, info.content_type)
        try:
            head = await self._store.head(info.name, LEADING_BYTES, etag=info.etag)
        except (BlobMissing, BlobChanged):
            # Deleted or rewritten since it was listed: a retry sees what is there now.
            raise Conflict(
                "the upload changed while it was being checked; try again",
                code="upload_changed",
            ) from None
        if not leading_bytes_match(content_type, head):
            raise Unprocessable(
                f"the file's bytes are not {content_type}, the type it was uploaded as",
                code="type_mismatch",
                details=[{"contentType": content_type}],
            )

    async def _discard(self, blob_name: str, refused: DomainError) -> None:
        """Best effort: a refused upload is deleted (the sweeper and lifecycle rules catch
        what this misses)."""
        try:
            await self._store.delete(blob_name)
        except Exception as exc:
            logger.warning("refused upload %s (%s) not deleted: %r", blob_name, refused.code, exc)
        else:
            logger.info("refused upload %s (%s) deleted", blob_name, refused.code)


def listed_by_name(blobs: list[BlobInfo]) -> dict[str, Listed]:
    """A listing with snapshots, grouped by blob name. A blob whose base entry lies past the
    listing's limit (thousands of snapshots) is represented by its last snapshot."""
    bases: dict[str, BlobInfo] = {}
    snapshots: dict[str, int] = {}
    for blob in blobs:
        if blob.snapshot is None:
            bases[blob.name] = blob
        else:
            snapshots[blob.name] = snapshots.get(blob.name, 0) + 1
            bases.setdefault(blob.name, blob)
    return {name: Listed(blob, snapshots.get(name, 0)) for name, blob in bases.items()}
