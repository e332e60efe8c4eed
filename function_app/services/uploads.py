"""Presigned uploads: a create/write-only URL for one new blob under the caller's prefix.

A SHA-256 declared here travels with the file: the answer's `headers` (which the client sends
with its PUT) carry it as the blob's metadata (`x-ms-meta-sha256`), where enqueue and the
worker find it. A SAS cannot require a header, so a PUT without it declares nothing.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from function_app.domain.errors import TooLarge, Unauthenticated
from function_app.domain.identity import Caller
from function_app.domain.tracing import TraceContext
from function_app.domain.uploads import (
    SHA256_HEADER,
    ContentTypePolicy,
    check_file_name,
    check_sha256,
    new_upload_id,
    upload_blob_name,
)
from function_app.ports import Clock, Tracer, UploadSigner


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int
    content_types: ContentTypePolicy
    url_ttl_seconds: int
    container: str


@dataclass(frozen=True)
class PresignRequest:
    file_name: str
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None  # the file's SHA-256 (hex), to be verified by the worker


@dataclass(frozen=True)
class PresignedUpload:
    upload_url: str
    blob_name: str
    file_name: str
    container: str
    expires_at: datetime
    content_type: str
    max_bytes: int
    method: str = "PUT"
    headers: Mapping[str, str] = field(default_factory=dict)
    # The trace the presign ran in (the caller's `traceparent`, or a new one): send it back
    # as that `traceparent` on the enqueue and the job joins it (docs/tracing.md).
    trace: TraceContext | None = None


@dataclass(frozen=True)
class UploadService:
    signer: UploadSigner
    clock: Clock
    policy: UploadPolicy
    tracer: Tracer
    new_id: Callable[[str], str] = new_upload_id

    async def presign(self, caller: Caller, request: PresignRequest) -> PresignedUpload:
        """A URL for one new blob, in a span of its own (a child of the request's)."""
        with self.tracer.span("jobstream.presign") as span:
            # No file or blob name in the span: a file name can be personal data.
            return replace(await self._presign(caller, request), trace=span.context)

    async def _presign(self, caller: Caller, request: PresignRequest) -> PresignedUpload:
        if not caller.may_write:
            raise Unauthenticated("a stream token cannot upload", code="read_only_token")
        file_name = check_file_name(request.file_name)
        content_type = self.policy.content_types.for_new_upload(file_name, request.content_type)
        if request.size is not None and request.size > self.policy.max_bytes:
            raise TooLarge(
                f"declared size {request.size} is over the {self.policy.max_bytes} byte limit",
                details=[{"maxBytes": self.policy.max_bytes}],
            )
        sha256 = None if request.sha256 is None else check_sha256(request.sha256, "sha256")
        blob_name = upload_blob_name(caller.owner, self.new_id(file_name), file_name)
        expires_at = self.clock.now() + timedelta(seconds=self.policy.url_ttl_seconds)
        url = await self.signer.sign_upload(blob_name, content_type, expires_at)
        return PresignedUpload(
            upload_url=url,
            blob_name=blob_name,
            file_name=file_name,
            container=self.policy.container,
            expires_at=expires_at,
            content_type=content_type,
            max_bytes=self.policy.max_bytes,
            headers={
                "x-ms-blob-type": "BlockBlob",
                "Content-Type": content_type,
                **({SHA256_HEADER: sha256} if sha256 else {}),
            },
        )
