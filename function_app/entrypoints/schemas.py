"""Request and response shapes at the HTTP edge (camelCase, as in the API contract).

Requests are read with `read_body` and parsed with `parse_body`: sent as
`Content-Type: application/json` (anything else is a 415 before the body is read, so a web page
of another origin cannot post a "simple" text/plain request that skips the CORS preflight), at
most 64 KiB, JSON, then the pydantic model; every failure is a 400 `invalid_request` (413 when
the body is too large) naming the field.
"""

import json
from datetime import datetime
from typing import Annotated, Any, overload

from azurefunctions.extensions.http.fastapi import Request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictInt,
    ValidationError,
    field_validator,
)

from function_app.domain.errors import InvalidRequest, TooLarge, UnsupportedType
from function_app.domain.jobs import Job, JobStatus
from function_app.entrypoints.response_models import (
    JobAcceptedOut,
    JobOut,
    PresignedUploadOut,
    QueueCountsOut,
    answer,
)
from function_app.ports import QueueCounts
from function_app.services.jobs import JobAccepted
from function_app.services.uploads import PresignedUpload

MAX_BODY_BYTES = 64 * 1024
JSON_MEDIA_TYPE = "application/json"
MAX_DATA_JSON_CHARS = 16 * 1024
MAX_DATA_DEPTH = 8

Name = Annotated[str, Field(min_length=1, max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class PresignIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"fileName": "cv.pdf", "contentType": "application/pdf", "size": 52341}]
        }
    )

    # The domain checks the name itself (<= 255, no separators, ...); this is only a bound.
    file_name: str = Field(alias="fileName", max_length=1024)
    content_type: str | None = Field(default=None, alias="contentType", max_length=255)
    size: StrictInt | None = Field(default=None, ge=0)
    # The file's SHA-256 (hex); the domain checks its shape (domain.uploads.check_sha256).
    sha256: str | None = Field(default=None, max_length=64)


# What enqueue itself reads from `data` (services/job_uploads.py); a job type reads the rest.
DATA_FIELDS: dict[str, JsonValue] = {
    "blobName": {"type": "string", "description": "the blobName the presign answered"},
    "fileName": {"type": "string", "description": "or the upload's file name (newest unused)"},
    "sha256": {"type": "string", "description": "the file's SHA-256, 64 hex digits"},
}


class EnqueueIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "queueName": "resume-analysis",
                    "jobName": "analyze-resume",
                    "data": {"blobName": "u/0f3c.../9a1b.../cv.pdf"},
                }
            ]
        }
    )

    queue_name: Name = Field(alias="queueName")
    job_name: Name = Field(alias="jobName")
    data: dict[str, Any] = Field(json_schema_extra={"properties": DATA_FIELDS})

    @field_validator("data")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _depth(value) > MAX_DATA_DEPTH:
            raise ValueError(f"data nests deeper than {MAX_DATA_DEPTH} levels")
        if len(json.dumps(value, separators=(",", ":"))) > MAX_DATA_JSON_CHARS:
            raise ValueError(f"data is larger than {MAX_DATA_JSON_CHARS} characters of JSON")
        return value


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in `value` (keys too) holds half a UTF-16 pair: JSON can
    escape one (`"\\ud800"`), but it is no character, and nothing downstream (hashes, UTF-8,
    storage) can encode it."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False  # not ours to judge here: the model's checks answer it
    return False


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _too_large() -> TooLarge:
    return TooLarge(f"the request body is over {MAX_BODY_BYTES} bytes", code="request_too_large")


