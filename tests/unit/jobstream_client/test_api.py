"""The terminal client's reading of refused answers: a 429 says `throttled` and its wait."""

import httpx
import pytest

from jobstream_client.api import ApiError, _data


def refused(
    status: int, error: dict[str, object], headers: dict[str, str] | None = None
) -> ApiError:
    response = httpx.Response(status, json={"success": False, "error": error}, headers=headers)
    with pytest.raises(ApiError) as caught:
        _data(response)
    return caught.value


def test_a_429_names_throttling_and_its_retry_after_header() -> None:
    error = refused(
        429,
        {
            "code": "throttled",
            "message": "too many enqueues per minute: at most 120; try again in 12 s",
            "details": [
                {"limit": "LIMIT_ENQUEUES_PER_MINUTE", "maximum": 120, "retryAfterSeconds": 12}
            ],
        },
        {"Retry-After": "12"},
    )
    assert (error.status, error.code, error.retry_after) == (429, "throttled", 12)
    assert str(error) == (
        "throttled: too many enqueues per minute: at most 120; try again in 12 s"
        " (HTTP 429, retry after 12 s)"
    )


def test_a_429_without_the_header_takes_the_wait_from_its_details() -> None:
    error = refused(
        429,
        {
            "code": "throttled",
            "message": "too many open streams",
            "details": [{"retryAfterSeconds": 7}],
        },
    )
    assert error.retry_after == 7
    assert "retry after 7 s" in str(error)


def test_other_refusals_read_as_before() -> None:
    error = refused(404, {"code": "not_found", "message": "job not found", "details": []})
    assert (str(error), error.code, error.retry_after) == (
        "job not found (HTTP 404)",
        "not_found",
        None,
    )
