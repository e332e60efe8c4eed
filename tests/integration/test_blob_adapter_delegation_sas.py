"""The Azure signing path: a user delegation key from a token credential, on HTTPS Azurite.

Azurite's `--oauth basic` checks a bearer token's shape, audience, issuer and lifetime (not
its signature), so a locally minted JWT stands in for the managed identity's token.
"""

import asyncio
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.storage.blob.aio import BlobServiceClient

from devstack.azurite import DEV_KEY
from function_app.adapters.blob_uploads import BlobUploads
from tests.support.azurite import HttpsAzurite

pytestmark = pytest.mark.integration

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PUT_HEADERS = {"x-ms-blob-type": "BlockBlob", "Content-Type": "text/plain"}


class LocalTokenCredential:
    """An AsyncTokenCredential minting storage-audience JWTs (stand-in for managed identity)."""

    def __init__(self) -> None:
        self.calls = 0

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        now = int(time.time())
        claims = {
            "aud": "https://storage.azure.com",
            "iss": f"https://sts.windows.net/{TENANT}/",
            "tid": TENANT,
            "oid": str(uuid.uuid4()),
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
        }
        return AccessToken(jwt.encode(claims, "local-test-key-" * 4, algorithm="HS256"), now + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> "LocalTokenCredential":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
async def container(azurite_https: HttpsAzurite) -> str:
    name = f"udk{uuid.uuid4().hex[:16]}"
    process = azurite_https.process
    connection = process.connection_string
    assert connection.startswith("DefaultEndpointsProtocol=https")
    assert DEV_KEY in connection
    async with BlobServiceClient.from_connection_string(
        connection, connection_verify=str(azurite_https.cert.cert_path)
    ) as admin:
        await admin.create_container(name)
    return name


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def uploads(
    azurite_https: HttpsAzurite, container: str, clock: Clock
) -> AsyncIterator[BlobUploads]:
    service = BlobServiceClient(
        azurite_https.process.blob_endpoint,
        credential=LocalTokenCredential(),
        connection_verify=str(azurite_https.cert.cert_path),
    )
    adapter = BlobUploads(service, container, clock=clock)
    assert adapter.uses_delegation_key
    yield adapter
    await adapter.close()


@pytest.fixture
async def http(azurite_https: HttpsAzurite) -> AsyncIterator[httpx.AsyncClient]:
    trust = ssl.create_default_context(cafile=str(azurite_https.cert.cert_path))
    async with httpx.AsyncClient(verify=trust, timeout=10) as client:
        yield client


def blob_name() -> str:
    return f"alice/{uuid.uuid4().hex}/cv.txt"


async def test_delegation_sas_creates_one_blob_and_nothing_else(
    uploads: BlobUploads, http: httpx.AsyncClient, clock: Clock
) -> None:
    name = blob_name()
    url = await uploads.sign_upload(name, "text/plain", clock.now + timedelta(minutes=5))
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).scheme == "https"
    assert query["spr"] == ["https"]  # HTTPS-only
    assert query["sp"] == ["cw"]
    assert "skoid" in query  # signed with a user delegation key, not the account key
    put = await http.put(url, content=b"delegated", headers=PUT_HEADERS)
    assert put.status_code == 201, put.text
    assert (await http.get(url)).status_code == 403
    assert (await http.delete(url)).status_code == 403
    other = url.replace(name, blob_name())
    assert (await http.put(other, content=b"x", headers=PUT_HEADERS)).status_code == 403
    assert b"".join([c async for c in uploads.read(name)]) == b"delegated"


async def test_delegation_sas_refused_after_expiry(
    uploads: BlobUploads, http: httpx.AsyncClient, clock: Clock
) -> None:
    clock.now = datetime.now(UTC) - timedelta(hours=1)
    name = blob_name()
    url = await uploads.sign_upload(name, "text/plain", clock.now + timedelta(minutes=10))
    response = await http.put(url, content=b"late", headers=PUT_HEADERS)
    assert response.status_code == 403
    assert await uploads.describe(name) is None


async def test_delegation_key_is_cached_then_renewed_before_it_expires(
    uploads: BlobUploads, http: httpx.AsyncClient, clock: Clock
) -> None:
    def key_window(url: str) -> tuple[str, str]:
        query = parse_qs(urlsplit(url).query)
        return query["skt"][0], query["ske"][0]

    # First key fetched "5 h 45 min ago": with a 6 h lifetime it is 15 min from expiry now.
    clock.now = datetime.now(UTC) - timedelta(hours=5, minutes=45)
    first = await uploads.sign_upload(blob_name(), None, clock.now + timedelta(minutes=5))
    second = await uploads.sign_upload(blob_name(), None, clock.now + timedelta(minutes=5))
    assert key_window(first) == key_window(second)  # one cached key for both

    clock.now = datetime.now(UTC)  # inside the 30 min renewal margin: a new key
    name = blob_name()
    renewed = await uploads.sign_upload(name, None, clock.now + timedelta(minutes=5))
    assert key_window(renewed) != key_window(first)
    put = await http.put(renewed, content=b"ok", headers=PUT_HEADERS)
    assert put.status_code == 201, put.text


async def test_concurrent_first_signings_fetch_one_delegation_key_and_one_token(
    azurite_https: HttpsAzurite, container: str, clock: Clock, http: httpx.AsyncClient
) -> None:
    """Fifty presigns on a cold adapter: one key request (single-flight under the adapter's
    lock), one token from the credential (azure-core's bearer policy locks its refresh)."""
    credential = LocalTokenCredential()
    service = BlobServiceClient(
        azurite_https.process.blob_endpoint,
        credential=credential,
        connection_verify=str(azurite_https.cert.cert_path),
    )
    fetch = service.get_user_delegation_key
    fetches = 0

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal fetches
        fetches += 1
        return await fetch(*args, **kwargs)

    service.get_user_delegation_key = counted  # type: ignore[method-assign]
    uploads = BlobUploads(service, container, clock=clock)
    try:
        names = [blob_name() for _ in range(50)]
        urls = await asyncio.gather(
            *(uploads.sign_upload(n, None, clock.now + timedelta(minutes=5)) for n in names)
        )
    finally:
        await uploads.close()
    assert fetches == 1
    assert credential.calls == 1
    assert len({parse_qs(urlsplit(u).query)["skt"][0] for u in urls}) == 1
    puts = await asyncio.gather(
        *(http.put(u, content=b"ok", headers=PUT_HEADERS) for u in urls[:5])
    )
    assert [p.status_code for p in puts] == [201] * 5
