"""The uploads container in Blob Storage: signs one-blob upload URLs and reads uploads back.

Implements `UploadSigner` and `UploadStore` (and a `check()` health probe) on the async
Blob SDK. One signer, two key sources:

- a connection string with an account key (Azurite, local): account-key SAS;
- an endpoint + a token credential (Azure, managed identity): a user delegation key,
  fetched once, cached, and refreshed before it expires.

Every SAS names exactly one blob, grants create+write only (no read, list, delete),
starts a minute in the past (clock skew), is HTTPS-only when the endpoint is HTTPS, and
expires when the caller says. Reads report the blob's type and the SHA-256 its uploader
declared (metadata `sha256`); `head` is one ranged read of the first bytes; `delete` takes
the blob's snapshots with it. SDK exceptions stop here: callers see `BlobMissing`,
`BlobChanged` (a read pinned to an ETag found another version) or
`DependencyUnavailable("storage", ...)`.

(Over 300 lines on purpose: one adapter per Azure service. Signing and reading share the one
client, its retry and timeout options and the mapping of SDK errors, which would otherwise
be written twice or imported back and forth.)
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import (
    BlobProperties,
    BlobSasPermissions,
    UserDelegationKey,
    generate_blob_sas,
)
from azure.storage.blob.aio import BlobServiceClient, ExponentialRetry

from function_app.domain.errors import DependencyUnavailable
from function_app.domain.uploads import BLOCK_BLOB, declared_sha256
from function_app.ports import BlobChanged, BlobInfo, BlobMissing

SAS_START_SKEW = timedelta(minutes=1)
# A user delegation key may live up to 7 days; we ask for a few hours and renew early.
DELEGATION_KEY_LIFETIME = timedelta(hours=6)
DELEGATION_KEY_RENEW_BEFORE = timedelta(minutes=30)
# Download granularity: small enough for steady progress reports while a job reads.
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
# The SDK's default retry waits 15 s, 18 s, 24 s: far too long behind an HTTP request.
RETRY_TOTAL = 2
CONNECTION_TIMEOUT_SECONDS = 5


def _client_options(env_proxies: bool) -> dict[str, Any]:
    return {
        "use_env_settings": env_proxies,
        "max_single_get_size": DOWNLOAD_CHUNK_BYTES,
        "max_chunk_get_size": DOWNLOAD_CHUNK_BYTES,
        "retry_policy": ExponentialRetry(
            initial_backoff=1, increment_base=2, retry_total=RETRY_TOTAL
        ),
        "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BlobUploads:
    """The uploads container: `UploadSigner`, `UploadStore` and a health probe."""

    name = "storage"

    def __init__(
        self,
        service: BlobServiceClient,
        container: str,
        *,
        account_key: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """`account_key` set: account-key SAS. Unset: user delegation SAS (token credential)."""
        self._service = service
        self._container_name = container
        self._container = service.get_container_client(container)
        self._container_url = self._container.url
        self._account_key = account_key
        self._clock = clock
        self._delegation_key: UserDelegationKey | None = None
        self._delegation_key_expires: datetime | None = None
        self._delegation_lock = asyncio.Lock()

    @classmethod
    def from_connection_string(
        cls, connection_string: str, container: str, *, env_proxies: bool = True
    ) -> "BlobUploads":
        """`env_proxies`: honour HTTP(S)_PROXY (see `Settings.proxies_from_environment`)."""
        service = BlobServiceClient.from_connection_string(
            connection_string, **_client_options(env_proxies)
        )
        key = getattr(service.credential, "account_key", None)
        if not key:
            raise ValueError("STORAGE_CONNECTION_STRING must contain an AccountKey to sign SAS")
        return cls(service, container, account_key=key)

    @classmethod
    def from_endpoint(
        cls,
        endpoint: str,
        credential: AsyncTokenCredential,
        container: str,
        *,
        env_proxies: bool = True,
    ) -> "BlobUploads":
        service = BlobServiceClient(endpoint, credential=credential, **_client_options(env_proxies))
        return cls(service, container)

    @property
    def container(self) -> str:
        return self._container_name

    def blob_url(self, blob_name: str) -> str:
        """The blob's URL, as `BlobClient.url` spells it, without building a client (a whole
        HTTP pipeline: a sixth of a presign's CPU, profiled)."""
        return f"{self._container_url}/{quote(blob_name, safe='~/')}"

    @property
    def uses_delegation_key(self) -> bool:
        return self._account_key is None

    # --- UploadSigner ---------------------------------------------------------------------

    async def sign_upload(
        self, blob_name: str, content_type: str | None, expires_at: datetime
    ) -> str:
        """A create/write-only SAS URL for exactly `blob_name`, valid until `expires_at`.

        `content_type` is not part of the signature: Blob SAS cannot pin a request header.
        The caller sends it as the `Content-Type`/`x-ms-blob-content-type` header.
        """
        del content_type
        now = self._clock()
        if expires_at <= now:
            raise ValueError("expires_at must be in the future")
        key = None if self._account_key else await self._user_delegation_key(expires_at)
        sas = generate_blob_sas(
            account_name=self._service.account_name or "",
            container_name=self._container_name,
            blob_name=blob_name,
            account_key=self._account_key,
            user_delegation_key=key,
            permission=BlobSasPermissions(create=True, write=True),
            start=(now - SAS_START_SKEW).astimezone(UTC),
            expiry=expires_at.astimezone(UTC),
            protocol="https" if self._service.scheme == "https" else None,
        )
        return f"{self.blob_url(blob_name)}?{sas}"

    async def _user_delegation_key(self, needed_until: datetime) -> UserDelegationKey:
        """The cached delegation key, renewed when it would expire before `needed_until`."""
        async with self._delegation_lock:
            now = self._clock()
            expires = self._delegation_key_expires
            if (
                self._delegation_key is None
                or expires is None
                or expires - DELEGATION_KEY_RENEW_BEFORE < max(needed_until, now)
            ):
                lifetime = max(DELEGATION_KEY_LIFETIME, needed_until - now + timedelta(hours=1))
                new_expiry = now + lifetime
                try:
                    self._delegation_key = await self._service.get_user_delegation_key(
                        key_start_time=now - SAS_START_SKEW, key_expiry_time=new_expiry
                    )
                except AzureError as exc:
                    raise DependencyUnavailable(
                        "storage", f"could not get a user delegation key: {exc.__class__.__name__}"
                    ) from exc
                self._delegation_key_expires = new_expiry
            return self._delegation_key

    # --- UploadStore ----------------------------------------------------------------------

    async def describe(self, blob_name: str) -> BlobInfo | None:
        try:
            props = await self._container.get_blob_client(blob_name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise _unavailable("describe", exc) from exc
        return _info(blob_name, props, props.etag or None)

    async def list_uploads(
        self, prefix: str, limit: int, *, snapshots: bool = False
    ) -> list[BlobInfo]:
        found: list[BlobInfo] = []
        include = ["metadata", "snapshots"] if snapshots else ["metadata"]
        try:
            async for props in self._container.list_blobs(
                name_starts_with=prefix, include=include, results_per_page=min(limit, 5000)
            ):
                found.append(_info(props.name, props, _quoted(props.etag)))
                if len(found) >= limit:
                    break
        except AzureError as exc:
            raise _unavailable("list", exc) from exc
        return found

    async def head(self, blob_name: str, length: int, *, etag: str | None = None) -> bytes:
        if length <= 0:
            raise ValueError("length must be positive")
        blob = self._container.get_blob_client(blob_name)
        try:
            downloader = await blob.download_blob(offset=0, length=length, **_if_match(etag))
            head: bytes = await downloader.readall()
        except ResourceNotFoundError as exc:
            raise BlobMissing(blob_name) from exc
        except ResourceModifiedError as exc:
            raise await self._changed_or_missing(blob_name) from exc
        except HttpResponseError as exc:
            if exc.status_code == 416:  # a range past the end: the blob is empty
                return b""
            raise _unavailable("head", exc) from exc
        except AzureError as exc:
            raise _unavailable("head", exc) from exc
        return head

    async def delete(self, blob_name: str, *, snapshots_only: bool = False) -> bool:
        blob = self._container.get_blob_client(blob_name)
        try:
            await blob.delete_blob(delete_snapshots="only" if snapshots_only else "include")
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise _unavailable("delete", exc) from exc
        return True

    async def read(
        self, blob_name: str, chunk_size: int = 256 * 1024, *, etag: str | None = None
    ) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks of at most `chunk_size`. Raises BlobMissing.

        With `etag`, every request is conditional on it (If-Match): another version of the
        blob raises BlobChanged. Without it the SDK still pins its later range requests to
        the ETag of the first, so a blob rewritten mid-read raises BlobChanged too.
        """
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        blob = self._container.get_blob_client(blob_name)
        try:
            downloader = await blob.download_blob(**_if_match(etag))
            async for piece in downloader.chunks():
                view = memoryview(piece)
                for start in range(0, len(view), chunk_size):
                    yield bytes(view[start : start + chunk_size])
        except ResourceNotFoundError as exc:
            raise BlobMissing(blob_name) from exc
        except ResourceModifiedError as exc:
            raise await self._changed_or_missing(blob_name) from exc
        except AzureError as exc:
            raise _unavailable("read", exc) from exc

    async def _changed_or_missing(self, blob_name: str) -> BlobChanged | BlobMissing:
        """What a failed If-Match meant: Azurite answers 412 for a deleted blob as well."""
        return (
            BlobMissing(blob_name)
            if await self.describe(blob_name) is None
            else BlobChanged(blob_name)
        )

    # --- health / lifecycle ---------------------------------------------------------------

    async def check(self) -> None:
        try:
            await self._container.get_container_properties()
        except AzureError as exc:
            raise _unavailable(f"container {self._container_name!r}", exc) from exc

    async def close(self) -> None:
        await self._service.close()


def _unavailable(what: str, exc: AzureError) -> DependencyUnavailable:
    return DependencyUnavailable(
        "storage", f"blob storage {what} failed: {exc.__class__.__name__}: {exc.message}"
    )


def _if_match(etag: str | None) -> dict[str, Any]:
    """A read's conditions: only the version `etag` names (If-Match), or any (None)."""
    if etag is None:
        return {}
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified}


def _info(name: str, props: BlobProperties, etag: str | None) -> BlobInfo:
    settings = props.content_settings
    blob_type = getattr(props.blob_type, "value", props.blob_type)
    return BlobInfo(
        name=name,
        size=int(props.size),
        content_type=(settings.content_type if settings else None) or None,
        etag=etag,
        last_modified=props.last_modified,
        blob_type=str(blob_type or BLOCK_BLOB),
        sha256=declared_sha256(props.metadata),
        snapshot=props.snapshot or None,
    )


def _quoted(etag: str | None) -> str | None:
    """A listing's ETag as a read's header gives it: listings send `0x8D...`, headers
    `"0x8D..."`; the worker compares the two."""
    if not etag:
        return None
    return etag if etag.startswith('"') else f'"{etag}"'
