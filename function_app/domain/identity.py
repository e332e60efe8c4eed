"""Who is calling: an owner, and for stream tokens what they may read (one job, or the
owner's feed)."""

from dataclasses import dataclass

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Caller:
    owner: str
    # Set when the caller authenticated with a stream token: read access to this job only
    # (its status and its stream), nothing else.
    job_scope: str | None = None
    # Set when the caller authenticated with a feed token: read access to the owner's feed
    # (every event of their jobs, `GET /api/events`), nothing else.
    feed_scope: bool = False

    @property
    def is_stream_token(self) -> bool:
        return self.job_scope is not None or self.feed_scope

    def may_read(self, job_id: str, job_owner: str) -> bool:
        if job_owner != self.owner or self.feed_scope:
            return False
        return self.job_scope is None or self.job_scope == job_id

    @property
    def may_read_feed(self) -> bool:
        """The owner's feed: the owner itself, or a feed token (not a one-job token)."""
        return self.job_scope is None

    @property
    def may_write(self) -> bool:
        """Stream tokens are read-only: no uploads, no enqueue, no cancel."""
        return not self.is_stream_token
