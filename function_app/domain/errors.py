"""Every error the domain, the services and the job types raise (the ports' own exceptions,
which adapters raise, are in `function_app.ports`).

Request errors (`DomainError` and its kinds) carry a stable snake_case `code`; entry points map
them to the contract's error envelope and HTTP status in one place
(`function_app.entrypoints.errors`). Job errors (`JobFailure` and its kinds, `JobCancelled`)
are raised inside a job's steps and decide how the worker ends the delivery.
"""

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    """Base class. `code` is the contract's snake_case error code."""

    code = "error"

    def __init__(
        self, message: str, *, code: str | None = None, details: Sequence[Any] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = list(details)


class InvalidRequest(DomainError):
    """Malformed or invalid input (400)."""

    code = "invalid_request"


class Unauthenticated(DomainError):
    """No or bad credentials (401)."""

    code = "unauthenticated"


class NotFound(DomainError):
    """Unknown, or not the caller's (404): the two are indistinguishable on purpose."""

    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state (409)."""

    code = "conflict"


class TooLarge(DomainError):
    """Declared or actual size over the limit (413)."""

    code = "file_too_large"


class UnsupportedType(DomainError):
    """Content type outside the allow-list (415)."""

    code = "unsupported_media_type"


class Unprocessable(DomainError):
    """Well-formed but unusable (422)."""

    code = "unprocessable"


class Throttled(DomainError):
    """Over a per-caller limit (429). `retry_after`: whole seconds until asking again can
    succeed (a slot frees or the window moves); the `Retry-After` header carries it."""

    code = "throttled"

    def __init__(self, message: str, *, retry_after: int, details: Sequence[Any] = ()) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class DependencyUnavailable(DomainError):
    """A dependency (storage, Service Bus) does not answer (503). `dependency` names it."""

    code = "dependency_unavailable"

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency


class JobFailure(Exception):
    """Raised inside a job's steps. Permanent failures end the job `failed`; others retry."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


class PermanentJobError(JobFailure):
    """The job can never succeed (unreadable or unsupported file): fail now, no retry."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, retryable=False)


class TransientJobError(JobFailure):
    """Worth another delivery (a dependency hiccup): Service Bus redelivers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, retryable=True)


class JobCancelled(Exception):
    """The owner asked to cancel; raised by `JobContext.checkpoint()` between steps."""


class AttemptSuperseded(Exception):
    """A later delivery of the job started a newer attempt: this one must write nothing more
    and stop (the event log refuses its writes; raised where it tries)."""

    def __init__(self, job_id: str, attempt: int, current: int) -> None:
        super().__init__(f"job {job_id}: attempt {attempt} superseded by attempt {current}")
        self.job_id = job_id
        self.attempt = attempt
        self.current = current


class TransitionRefused(Exception):
    """An event cannot be recorded on this job (e.g. the job already ended)."""