def require_json(content_type: str | None) -> None:
    """415 unless the declared media type is application/json (parameters such as charset
    allowed). Browsers preflight such a request across origins; text/plain they do not."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise UnsupportedType(
            f"send the body as JSON with Content-Type: {JSON_MEDIA_TYPE}",
            details=[{"field": "Content-Type", "allowed": [JSON_MEDIA_TYPE]}],
        )


async def read_body(req: Request) -> bytes:
    """The JSON request body: 415 unless it is declared application/json, 413 past
    MAX_BODY_BYTES (without reading it all)."""
    require_json(req.headers.get("content-type"))
    declared = req.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in req.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


def parse_body[M: BaseModel](model: type[M], raw: bytes) -> M:
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    if not raw.strip():
        raise InvalidRequest("a JSON body is required", details=[{"field": "body"}])
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequest(
            "the body is not valid JSON",
            code="malformed_json",
            details=[{"field": "body", "problem": str(exc)[:200]}],
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequest("the body must be a JSON object", details=[{"field": "body"}])
    if _has_lone_surrogate(value):
        raise InvalidRequest(
            "the body is not valid JSON text",
            code="malformed_json",
            details=[{"field": "body", "problem": "a \\uD800-\\uDFFF escape without its pair"}],
        )
    try:
        return model.model_validate(value)
    except ValidationError:
        raise
    except RecursionError:
        raise InvalidRequest("the body nests too deeply", details=[{"field": "body"}]) from None


@overload
def iso(at: datetime) -> str: ...
@overload
def iso(at: None) -> None: ...
@overload
def iso(at: datetime | None) -> str | None: ...
def iso(at: datetime | None) -> str | None:
    """A timestamp as every payload writes it (HTTP bodies and stream events alike): ISO 8601,
    UTC as `Z`, microseconds only when there are any. None stays None (a time not reached)."""
    return None if at is None else at.isoformat().replace("+00:00", "Z")


def presigned_out(upload: PresignedUpload) -> dict[str, Any]:
    return answer(
        PresignedUploadOut,
        {
            "uploadUrl": upload.upload_url,
            "blobName": upload.blob_name,
            "fileName": upload.file_name,
            "container": upload.container,
            "expiresAt": iso(upload.expires_at),
            "method": upload.method,
            "headers": dict(upload.headers),
            "maxBytes": upload.max_bytes,
            "traceId": None if upload.trace is None else upload.trace.trace_id,
        },
    )


def status_url(job_id: str) -> str:
    return f"/api/v1/jobs/{job_id}"


def stream_url(job_id: str) -> str:
    return f"/api/v1/jobs/{job_id}/stream"


def accepted_out(accepted: JobAccepted) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobId": accepted.job_id,
        "status": str(accepted.status),
        "queueName": accepted.queue_name,
        "jobName": accepted.job_name,
        "statusUrl": status_url(accepted.job_id),
        "streamUrl": stream_url(accepted.job_id),
        "streamToken": accepted.stream_token,
        "queuePosition": accepted.queue_position,
        "estimatedWait": accepted.estimated_wait_seconds,
        "traceId": accepted.trace_id,
    }
    return answer(JobAcceptedOut, out)


# An error is shown while it explains the job's state: failed now, or retrying.
_SHOWS_ERROR = frozenset({JobStatus.FAILED, JobStatus.RETRYING})


def job_out(job: Job) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobId": job.job_id,
        "status": str(job.status),
        "progress": job.progress,
        "stage": str(job.stage),
        "message": job.message,
        "currentStep": job.step,
        "phase": job.phase,
        "detail": job.detail,
        "queueName": job.queue_name,
        "jobName": job.job_name,
        "data": dict(job.data),
        "blobName": job.blob_name,
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "completedAt": iso(job.completed_at),
        "attempts": job.attempts,
        "lastEventId": job.last_event_id,
        "cancelRequested": job.cancel_requested,
        "traceId": job.trace_id,
    }
    if job.result is not None and job.status is JobStatus.COMPLETED:
        out["result"] = dict(job.result)
    if job.error is not None and job.status in _SHOWS_ERROR:
        out["error"] = {
            "code": job.error.code,
            "message": job.error.message,
            "retryable": job.error.retryable,
        }
    return answer(JobOut, out)


def queue_counts_out(counts: QueueCounts) -> dict[str, Any]:
    """A queue's counts as the queue-stats route and the stream's `queue_stats` event give them."""
    return answer(
        QueueCountsOut,
        {
            "queueName": counts.queue_name,
            "activeMessages": counts.active,
            "deadLetterMessages": counts.dead_letter,
            "scheduledMessages": counts.scheduled,
        },
    )
