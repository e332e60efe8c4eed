"""Authenticator and stream tokens: modes, algorithms, issuer/audience/expiry, scope, refusals."""

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from function_app.domain.errors import DependencyUnavailable, Unauthenticated
from function_app.domain.identity import Caller, TokenGrants
from function_app.services.identity import Authenticator, UserTokenVerifier, VerifiedTokens
from function_app.services.stream_tokens import SECRET_NAME, StreamTokens
from tests.fakes import FakeSecretStore, FixedClock

SECRET = "unit-test-hs256-secret-that-is-long-enough"


def user_token(key: Any = SECRET, alg: str = "HS256", **claims: Any) -> str:
    body = {"sub": "alice", "exp": int(time.time()) + 600, **claims}
    headers = {"kid": "k1"} if alg != "HS256" else None
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, alg, headers)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def tokens(clock: FixedClock) -> StreamTokens:
    return StreamTokens.from_settings(None, FakeSecretStore(), clock, ttl_seconds=600)


def hs256(tokens: StreamTokens, **kw: Any) -> Authenticator:
    return Authenticator("jwt", tokens, UserTokenVerifier(secret=SECRET, **kw))


async def test_none_mode_is_anonymous_without_a_token(tokens: StreamTokens) -> None:
    auth = Authenticator("none", tokens)
    assert await auth.authenticate(None, None, allow_query_token=True) == Caller("anonymous")


async def test_stream_token_round_trip_is_scoped_and_read_only(tokens: StreamTokens) -> None:
    token = await tokens.issue("alice", "job1")
    caller = await Authenticator("none", tokens).authenticate(None, token, allow_query_token=True)
    assert (caller.owner, caller.job_scope, caller.feed_scope) == ("alice", "job1", False)
    assert caller.token_window is not None
    assert not caller.may_write
    assert caller.may_read("job1", "alice")
    assert not caller.may_read("job2", "alice")


async def test_stream_token_in_the_header_works_too(tokens: StreamTokens) -> None:
    token = await tokens.issue("alice", "job1")
    caller = await Authenticator("none", tokens).authenticate(
        f"Bearer {token}", None, allow_query_token=False
    )
    assert caller.job_scope == "job1"


async def test_query_token_is_ignored_where_not_allowed(tokens: StreamTokens) -> None:
    token = await tokens.issue("alice", "job1")
    caller = await Authenticator("none", tokens).authenticate(None, token, allow_query_token=False)
    assert caller == Caller("anonymous")


async def test_feed_tokens_expire(tokens: StreamTokens, clock: FixedClock) -> None:
    issued = await tokens.issue_feed("alice")
    clock.advance(601)
    with pytest.raises(Unauthenticated) as info:
        await tokens.verify(issued.token)
    assert info.value.code == "token_expired"


async def test_a_job_token_carries_its_window_past_its_expiry(
    tokens: StreamTokens, clock: FixedClock
) -> None:
    # Its job decides (visibility.visible_job): while the job runs, an EventSource reconnect
    # after the expiry must still work.
    issued_at = clock.now()
    token = await tokens.issue("alice", "job1")
    clock.advance(601)
    caller = await tokens.verify(token)
    assert caller.job_scope == "job1"
    assert caller.token_window is not None
    assert caller.token_window.expires_at == issued_at + timedelta(seconds=600)
    assert caller.token_window.grace == timedelta(seconds=60)
    assert caller.token_window.admits(clock.now(), job_ended_at=None)
    assert not caller.token_window.admits(
        clock.now(), job_ended_at=clock.now() - timedelta(seconds=61)
    )


async def test_a_tampered_or_foreign_stream_token_is_refused(
    tokens: StreamTokens, clock: FixedClock
) -> None:
    token = await tokens.issue("alice", "job1")
    other = StreamTokens.from_settings(None, FakeSecretStore(), clock, ttl_seconds=600)
    forged = await other.issue("alice", "job1")
    header, payload, sig = token.split(".")
    flipped = header + "." + payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    for bad in (forged, flipped, "garbage", token + "x"):
        with pytest.raises(Unauthenticated):
            await Authenticator("none", tokens).authenticate(None, bad, allow_query_token=True)


