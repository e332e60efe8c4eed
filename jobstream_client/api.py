"""The API's JSON envelope: `{success, data}` or `{success: false, error: {code, message}}`."""

from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status


def _data(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict) and body.get("success") is True:
        data = body.get("data")
        return data if isinstance(data, dict) else {}
    error = body.get("error", {}) if isinstance(body, dict) else {}
    raise ApiError(response.status_code, str(error.get("message") or response.reason_phrase))
