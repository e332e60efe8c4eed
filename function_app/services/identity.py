"""Who is calling: AUTH_MODE=none (everyone is `anonymous`) or jwt (a Bearer JWT's `sub`).

User tokens: HS256 with JWT_SECRET, or RS256/ES256 keys from the issuer's JWKS (discovered
from `{JWT_ISSUER}/.well-known/openid-configuration` unless JWT_JWKS_URL is given; keys are
cached by PyJWT's JWKS client). Issuer, audience and expiry are checked, and the optional
grants (JWT_REQUIRED_ROLES, JWT_REQUIRED_SCOPES, JWT_ALLOWED_CLIENT_IDS): a valid token without
them is refused with 401 `insufficient_scope`.

Stream tokens (see `stream_tokens`) are accepted in either mode, from the Authorization header
or, on stream routes only, from `?token=`: they yield a read-only caller scoped to one job.
Any token presented must be valid: a bad one is refused (401) even in AUTH_MODE=none, so a
client never silently runs as someone else. Tokens are never logged. A failure to reach the
issuer is logged here with its cause; the error raised carries no exception text.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

import httpx
import jwt

from function_app.domain.errors import DependencyUnavailable, Unauthenticated
from function_app.domain.identity import ANONYMOUS, Caller, TokenGrants
from function_app.ports import Clock
from function_app.services.stream_tokens import StreamTokens, is_stream_token

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
MAX_OWNER_CHARS = 256
# An Entra ID access token with the most group claims it carries (200 groups, beyond which it
# sends an overage claim instead) is about 12 KB; front ends refuse headers over 16-32 KB.
MAX_TOKEN_CHARS = 16 * 1024
JWKS_CACHE_SECONDS = 3600
HTTP_TIMEOUT_SECONDS = 10.0

logger = logging.getLogger(__name__)


class UserTokenVerifier:
    """Verifies a user's JWT and returns its `sub`."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        jwks_url: str | None = None,
        leeway_seconds: int = 30,
        grants: TokenGrants | None = None,
    ) -> None:
        if not secret and not (issuer or jwks_url):
            raise ValueError("a user token verifier needs a secret or an issuer/JWKS URL")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url
        self._leeway = leeway_seconds
        self._grants = grants or TokenGrants()
        self._jwks: jwt.PyJWKClient | None = None
        self._jwks_lock = asyncio.Lock()

    async def _jwks_client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            async with self._jwks_lock:
                if self._jwks is None:
                    url = self._jwks_url or await self._discover_jwks_url()
                    self._jwks = jwt.PyJWKClient(
                        url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=10
                    )
        return self._jwks

    async def _discover_jwks_url(self) -> str:
        assert self._issuer
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
                response = await client.get(url)
                response.raise_for_status()
                jwks_uri = response.json().get("jwks_uri")
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("OIDC discovery at %s failed: %r", url, exc)
            raise DependencyUnavailable("identity", "OIDC discovery failed") from None
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise DependencyUnavailable("identity", "OIDC discovery document has no jwks_uri")
        return jwks_uri

    async def _key_and_algorithms(self, token: str) -> tuple[Any, Sequence[str]]:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token", code="invalid_token") from None
        if algorithm == "HS256" and self._secret:
            return self._secret, ["HS256"]
        if algorithm in ASYMMETRIC_ALGORITHMS and (self._issuer or self._jwks_url):
            client = await self._jwks_client()
            try:
                signing_key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientConnectionError as exc:
                logger.warning("fetching the issuer's JWKS failed: %r", exc)
                raise DependencyUnavailable(
                    "identity", "the issuer's JWKS is unreachable"
                ) from None
            except jwt.PyJWTError:
                raise Unauthenticated("unknown signing key", code="invalid_token") from None
            return signing_key.key, list(ASYMMETRIC_ALGORITHMS)
        raise Unauthenticated("token algorithm not accepted", code="invalid_token")

    async def owner(self, token: str) -> str:
        return (await self.verify(token))[0]

    async def verify(self, token: str) -> tuple[str, int]:
        """The token's `sub` and its expiry (epoch seconds). Raises Unauthenticated."""
        key, algorithms = await self._key_and_algorithms(token)
        required = ["exp", "sub"]
        if self._issuer:
            required.append("iss")
        if self._audience:
            required.append("aud")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token", code="invalid_token") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > MAX_OWNER_CHARS:
            raise Unauthenticated("token has no usable sub", code="invalid_token")
        refusal = self._grants.refusal(claims)
        if refusal is not None:
            raise Unauthenticated(refusal, code="insufficient_scope")
        return sub, int(claims["exp"])


class VerifiedTokens:
    """Callers of tokens that verified recently, so a client's every request does not pay
    for signature checks again (a fifth of a presign's CPU, profiled).

    Safe because a token is its own bytes: one that verified once verifies again until it
    expires. An entry lives until the token's `exp`, at most `max_age_seconds` (a signing
    key the issuer withdraws stops working within that), and the cache holds at most
    `max_entries` (least recently used go first). Only tokens that verified get in.
    """

    def __init__(
        self, clock: Clock, *, max_entries: int = 4096, max_age_seconds: float = 300.0
    ) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._entries: OrderedDict[str, tuple[Caller, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Caller | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        caller, until = entry
        if self._clock.now().timestamp() >= until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return caller

    def put(self, token: str, caller: Caller, expires_at: float) -> None:
        until = min(expires_at, self._clock.now().timestamp() + self._max_age)
        self._entries[token] = (caller, until)
        self._entries.move_to_end(token)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class Authenticator:
    def __init__(
        self,
        mode: Literal["none", "jwt"],
        stream_tokens: StreamTokens,
        user_tokens: UserTokenVerifier | None = None,
        *,
        verified: VerifiedTokens | None = None,
    ) -> None:
        if mode == "jwt" and user_tokens is None:
            raise ValueError("AUTH_MODE=jwt needs a user token verifier")
        self._mode = mode
        self._stream_tokens = stream_tokens
        self._user_tokens = user_tokens
        self._verified = VerifiedTokens(stream_tokens.clock) if verified is None else verified

    async def authenticate(
        self, authorization: str | None, query_token: str | None, *, allow_query_token: bool
    ) -> Caller:
        """The caller, from the Authorization header or (stream routes) `?token=`.

        The header wins when both are present. Raises Unauthenticated (401).
        """
        token = _bearer(authorization)
        if token is None and allow_query_token and query_token:
            token = query_token
        if token is None:
            if self._mode == "none":
                return Caller(ANONYMOUS)
            raise Unauthenticated("a Bearer token is required", code="unauthenticated")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthenticated("token too long", code="invalid_token")
        caller = self._verified.get(token)
        if caller is not None:
            return caller
        if is_stream_token(token):
            caller, expires_at = await self._stream_tokens.verify_with_expiry(token)
        elif self._user_tokens is None:
            # AUTH_MODE=none: only stream tokens mean anything; refuse the rest clearly.
            raise Unauthenticated(
                "only stream tokens are accepted when AUTH_MODE=none", code="invalid_token"
            )
        else:
            owner, expires_at = await self._user_tokens.verify(token)
            caller = Caller(owner)
        self._verified.put(token, caller, expires_at)
        return caller


def _bearer(authorization: str | None) -> str | None:
    if authorization is None or not authorization.strip():
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'", code="invalid_token")
    return value.strip()