async def test_the_key_is_generated_once_and_kept_in_the_secret_store(clock: FixedClock) -> None:
    store = FakeSecretStore()
    a = StreamTokens.from_settings(None, store, clock, 600)
    b = StreamTokens.from_settings(None, store, clock, 600)  # another instance, same store
    token = await a.issue("alice", "job1")
    assert (await b.verify(token)).owner == "alice"
    assert len(store.secrets[SECRET_NAME]) == 32


async def test_a_configured_stream_secret_is_used(clock: FixedClock) -> None:
    store = FakeSecretStore()
    tokens = StreamTokens.from_settings("configured-secret-0123456789abcdef", store, clock, 600)
    await tokens.issue("alice", "j")
    assert store.secrets == {}


async def test_jwt_mode_requires_a_bearer_token(tokens: StreamTokens) -> None:
    auth = hs256(tokens)
    for header in (None, "", "Basic abc", "Bearer", "Bearer   "):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(header, None, allow_query_token=False)


async def test_hs256_user_token_gives_its_sub(tokens: StreamTokens) -> None:
    caller = await hs256(tokens).authenticate(
        f"Bearer {user_token()}", None, allow_query_token=False
    )
    assert caller == Caller("alice")
    assert caller.may_write


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": int(time.time()) - 3600}, "token_expired"),
        ({"sub": None}, "invalid_token"),
        ({"sub": ""}, "invalid_token"),
        ({"iss": "https://evil.example"}, "invalid_token"),
        ({"aud": "someone-else"}, "invalid_token"),
    ],
)
async def test_bad_user_tokens_are_refused(
    tokens: StreamTokens, claims: dict[str, Any], code: str
) -> None:
    auth = hs256(tokens, issuer="https://issuer.example", audience="api://jobstream")
    good = {"iss": "https://issuer.example", "aud": "api://jobstream"}
    with pytest.raises(Unauthenticated) as info:
        await auth.authenticate(
            f"Bearer {user_token(**{**good, **claims})}", None, allow_query_token=False
        )
    assert info.value.code == code


GRANTS = TokenGrants(
    roles=frozenset({"Jobs.ReadWrite"}),
    scopes=frozenset({"jobs.write"}),
    client_ids=frozenset({"spa-client-id", "daemon-client-id"}),
)


@pytest.mark.parametrize(
    "claims",
    [
        {"azp": "spa-client-id", "scp": "profile jobs.write"},  # v2 delegated
        {"appid": "daemon-client-id", "roles": ["Other", "Jobs.ReadWrite"]},  # v1 app-only
    ],
)
async def test_a_token_with_a_required_grant_from_an_allowed_client_is_an_owner(
    tokens: StreamTokens, claims: dict[str, Any]
) -> None:
    auth = hs256(tokens, grants=GRANTS)
    caller = await auth.authenticate(
        f"Bearer {user_token(**claims)}", None, allow_query_token=False
    )
    assert caller == Caller("alice")


@pytest.mark.parametrize(
    "claims",
    [
        {"azp": "some-other-app-in-the-tenant", "scp": "jobs.write"},
        {"scp": "jobs.write"},  # no client claim at all
        {"azp": "spa-client-id", "scp": "profile jobs.read"},
        {"azp": "spa-client-id", "roles": ["Jobs.Read"]},
        {"azp": "spa-client-id", "roles": "Jobs.ReadWrite"},  # not a list: not a role claim
        {"azp": "spa-client-id"},
    ],
)
async def test_a_valid_token_without_the_required_grants_is_refused(
    tokens: StreamTokens, claims: dict[str, Any]
) -> None:
    # Without these settings, any app in the tenant that gets a token for the audience is an
    # owner; with them, only the listed clients holding a listed role or scope.
    auth = hs256(tokens, grants=GRANTS)
    with pytest.raises(Unauthenticated) as info:
        await auth.authenticate(f"Bearer {user_token(**claims)}", None, allow_query_token=False)
    assert info.value.code == "insufficient_scope"


async def test_without_grants_any_token_for_the_audience_is_an_owner(tokens: StreamTokens) -> None:
    caller = await hs256(tokens).authenticate(
        f"Bearer {user_token(azp='any-app')}", None, allow_query_token=False
    )
    assert caller == Caller("alice")


