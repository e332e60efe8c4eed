"""Enqueue's check of an upload's first bytes against the type it claims (one ranged read)."""

import pytest

from function_app.domain.file_sniffing import (
    LEADING_BYTES,
    FileKind,
    leading_bytes_match,
    leading_kind,
)
from function_app.jobtypes.reading.file_types import detect_file_type
from tests.samples.documents import make_docx, make_pdf, make_png

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = "text/plain"
MARKDOWN = "text/markdown"


@pytest.mark.parametrize(
    ("claimed", "data", "matches"),
    [
        (PDF, make_pdf([["Hello"]]), True),
        (PDF, b"\n  " + make_pdf([["Hi"]]), True),
        (PDF, b"just some text pretending to be a PDF\n", False),
        (PDF, make_docx(["Hello"]), False),
        (DOCX, make_docx(["Hello"]), True),
        (DOCX, make_pdf([["Hello"]]), False),
        (DOCX, b"plain text, not a zip\n", False),
        (TEXT, b"Ada Lovelace\nada@example.com\n", True),
        (TEXT, "Grüße, 日本語\n".encode() * 2000, True),  # cut mid-character at 4 KiB
        (TEXT, "caf\xe9\n".encode("latin-1"), True),
        (TEXT, "\ufeffwith a BOM".encode("utf-16"), True),
        (TEXT, make_pdf([["Hello"]]), False),
        (TEXT, make_docx(["Hello"]), False),
        (TEXT, make_png(2, 2), False),
        (TEXT, bytes(range(256)) * 20, False),
        (MARKDOWN, b"# Title\n\nSome *text*.\n", True),
        (MARKDOWN, b"\x00\x01\x02\x03" * 100, False),
        ("application/x-custom", b"\x00\x01 anything", True),  # a type these tests do not know
    ],
)
def test_leading_bytes_match_the_claimed_type(claimed: str, data: bytes, matches: bool) -> None:
    assert leading_bytes_match(claimed, data[:LEADING_BYTES]) is matches


@pytest.mark.parametrize(
    "data",
    [make_pdf([["Hi"]]), make_png(3, 3), b"GIF89a\x01\x00\x01\x00", b"\xff\xd8\xff\xe0", b"hi\n"],
)
def test_the_leading_kind_agrees_with_the_job_types_detection(data: bytes) -> None:
    assert leading_kind(data[:LEADING_BYTES]) == detect_file_type(data)


def test_a_docx_leads_with_a_zip_and_nothing_is_empty() -> None:
    assert leading_kind(make_docx(["x"])[:LEADING_BYTES]) is FileKind.ZIP
    assert leading_kind(b"") is FileKind.EMPTY
