"""W3C traceparent: what is read, what is ignored, what is written."""

import pytest

from function_app.domain.tracing import TraceContext, parse_traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_a_traceparent_reads_as_its_trace_span_and_flags() -> None:
    context = parse_traceparent(f"00-{TRACE}-{SPAN}-01")
    assert context == TraceContext(TRACE, SPAN, 1)
    assert context.sampled
    assert parse_traceparent(f"00-{TRACE}-{SPAN}-00") == TraceContext(TRACE, SPAN, 0)


def test_a_context_writes_the_traceparent_it_was_read_from() -> None:
    header = f"00-{TRACE}-{SPAN}-01"
    context = parse_traceparent(header)
    assert context is not None
    assert context.traceparent == header


def test_a_later_version_is_read_by_its_first_four_fields() -> None:
    assert parse_traceparent(f"cc-{TRACE}-{SPAN}-01-what-comes-later") == TraceContext(TRACE, SPAN)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"00-{TRACE}-{SPAN}",  # no flags
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{'0' * 32}-{SPAN}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE.upper()}-{SPAN}-01",
        f"00-{TRACE[:-1]}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-1",
        f"00-{TRACE}-{SPAN}-01" + " " * 600,  # over the bound
    ],
)
def test_a_malformed_traceparent_reads_as_none(header: str | None) -> None:
    assert parse_traceparent(header) is None


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [("0" * 32, SPAN), (TRACE, "0" * 16), (TRACE.upper(), SPAN), (TRACE, SPAN[:-1])],
)
def test_a_context_refuses_ids_that_are_not_w3c(trace_id: str, span_id: str) -> None:
    with pytest.raises(ValueError, match="lowercase hex"):
        TraceContext(trace_id, span_id)