async def test_a_user_token_as_large_as_entra_sends_with_many_groups_is_accepted(
    tokens: StreamTokens,
) -> None:
    # 200 group ids (Entra's most before it sends an overage claim): about 12 KB of JWT.
    groups = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(200)]
    token = user_token(groups=groups, name="A" * 1000)
    assert 10_000 < len(token) < 16 * 1024
    caller = await hs256(tokens).authenticate(f"Bearer {token}", None, allow_query_token=False)
    assert caller == Caller("alice")
    with pytest.raises(Unauthenticated) as info:
        await hs256(tokens).authenticate(
            f"Bearer {user_token(padding='x' * 16 * 1024)}", None, allow_query_token=False
        )
    assert info.value.code == "invalid_token"


async def test_a_token_signed_with_another_secret_is_refused(tokens: StreamTokens) -> None:
    token = user_token(key="another-secret-another-secret-0000")
    with pytest.raises(Unauthenticated):
        await hs256(tokens).authenticate(f"Bearer {token}", None, allow_query_token=False)


async def test_alg_none_is_refused(tokens: StreamTokens) -> None:
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, "", algorithm="none")
    with pytest.raises(Unauthenticated):
        await hs256(tokens).authenticate(f"Bearer {token}", None, allow_query_token=False)


async def test_user_tokens_mean_nothing_in_none_mode(tokens: StreamTokens) -> None:
    with pytest.raises(Unauthenticated):
        await Authenticator("none", tokens).authenticate(
            f"Bearer {user_token()}", None, allow_query_token=False
        )


async def test_a_stream_token_is_not_a_user_token_even_with_the_same_secret(
    clock: FixedClock,
) -> None:
    shared = StreamTokens.from_settings(SECRET, FakeSecretStore(), clock, 600)
    stream = await shared.issue("alice", "job1")
    # Verified as a user token, its audience and type keep it out.
    with pytest.raises(Unauthenticated):
        await UserTokenVerifier(secret=SECRET).owner(stream)


# --- JWKS from an OIDC issuer, over real HTTP ----------------------------------------------


class Issuer:
    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        return {
            "keys": [
                {**rsa_jwk, "kid": "k1", "use": "sig", "alg": "RS256"},
                {**ec_jwk, "kid": "k2", "use": "sig", "alg": "ES256"},
            ]
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                elif self.path == "/keys":
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler

    def token(self, alg: str = "RS256", **claims: Any) -> str:
        key = self.rsa if alg == "RS256" else self.ec
        kid = "k1" if alg == "RS256" else "k2"
        body: dict[str, Any] = {"sub": "carol", "iss": self.url, "aud": "api://jobstream"}
        body["exp"] = int(time.time()) + 600
        body.update(claims)
        return jwt.encode(body, key, alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_jwks_tokens_are_verified_with_discovered_keys(
    tokens: StreamTokens, issuer: Issuer, alg: str
) -> None:
    auth = Authenticator(
        "jwt", tokens, UserTokenVerifier(issuer=issuer.url, audience="api://jobstream")
    )
    caller = await auth.authenticate(f"Bearer {issuer.token(alg)}", None, allow_query_token=False)
    assert caller == Caller("carol")
    assert "/.well-known/openid-configuration" in issuer.requests
    assert "/keys" in issuer.requests


async def test_jwks_keys_are_cached(tokens: StreamTokens, issuer: Issuer) -> None:
    verifier = UserTokenVerifier(issuer=issuer.url, audience="api://jobstream")
    await verifier.owner(issuer.token())
    fetched = issuer.requests.count("/keys")
    for _ in range(3):
        await verifier.owner(issuer.token())
    assert issuer.requests.count("/keys") == fetched


async def test_concurrent_first_requests_discover_and_fetch_the_keys_once(
    tokens: StreamTokens, issuer: Issuer
) -> None:
    before = list(issuer.requests)
    verifier = UserTokenVerifier(issuer=issuer.url, audience="api://jobstream")
    owners = await asyncio.gather(*(verifier.owner(issuer.token(sub=f"u{i}")) for i in range(50)))
    assert owners == [f"u{i}" for i in range(50)]
    new = issuer.requests[len(before) :]
    assert new.count("/.well-known/openid-configuration") == 1
    assert new.count("/keys") == 1


async def test_jwks_tokens_with_wrong_audience_or_foreign_key_are_refused(
    tokens: StreamTokens, issuer: Issuer
) -> None:
    verifier = UserTokenVerifier(issuer=issuer.url, audience="api://jobstream")
    with pytest.raises(Unauthenticated):
        await verifier.owner(issuer.token(aud="api://other"))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"sub": "carol", "iss": issuer.url, "aud": "api://jobstream", "exp": int(time.time()) + 60},
        stranger,
        "RS256",
        headers={"kid": "k1"},
    )
    with pytest.raises(Unauthenticated):
        await verifier.owner(forged)


