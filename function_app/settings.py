"""The app's settings: one typed object, read from app settings (environment variables).

Field names are the app-setting names, exactly as they appear in `local.settings.sample.json`
and in both IaC stacks (a test checks the three agree). Settings are built lazily, on first
use, never at import time: a bad setting must not hide every function from the host. Building
fails fast with a one-line message naming the bad setting. The local host (devstack/host)
builds them once at start-up and refuses to serve when they are bad.

Every value is checked as it is read: URLs are http(s) URLs with a host, names follow Azure's
rules, numbers have bounds, choices are Literal, and a comma-separated list becomes a frozenset
(`ALLOWED_CONTENT_TYPES`). An optional setting set to an empty string counts as unset.

(Over 300 lines on purpose: `Settings` is the one list of every app setting, each field with
its type, bound and default, which the sample settings, both IaC stacks and the docs are
checked against; the value types it uses sit just above it, so a field reads with its rule.)
"""

import os
import re
import urllib.request
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from function_app.topology import topology

# Queue name -> the job names it accepts, as function_app/queues.json lists them (the worker
# has one trigger per queue). `Settings.queues` has the names in use, after app settings.
DEFAULT_QUEUES: dict[str, tuple[str, ...]] = topology().job_names_by_queue()
# Test-only job names a queue also accepts with ALLOW_FAULT_INJECTION=true (never in Azure).
TEST_QUEUES: dict[str, tuple[str, ...]] = {"document-analysis": ("paced-read",)}

DEFAULT_ALLOWED_CONTENT_TYPES = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/plain",
    "text/markdown",
)


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


