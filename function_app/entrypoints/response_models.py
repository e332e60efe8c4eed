"""The JSON bodies the HTTP routes answer with, as pydantic models (camelCase, as the contract).

The `*_out` builders in `schemas.py` (and the routes' own) pass every answer through `answer`,
so a body the model does not allow fails in our tests, never in a client; `openapi.py` builds
the published document from these same models. A field added to an answer is added here.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from function_app.domain.jobs import JobStatus

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def answer(model: type[_Out], body: dict[str, Any]) -> dict[str, Any]:
    """`body` checked against `model` and dumped as it came (only the keys it set)."""
    return model.model_validate(body).model_dump(mode="json", exclude_unset=True)


class PresignedUploadOut(_Out):
    uploadUrl: str
    blobName: str
    fileName: str
    container: str
    expiresAt: Timestamp
    method: Literal["PUT"]
    headers: dict[str, str] = Field(description="headers the PUT must send, as given")
    maxBytes: int
    traceId: str | None = Field(description="the W3C trace id of the request (docs/tracing.md)")


class JobAcceptedOut(_Out):
    jobId: str
    status: JobStatus
    queueName: str
    jobName: str
    statusUrl: str
    streamUrl: str
    streamToken: str = Field(description="reads this one job (status, stream) for a while")
    queuePosition: int | None
    estimatedWait: int | None = Field(description="seconds, best effort; null when unknown")
    traceId: str | None = Field(description="the W3C trace id of the request (docs/tracing.md)")


class JobErrorOut(_Out):
    code: str
    message: str
    retryable: bool


class JobOut(_Out):
    jobId: str
    status: JobStatus
    progress: int
    stage: str
    message: str
    currentStep: str | None
    phase: str | None
    detail: str | None
    queueName: str
    jobName: str
    data: dict[str, Any]
    blobName: str | None
    createdAt: Timestamp
    startedAt: Timestamp | None
    completedAt: Timestamp | None
    attempts: int
    lastEventId: int
    cancelRequested: bool
    traceId: str | None = Field(description="the trace the job runs in (docs/tracing.md)")
    result: dict[str, Any] | None = Field(default=None, description="only when completed")
    error: JobErrorOut | None = Field(default=None, description="only when failed or retrying")


class QueueCountsOut(_Out):
    queueName: str
    activeMessages: int
    deadLetterMessages: int
    scheduledMessages: int


class QueueStatsOut(QueueCountsOut):
    timestamp: Timestamp


class CatalogQueueOut(_Out):
    queueName: str
    jobNames: list[str]


class CatalogOut(_Out):
    queues: list[CatalogQueueOut]


class HealthOut(_Out):
    status: Literal["healthy"]
    checks: dict[str, Literal["ok", "failing"]]
    timestamp: Timestamp


class StreamConnectionOut(_Out):
    connectionId: str
    jobId: str
    connectedAt: Timestamp
    eventsSent: int


class StreamStatsOut(_Out):
    totalConnections: int
    totalJobSubscriptions: int
    connections: list[StreamConnectionOut]


class FeedTokenOut(_Out):
    streamToken: str
    expiresAt: Timestamp
    eventsUrl: str


class ErrorDetailOut(BaseModel):
    """What a detail says depends on the code (`field`, `allowed`, `correlationId`, ...)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class ErrorOut(_Out):
    code: str
    message: str
    details: list[ErrorDetailOut]


class ErrorEnvelope(_Out):
    success: Literal[False]
    error: ErrorOut
