"""File kinds come from the bytes, not the name: a table of real and tricky samples."""

import json

import pytest

from function_app.domain.file_types import (
    FileKind,
    decode_text,
    detect_file_type,
    image_dimensions,
)
from tests.samples.documents import make_docx, make_pdf, make_png, zip_archive

GIF_1x1 = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
JPEG_HEAD = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"\xff\xc0\x00\x11\x08\x00\x20\x00\x40\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
)

CASES: list[tuple[str, bytes, FileKind]] = [
    ("pdf", make_pdf([["Hello"]]), FileKind.PDF),
    ("pdf after whitespace", b"\n  " + make_pdf([["Hi"]]), FileKind.PDF),
    ("docx", make_docx(["Hello"]), FileKind.DOCX),
    ("other zip", zip_archive({"notes/readme.txt": b"hi"}), FileKind.ZIP),
    ("truncated zip", zip_archive({"word/document.xml": b"<x/>"})[:20], FileKind.ZIP),
    ("png", make_png(), FileKind.PNG),
    ("jpeg", JPEG_HEAD, FileKind.JPEG),
    ("gif", GIF_1x1, FileKind.GIF),
    ("json object", json.dumps({"a": [1, 2]}).encode(), FileKind.JSON),
    ("json array", b"  [1, 2, 3]\n", FileKind.JSON),
    ("csv", b"name,age\nada,36\nalan,41\n", FileKind.CSV),
    ("semicolon csv", b"name;age\nada;36\n", FileKind.CSV),
    ("utf-8 text", "Grüße aus Köln.\nZweite Zeile.".encode(), FileKind.TEXT),
    ("utf-8 bom text", b"\xef\xbb\xbfhello there", FileKind.TEXT),
    ("utf-16 text", "hello there, world".encode("utf-16"), FileKind.TEXT),
    ("latin-1 text", "café au lait, s'il vous plaît".encode("latin-1"), FileKind.TEXT),
    ("broken json is text", b"{not json at all", FileKind.TEXT),
    ("json nested past the parser's depth is text", b"[" * 100_000, FileKind.TEXT),
    ("a pdf mentioned in text", b"see the %PDF- header", FileKind.TEXT),
    ("binary", bytes(range(256)) * 4, FileKind.BINARY),
    ("elf", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, FileKind.BINARY),
    ("empty", b"", FileKind.EMPTY),
    ("only whitespace", b" \n\t \n", FileKind.EMPTY),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_kind_is_detected_from_content(data: bytes, expected: FileKind) -> None:
    assert detect_file_type(data) is expected


def test_a_pdf_named_like_text_is_still_a_pdf() -> None:
    # Detection never sees a name: the same bytes give the same answer.
    assert detect_file_type(make_pdf([["x"]])) is FileKind.PDF


def test_decoding_keeps_a_multibyte_character_cut_at_the_end() -> None:
    decoded = decode_text("naïve café".encode()[:-1])
    assert decoded is not None
    assert decoded.encoding == "utf-8"
    assert decoded.text == "naïve caf"


def test_image_sizes_are_read_from_headers() -> None:
    assert image_dimensions(FileKind.PNG, make_png(3, 5)) == (3, 5)
    assert image_dimensions(FileKind.GIF, GIF_1x1) == (1, 1)
    assert image_dimensions(FileKind.JPEG, JPEG_HEAD) == (64, 32)
    assert image_dimensions(FileKind.JPEG, b"\xff\xd8\xff") is None