def _blank_is_unset(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host, e.g. https://example.net/")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("not an http(s) URL: its port is not a number") from None
    return value.strip()


def _matching(pattern: str, rule: str) -> AfterValidator:
    compiled = re.compile(pattern, re.ASCII)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(rule)
        return value

    return AfterValidator(check)


def _trace_export(value: str) -> str:
    text = value.strip()
    if text in ("none", "console") or (text.startswith("file:") and text[5:].strip()):
        return text
    raise ValueError("not none, console or file:PATH")


# An optional setting: unset, empty or a value of the annotated type.
type OrUnset[T] = Annotated[T | None, BeforeValidator(_blank_is_unset)]
HttpUrlText = Annotated[str, AfterValidator(_http_url)]
NonEmpty = Annotated[str, Field(min_length=1)]
# An HMAC-SHA256 key of at least 256 bits (RFC 7518 section 3.2): 32 characters or more.
MIN_SECRET_CHARS = 32
Secret = Annotated[
    str,
    Field(
        min_length=MIN_SECRET_CHARS,
        description=f"at least {MIN_SECRET_CHARS} characters (an HS256 key of 256 bits)",
    ),
]
ContainerName = Annotated[
    str,
    _matching(
        r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]",
        "not a blob container name (3-63 lowercase letters, digits and single '-', starting "
        "and ending with a letter or digit)",
    ),
]
TableName = Annotated[
    str,
    _matching(
        r"[A-Za-z][A-Za-z0-9]{2,62}",
        "not a table name (3-63 letters and digits, starting with a letter)",
    ),
]
HostName = Annotated[
    str,
    _matching(
        r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
        "not a host name (e.g. <namespace>.servicebus.windows.net)",
    ),
]
ClientId = Annotated[
    str,
    _matching(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        "not a client id (a GUID)",
    ),
]
# A MIME type as the upload policy compares them: type/subtype, lowercase.
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", re.ASCII)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    # --- identity -------------------------------------------------------------------------
    AUTH_MODE: Literal["none", "jwt"] = "none"
    # HS256 shared secret (AUTH_MODE=jwt without an issuer's JWKS).
    JWT_SECRET: OrUnset[Secret] = None
    # OIDC issuer (e.g. https://login.microsoftonline.com/<tenant>/v2.0); JWKS is discovered
    # from its /.well-known/openid-configuration unless JWT_JWKS_URL is set (which then still
    # needs JWT_ISSUER: a JWKS token's `iss` is always checked).
    JWT_ISSUER: OrUnset[HttpUrlText] = None
    # Required with AUTH_MODE=jwt: a token's `aud` must name this API.
    JWT_AUDIENCE: OrUnset[NonEmpty] = None
    JWT_JWKS_URL: OrUnset[HttpUrlText] = None
    # Optional, comma-separated: which tokens of the issuer may call. With roles or scopes
    # set, a token needs one of the roles (`roles`, app roles) or one of the scopes (`scp`,
    # delegated); with client ids set, its `azp` (v2) or `appid` (v1) must be one of them.
    # Unset: any token of the issuer for JWT_AUDIENCE is an owner.
    JWT_REQUIRED_ROLES: Annotated[frozenset[str], NoDecode] = frozenset()
    JWT_REQUIRED_SCOPES: Annotated[frozenset[str], NoDecode] = frozenset()
    JWT_ALLOWED_CLIENT_IDS: Annotated[frozenset[str], NoDecode] = frozenset()
    # Optional override of the stream-token signing key. When unset, a random key is created
    # once and kept in the jobs table (only the app's identity can read it): no secret to set.
    STREAM_TOKEN_SECRET: OrUnset[Secret] = None
    # A stream token works this long after it is issued (a feed token: exactly this long);
    # a one-job token also while its job runs, and STREAM_TOKEN_GRACE_SECONDS after it ended.
    STREAM_TOKEN_TTL_SECONDS: int = Field(default=600, ge=60, le=24 * 3600)
    STREAM_TOKEN_GRACE_SECONDS: int = Field(default=60, ge=0, le=3600)

    # --- storage (uploads + event log) ----------------------------------------------------
    # Local (Azurite): a connection string with the account key; the SAS is account-key signed.
    # Azure: leave it unset and give the endpoints; the app signs with a user delegation key
    # obtained with its managed identity (AZURE_CLIENT_ID).
    STORAGE_CONNECTION_STRING: OrUnset[NonEmpty] = None
    STORAGE_BLOB_ENDPOINT: OrUnset[HttpUrlText] = None
    STORAGE_TABLE_ENDPOINT: OrUnset[HttpUrlText] = None
    UPLOADS_CONTAINER: ContainerName = "uploads"
    JOBS_TABLE: TableName = "jobs"
    AZURE_CLIENT_ID: OrUnset[ClientId] = None

    # --- Service Bus ----------------------------------------------------------------------
    # The trigger's connection is named "ServiceBusConnection": locally a connection string,
    # in Azure the identity-based ServiceBusConnection__fullyQualifiedNamespace (+ __credential,
    # __clientId). The app's sender uses the same settings.
    ServiceBusConnection: OrUnset[NonEmpty] = None
    ServiceBusConnection__fullyQualifiedNamespace: OrUnset[HostName] = None
    # The queues' MaxDeliveryCount: the last delivery ends a job `failed`. Derived from
    # function_app/queues.json, so neither stack nor the sample sets it; set it only to match
    # a queue whose MaxDeliveryCount was changed outside that file.
    SERVICEBUS_MAX_DELIVERY_COUNT: int = Field(
        default_factory=lambda: topology().max_delivery_count, ge=1, le=100
    )
    # Local emulator only: where its HTTP endpoint for queue runtime counts listens.
    SERVICEBUS_EMULATOR_ADMIN_URL: OrUnset[HttpUrlText] = None

    # --- uploads --------------------------------------------------------------------------
    MAX_UPLOAD_BYTES: int = Field(default=20 * 1024 * 1024, ge=1, le=5 * 1024 * 1024 * 1024)
    # Comma-separated in the app setting; a set of lowercase type/subtype here.
    ALLOWED_CONTENT_TYPES: Annotated[frozenset[str], NoDecode] = frozenset(
        DEFAULT_ALLOWED_CONTENT_TYPES
    )
    # A PUT (each block, for block uploads) must start before the URL expires: keep it above
    # the time the slowest client takes to send its last block.
    UPLOAD_URL_TTL_SECONDS: int = Field(default=600, ge=15, le=3600)

    # --- streaming ------------------------------------------------------------------------
    STREAM_MAX_AGE_SECONDS: int = Field(default=600, ge=5, le=3600)
    STREAM_HEARTBEAT_SECONDS: float = Field(default=15.0, gt=0, le=300)
    STREAM_RETRY_MS: int = Field(default=2000, ge=100, le=60_000)
    # How often a watched job's (and a caller feed's) one poller reads the log while it moves
    # (docs/scaling.md): about half of it is the delivery latency of an event written on
    # another instance; each watched job costs 1/STREAM_POLL_SECONDS reads a second, however
    # many watch it. Backs off to 1 s while idle (so at most 1 s).
    STREAM_POLL_SECONDS: float = Field(default=0.1, ge=0.02, le=1.0)
    # The long-poll route (`jobs/{id}/events`, for clients behind buffering proxies): how long
    # one request waits for a new event before answering with none. Far below the 230 s at
    # which Azure's front end ends a response, and below what proxies commonly allow idle.
    LONG_POLL_WAIT_SECONDS: float = Field(default=25.0, gt=0, le=60)

    # --- per-caller limits (docs/limits.md): over one, 429 `throttled`; 0 turns it off ------
    # Open streams (job streams and feeds together) per caller on one instance: 100 is what
    # one browser holds over HTTP/2 to one origin (far more than a person's tabs need).
    LIMIT_STREAMS_PER_CALLER: int = Field(default=100, ge=0, le=100_000)
    # Enqueue and presign requests per caller per minute on one instance (a sliding window):
    # 2 jobs a second sustained; presigns twice that (a client may presign again to retry).
    LIMIT_ENQUEUES_PER_MINUTE: int = Field(default=120, ge=0, le=1_000_000)
    LIMIT_PRESIGNS_PER_MINUTE: int = Field(default=240, ge=0, le=1_000_000)
    # A caller's jobs not yet ended (queued included), counted from stored state across
    # instances: a batch of 50 files at once; more waits for some to end.
    LIMIT_RUNNING_JOBS_PER_CALLER: int = Field(default=50, ge=0, le=1000)

    # --- the queue catalogue (GET /api/v1/queue/events, seed 000) ---------------------------
    # A worker instance writes a heartbeat every WORKER_HEARTBEAT_SECONDS while it runs jobs;
    # one unseen for WORKER_OFFLINE_SECONDS is offline. `queue-stats` every
    # QUEUE_STATS_SECONDS; a `system-alert` when more than BACKLOG_ALERT_THRESHOLD jobs wait
    # (0: never).
    WORKER_HEARTBEAT_SECONDS: float = Field(default=15.0, ge=1, le=300)
    WORKER_OFFLINE_SECONDS: float = Field(default=60.0, ge=2, le=3600)
    QUEUE_STATS_SECONDS: float = Field(default=10.0, ge=1, le=300)
    BACKLOG_ALERT_THRESHOLD: int = Field(default=15, ge=0, le=1_000_000)
    # A delivery that fails on anything but the job itself (storage or Service Bus down, a
    # bug) waits WORKER_RETRY_DELAY_SECONDS x 2^(delivery - 1), at most 60 s, before the
    # message is abandoned, so a short outage does not use up every delivery at once and
    # dead-letter the job (0: abandon at once).
    WORKER_RETRY_DELAY_SECONDS: float = Field(default=2.0, ge=0, le=60)

    # --- bounded work per job (docs/job-types.md, "Memory and time") ------------------------
    # A run past JOB_TIME_LIMIT_SECONDS is stopped and ends `failed`, time_limit_exceeded (not
    # retried): at most 240 s, so that with the longest retry delay (60 s) a run ends within
    # host.json's maxAutoLockRenewalDuration (5 min) and is never redelivered while it runs.
    # Each extraction runs in a child process that may add at most EXTRACTION_MEMORY_LIMIT_MB
    # of memory (address space) to its input; past it the job fails document_too_complex.
    JOB_TIME_LIMIT_SECONDS: float = Field(default=180.0, ge=1, le=240)
    EXTRACTION_MEMORY_LIMIT_MB: int = Field(default=256, ge=32, le=4096)

    # --- the sweeper (a timer function; docs/reliability.md) ---------------------------------
    # When it runs (NCRONTAB, six fields with seconds; default every minute). A job recorded
    # but not sent is sent SWEEP_RESEND_SECONDS later (below the queues' 10-minute duplicate
    # detection window, so a copy of a message that was sent is dropped); a job no worker
    # reported on for WORKER_LOST_SECONDS (or queued for SWEEP_QUEUED_LOST_SECONDS, past its
    # message's time to live) ends `failed`, code worker_lost.
    SWEEP_SCHEDULE: str = Field(default="0 * * * * *", min_length=11, max_length=100)
    SWEEP_RESEND_SECONDS: float = Field(default=60.0, ge=1, le=540)
    WORKER_LOST_SECONDS: float = Field(default=900.0, ge=10, le=86_400)
    SWEEP_QUEUED_LOST_SECONDS: float = Field(default=93_600.0, ge=60, le=30 * 86_400)
    # The upload sweeper (a second timer function; docs/storage.md, "Refused and unused
    # uploads"): deletes what the upload URL can create and no job may use (append and page
    # blobs, snapshots) and block blobs older than UNUSED_UPLOAD_TTL_SECONDS that no job
    # claimed. Keep that TTL above the time a client takes from its PUT to its enqueue.
    UPLOAD_SWEEP_SCHEDULE: str = Field(default="0 */10 * * * *", min_length=11, max_length=100)
    UNUSED_UPLOAD_TTL_SECONDS: float = Field(default=86_400.0, ge=1, le=30 * 86_400)
    # Set by Azure on each instance (names the instance's worker id); locally host:pid is used.
    WEBSITE_INSTANCE_ID: str | None = None

    # --- tracing (docs/tracing.md) ----------------------------------------------------------
    # Set: spans go to Application Insights through azure-monitor-opentelemetry.
    APPLICATIONINSIGHTS_CONNECTION_STRING: OrUnset[NonEmpty] = None
    # true in Azure (with host.json telemetryMode OpenTelemetry): the Functions Python worker
    # sets up Azure Monitor itself and hands each invocation the host's trace context; the
    # app then adds its spans to that provider and configures nothing twice.
    PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: bool = False
    # Spans written locally as one JSON object a line: `none`, `console` (stdout) or
    # `file:PATH` (appended to PATH). Beside Application Insights or instead of it.
    TRACE_EXPORT: Annotated[str, AfterValidator(_trace_export)] = "none"

    # --- testing --------------------------------------------------------------------------
    # Test hook, never on in Azure: when true, a job whose data has
    # "simulateTransientFailures": N fails transiently on its first N deliveries, and the
    # test-only job type `paced-read` is accepted (TEST_QUEUES).
    ALLOW_FAULT_INJECTION: bool = False

    # Each queue's name at run time, by its name in function_app/queues.json (see `queues`).
    _queue_names: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("ALLOWED_CONTENT_TYPES", mode="before")
    @classmethod
    def _content_types(cls, value: Any) -> Any:
        """`a/b, c/d` -> {"a/b", "c/d"}: trimmed, lowercase, empty items skipped; at least one,
        each a type/subtype."""
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list | tuple | set | frozenset):
            return value
        types = frozenset(str(t).strip().lower() for t in value if str(t).strip())
        if not types:
            raise ValueError("empty: list the content types uploads may have, comma-separated")
        bad = sorted(t for t in types if not _CONTENT_TYPE.fullmatch(t))
        if bad:
            raise ValueError(f"not a content type (type/subtype): {', '.join(map(repr, bad))}")
        return types

    @field_validator(
        "JWT_REQUIRED_ROLES", "JWT_REQUIRED_SCOPES", "JWT_ALLOWED_CLIENT_IDS", mode="before"
    )
    @classmethod
    def _names(cls, value: Any) -> Any:
        """`a, b` -> {"a", "b"}: trimmed, empty items skipped (so an empty setting is none)."""
        if isinstance(value, str):
            return frozenset(item.strip() for item in value.split(",") if item.strip())
        return value

    @property
    def proxies_from_environment(self) -> bool:
        """Whether proxy variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, ...) are set, read as
        the standard library reads them. Only then need the HTTP clients look them up."""
        return bool(urllib.request.getproxies_environment())

    @property
    def queues(self) -> dict[str, tuple[str, ...]]:
        """Queue name -> the job names it accepts, from function_app/queues.json, each queue
        under the name its app setting gives it (e.g. RESUME_ANALYSIS_QUEUE) when set."""
        return {
            self._queue_names.get(queue.name, queue.name): queue.job_names
            for queue in topology().queues
        }

    @property
    def accepted_queues(self) -> dict[str, tuple[str, ...]]:
        """What enqueue accepts: `queues`, plus (ALLOW_FAULT_INJECTION only) the test-only
        job names of TEST_QUEUES. The catalog (`GET v1/queues`) lists `queues` only."""
        extra = TEST_QUEUES if self.ALLOW_FAULT_INJECTION else {}
        return {
            self._queue_names.get(queue.name, queue.name): queue.job_names
            + extra.get(queue.name, ())
            for queue in topology().queues
        }

    @model_validator(mode="wrap")
    @classmethod
    def _read_queue_names(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """The queue-name settings are named by function_app/queues.json, not declared here,
        so they are read here: a given value first, then the environment, as the fields are."""
        settings = handler(data)
        given: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        settings._queue_names = topology().names_in_use(
            lambda name: given.get(name, os.environ.get(name))
        )
        return settings

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        problems = []
        if self.AUTH_MODE == "jwt":
            if not (self.JWT_SECRET or self.JWT_ISSUER):
                problems.append(
                    "JWT_SECRET or JWT_ISSUER: AUTH_MODE=jwt needs JWT_SECRET (HS256) or "
                    "JWT_ISSUER (JWKS)"
                )
            if not self.JWT_AUDIENCE:
                problems.append(
                    "JWT_AUDIENCE: AUTH_MODE=jwt needs the audience its tokens are issued for"
                )
            if self.JWT_SECRET and not self.JWT_ISSUER and self.WEBSITE_INSTANCE_ID:
                problems.append(
                    "JWT_ISSUER: in Azure, HS256 tokens (JWT_SECRET) need the issuer they must "
                    "name, so a token for another app sharing the secret is refused"
                )
            if self.JWT_JWKS_URL and not self.JWT_ISSUER:
                problems.append(
                    "JWT_ISSUER: JWT_JWKS_URL is set, so tokens from that JWKS need the issuer "
                    "they must name"
                )
        if not self.STORAGE_CONNECTION_STRING and not (
            self.STORAGE_BLOB_ENDPOINT and self.STORAGE_TABLE_ENDPOINT
        ):
            problems.append(
                "STORAGE_CONNECTION_STRING: set it (local) or both STORAGE_BLOB_ENDPOINT and "
                "STORAGE_TABLE_ENDPOINT (Azure, managed identity)"
            )
        if not (self.ServiceBusConnection or self.ServiceBusConnection__fullyQualifiedNamespace):
            problems.append(
                "ServiceBusConnection: set it (connection string, local) or "
                "ServiceBusConnection__fullyQualifiedNamespace (Azure, managed identity)"
            )
        if self.WORKER_OFFLINE_SECONDS <= self.WORKER_HEARTBEAT_SECONDS:
            problems.append(
                "WORKER_OFFLINE_SECONDS: must be more than WORKER_HEARTBEAT_SECONDS, or every "
                "worker looks offline between two heartbeats"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_settings() -> Settings:
    """Build settings from the environment; raise SettingsError naming each bad setting.

    The message is one line: `invalid app settings: NAME: problem; NAME: problem`.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            if not where:  # a combination of settings: the message names them itself
                problems.append(message)
            else:
                problems.append(f"{where}: {message}")
        raise SettingsError("invalid app settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
