"""The long-poll route's answer (`GET v1/jobs/{jobId}/events`), as pydantic models.

Each event is what the stream sends as one SSE event: its `id` (`N` or `N.k`, what
`Last-Event-ID` would hold), its name (`event`) and its JSON payload (`data`), the same for
the same stored event on either route, so a client can move between them with nothing lost
or repeated.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from function_app.entrypoints.stream_vocabularies import NamedEvent


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class StreamEventOut(_Out):
    id: str = Field(description="The SSE id: `N` for a job event's sequence, `N.k` before it")
    event: str = Field(description="The SSE event name (`job_update`, `step-change`, ...)")
    data: dict[str, Any] = Field(description="The SSE event's JSON payload")

    @classmethod
    def of(cls, named: NamedEvent) -> "StreamEventOut":
        return cls(id=named.id, event=named.name, data=dict(named.payload))


class JobEventsPageOut(_Out):
    job_id: str = Field(alias="jobId")
    events: list[StreamEventOut]
    after: str = Field(
        description="Ask again with ?after= this: the last event's id, else the one asked for"
    )
    finished: bool = Field(description="The job has ended and nothing comes after this page")
    more: bool = Field(description="The page was cut at its size: more events are there now")
    retry_after_ms: int | None = Field(
        alias="retryAfterMs",
        description="When to ask again (0: at once, the server does the waiting); null: never",
    )

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")