async def test_hs256_is_refused_when_only_jwks_is_configured(
    tokens: StreamTokens, issuer: Issuer
) -> None:
    verifier = UserTokenVerifier(issuer=issuer.url, audience="api://jobstream")
    with pytest.raises(Unauthenticated):
        await verifier.owner(user_token(iss=issuer.url, aud="api://jobstream"))


async def test_an_unreachable_issuer_is_unavailable_without_echoing_the_error(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    # The discovery document is not there (404): httpx's error text names the full URL.
    broken = issuer.url + "/no-such-tenant"
    verifier = UserTokenVerifier(issuer=broken, audience="api://jobstream")
    with caplog.at_level("WARNING"), pytest.raises(DependencyUnavailable) as info:
        await verifier.owner(issuer.token(iss=broken))
    assert info.value.dependency == "identity"
    assert info.value.message == "OIDC discovery failed"
    assert "no-such-tenant" in caplog.text  # the cause is logged server-side
    assert "404" in caplog.text


async def test_concurrent_first_uses_of_the_stream_token_key_read_it_once(
    clock: FixedClock,
) -> None:
    """The key comes from the table (a round trip): fifty first requests wait for one read."""
    reads = 0

    class SlowSecretStore(FakeSecretStore):
        async def get_or_create(self, name: str, factory: Callable[[], bytes]) -> bytes:
            nonlocal reads
            reads += 1
            await asyncio.sleep(0.01)
            return await super().get_or_create(name, factory)

    fresh = StreamTokens.from_settings(None, SlowSecretStore(), clock, 600)
    issued = await asyncio.gather(*(fresh.issue("alice", f"job-{i}") for i in range(50)))
    assert reads == 1
    callers = await asyncio.gather(*(fresh.verify(t) for t in issued))
    assert {c.job_scope for c in callers} == {f"job-{i}" for i in range(50)}


class CountingVerifier(UserTokenVerifier):
    def __init__(self) -> None:
        super().__init__(secret=SECRET)
        self.verified = 0

    async def verify(self, token: str) -> tuple[str, int]:
        self.verified += 1
        return await super().verify(token)


async def test_a_verified_user_token_is_not_checked_again(tokens: StreamTokens) -> None:
    verifier = CountingVerifier()
    auth = Authenticator("jwt", tokens, verifier)
    token = user_token()
    for _ in range(5):
        assert await auth.authenticate(f"Bearer {token}", None, allow_query_token=False) == Caller(
            "alice"
        )
    assert verifier.verified == 1


async def test_a_refused_token_is_checked_every_time(tokens: StreamTokens) -> None:
    verifier = CountingVerifier()
    auth = Authenticator("jwt", tokens, verifier)
    forged = user_token(key="another-secret-that-is-long-enough-too")
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(f"Bearer {forged}", None, allow_query_token=False)
    assert verifier.verified == 3


async def test_a_remembered_stream_token_still_expires(
    tokens: StreamTokens, clock: FixedClock
) -> None:
    remembered = VerifiedTokens(clock, max_age_seconds=10 * tokens.ttl_seconds)
    auth = Authenticator("none", tokens, verified=remembered)
    token = (await tokens.issue_feed("alice")).token
    assert await auth.authenticate(None, token, allow_query_token=True) == Caller(
        "alice", feed_scope=True
    )
    assert len(remembered) == 1
    clock.advance(tokens.ttl_seconds + 1)
    with pytest.raises(Unauthenticated) as info:
        await auth.authenticate(None, token, allow_query_token=True)
    assert info.value.code == "token_expired"


async def test_remembered_tokens_are_forgotten_after_max_age_and_bounded(clock: FixedClock) -> None:
    verified = VerifiedTokens(clock, max_entries=3, max_age_seconds=60)
    far = clock.now().timestamp() + 3600
    for name in "abcd":
        verified.put(name, Caller(name), far)
    assert len(verified) == 3
    assert verified.get("a") is None  # the least recently used went first
    assert verified.get("d") == Caller("d")
    clock.advance(61)
    assert verified.get("d") is None
