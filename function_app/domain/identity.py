"""Who is calling: an owner, and for stream tokens what they may read (one job, or the
owner's feed)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class JobTokenWindow:
    """How long a one-job stream token reads its job: until the token's own expiry, and past
    it for as long as the job runs (an EventSource reconnects with the same URL, so a token
    must outlive a long job), then `grace` after the job ended. A leaked token of a finished
    job stops working at the later of the two: its expiry, or the end plus the grace."""

    expires_at: datetime
    grace: timedelta

    def admits(self, now: datetime, job_ended_at: datetime | None) -> bool:
        if now < self.expires_at or job_ended_at is None:
            return True
        return now < job_ended_at + self.grace


@dataclass(frozen=True)
class Caller:
    owner: str
    # Set when the caller authenticated with a stream token: read access to this job only
    # (its status and its stream), nothing else.
    job_scope: str | None = None
    # Set when the caller authenticated with a feed token: read access to the owner's feed
    # (every event of their jobs, `GET /api/events`), nothing else.
    feed_scope: bool = False
    # A one-job stream token's window (see JobTokenWindow); None for every other caller.
    token_window: JobTokenWindow | None = None

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


@dataclass(frozen=True)
class TokenGrants:
    """Which of the issuer's tokens may call (Entra ID claim names). Empty sets: no rule, so
    every token for the audience is an owner. With roles or scopes, a token needs one of the
    roles (`roles`: app roles, the claim of app-only tokens) or one of the scopes (`scp`,
    space-separated: delegated tokens); with client ids, the calling application (`azp` in
    v2 tokens, `appid` in v1) must be one of them."""

    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    client_ids: frozenset[str] = frozenset()

    def refusal(self, claims: Mapping[str, Any]) -> str | None:
        """Why a token with these (verified) claims may not call; None when it may."""
        if self.client_ids:
            client = claims.get("azp") or claims.get("appid")
            if client not in self.client_ids:
                return "the token was issued to a client application this API does not accept"
        if self.roles or self.scopes:
            roles = claims.get("roles")
            held_roles = (
                {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()
            )
            scopes = claims.get("scp")
            held_scopes = set(scopes.split()) if isinstance(scopes, str) else set()
            if not (held_roles & self.roles or held_scopes & self.scopes):
                return "the token has none of the roles or scopes this API requires"
        return None
