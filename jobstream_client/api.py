"""The API's JSON envelope: `{success, data}` or `{success: false, error: {code, message}}`."""

from typing import Any

import httpx


class ApiError(Exception):
    """A refused request: its status, the API's error code and message. A 429 (`throttled`,
    a per-caller limit) carries `retry_after`, the seconds to wait before asking again."""

    def __init__(
        self, status: int, message: str, code: str = "", retry_after: int | None = None
    ) -> None:
        text = f"{message} (HTTP {status})"
        if status == 429:
            wait = f", retry after {retry_after} s" if retry_after is not None else ""
            text = f"throttled: {message} (HTTP 429{wait})"
        super().__init__(text)
        self.status = status
        self.code = code
        self.retry_after = retry_after


def retry_after_of(response: httpx.Response, error: dict[str, Any]) -> int | None:
    """A 429's wait in seconds: the Retry-After header, else the error's details."""
    header = response.headers.get("retry-after", "")
    if header.strip().isdigit():
        return int(header)
    details = error.get("details")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        seconds = details[0].get("retryAfterSeconds")
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            return seconds
    return None


def _data(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict) and body.get("success") is True:
        data = body.get("data")
        return data if isinstance(data, dict) else {}
    error = body.get("error", {}) if isinstance(body, dict) else {}
    if not isinstance(error, dict):
        error = {}
    retry_after = retry_after_of(response, error) if response.status_code == 429 else None
    raise ApiError(
        response.status_code,
        str(error.get("message") or response.reason_phrase),
        str(error.get("code") or ""),
        retry_after,
    )
