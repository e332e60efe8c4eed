"""Who is calling: an owner, and for stream tokens the one job they may read."""

from dataclasses import dataclass

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Caller:
    owner: str
    # Set when the caller authenticated with a stream token: read access to this job only
    # (its status and its stream), nothing else.
    job_scope: str | None = None

    @property
    def is_stream_token(self) -> bool:
        return self.job_scope is not None

    def may_read(self, job_id: str, job_owner: str) -> bool:
        if job_owner != self.owner:
            return False
        return self.job_scope is None or self.job_scope == job_id

    @property
    def may_write(self) -> bool:
        """Stream tokens are read-only: no uploads, no enqueue, no cancel."""
        return self.job_scope is None
