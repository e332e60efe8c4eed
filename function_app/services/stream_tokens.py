"""Stream tokens: short-lived, signed, read-only access to one job's status and stream, or
(a feed token) to the owner's feed of all their jobs' events.

A stream token is an HS256 JWT with its own header type (`jobstream-stream+jwt`), issuer and
audience, signed with a key that is never the user-token secret's role: STREAM_TOKEN_SECRET
when set, otherwise a random key created once at run time and kept in the secret store. The
audience and type make sure a stream token never passes as a user token and vice versa.
Tokens are never logged.

Lifetimes: a feed token works until its `exp` (STREAM_TOKEN_TTL_SECONDS after it was issued;
clients ask for a new one). A one-job token is judged against its job (`JobTokenWindow`, checked
where the job is read): until its `exp`, past it while the job runs, then
STREAM_TOKEN_GRACE_SECONDS after the job ended.
"""

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from function_app.domain.errors import Unauthenticated
from function_app.domain.identity import Caller, JobTokenWindow
from function_app.ports import Clock, SecretStore

STREAM_TOKEN_TYPE = "jobstream-stream+jwt"  # noqa: S105 (a name, not a secret)
STREAM_TOKEN_ISSUER = "jobstream"  # noqa: S105 (a name, not a secret)
STREAM_TOKEN_AUDIENCE = "jobstream:stream"  # noqa: S105 (a name, not a secret)
FEED_SCOPE = "feed"
SECRET_NAME = "stream-token-key"  # noqa: S105 (a name, not a secret)
# Our own tokens are a few hundred characters; anything longer is not one of them.
MAX_STREAM_TOKEN_CHARS = 2048


def random_key() -> bytes:
    return os.urandom(32)


def is_stream_token(token: str) -> bool:
    """True when the token says it is a stream token (its signature is not checked here)."""
    try:
        return jwt.get_unverified_header(token).get("typ") == STREAM_TOKEN_TYPE
    except jwt.PyJWTError:
        return False


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime  # the token's own `exp`


class StreamTokens:
    def __init__(
        self,
        key_source: Callable[[], Awaitable[bytes]],
        clock: Clock,
        ttl_seconds: int,
        grace_seconds: int = 60,
    ) -> None:
        self._key_source = key_source
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._grace = timedelta(seconds=grace_seconds)
        self._key: bytes | None = None
        self._key_lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls,
        secret: str | None,
        secrets: SecretStore,
        clock: Clock,
        ttl_seconds: int,
        factory: Callable[[], bytes] = random_key,
        *,
        grace_seconds: int = 60,
    ) -> "StreamTokens":
        """Key = `secret` when configured, else the secret store's run-time generated key."""
        if secret:
            fixed = secret.encode("utf-8")

            async def configured() -> bytes:
                return fixed

            return cls(configured, clock, ttl_seconds, grace_seconds)

        async def generated() -> bytes:
            return await secrets.get_or_create(SECRET_NAME, factory)

        return cls(generated, clock, ttl_seconds, grace_seconds)

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    async def _signing_key(self) -> bytes:
        if self._key is None:
            async with self._key_lock:
                if self._key is None:
                    self._key = await self._key_source()
        return self._key

    async def issue(self, owner: str, job_id: str) -> str:
        """A token that reads one job (`jid`)."""
        return (await self._issue(owner, {"jid": job_id})).token

    async def issue_feed(self, owner: str) -> IssuedToken:
        """A token that reads the owner's feed (`scp: feed`), no single job; with its expiry."""
        return await self._issue(owner, {"scp": FEED_SCOPE})

    async def _issue(self, owner: str, scope: dict[str, str]) -> IssuedToken:
        now = self._clock.now()
        exp = int((now + self._ttl).timestamp())
        claims = {
            "iss": STREAM_TOKEN_ISSUER,
            "aud": STREAM_TOKEN_AUDIENCE,
            "sub": owner,
            **scope,
            "iat": int(now.timestamp()),
            "exp": exp,
        }
        key = await self._signing_key()
        token = jwt.encode(claims, key, algorithm="HS256", headers={"typ": STREAM_TOKEN_TYPE})
        return IssuedToken(token, datetime.fromtimestamp(exp, UTC))

    async def verify(self, token: str) -> Caller:
        """The read-only caller the token stands for; Unauthenticated when it is not valid."""
        return (await self.verify_with_expiry(token))[0]

    async def verify_with_expiry(self, token: str) -> tuple[Caller, int]:
        """`verify`, and when the token expires (epoch seconds). A feed token past its `exp`
        is refused here; a one-job token carries its window, judged where its job is read."""
        if len(token) > MAX_STREAM_TOKEN_CHARS or not is_stream_token(token):
            raise Unauthenticated("invalid stream token", code="invalid_token")
        key = await self._signing_key()
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=STREAM_TOKEN_AUDIENCE,
                issuer=STREAM_TOKEN_ISSUER,
                # Times are checked below against the app's clock, not the wall clock.
                options={
                    "require": ["exp", "sub", "aud", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise Unauthenticated("invalid stream token", code="invalid_token") from None
        exp = claims.get("exp")
        if not isinstance(exp, int):
            raise Unauthenticated("invalid stream token", code="invalid_token")
        expired = exp <= self._clock.now().timestamp()
        sub, jid, scope = claims.get("sub"), claims.get("jid"), claims.get("scp")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("invalid stream token", code="invalid_token")
        if scope == FEED_SCOPE and jid is None:
            if expired:
                raise Unauthenticated("stream token expired", code="token_expired")
            return Caller(owner=sub, feed_scope=True), exp
        if not isinstance(jid, str) or not jid or scope is not None:
            raise Unauthenticated("invalid stream token", code="invalid_token")
        window = JobTokenWindow(datetime.fromtimestamp(exp, UTC), self._grace)
        return Caller(owner=sub, job_scope=jid, token_window=window), exp
