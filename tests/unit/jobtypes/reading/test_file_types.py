"""File kinds come from the bytes, not the name: a table of real and tricky samples."""

import json
import random
import tracemalloc

import pytest

from function_app.jobtypes.reading.file_types import (
    FileKind,
    decode_text,
    detect_file_type,
    first_lines,
    image_dimensions,
    looks_like_csv,
    looks_like_json,
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


# --- detection looks at as little of a big text as its answer needs ---------------------------

SEPARATORS = ["\n", "\r\n", "\r", "\v", "\f", "\x1c", "\u2028", "\x85", ""]


def test_first_lines_is_splitlines_of_the_whole_text() -> None:
    rng = random.Random(20260301)
    texts = [
        "",
        "one line, no end",
        "a\r\nb\r\n",
        "x" * 4095 + "\r\n" + "y\n" * 30,  # a CRLF across the first prefix boundary
        "\n" * 5000,
        "long " * 5000 + "\nshort\n" * 25,  # the first line is longer than the first prefix
    ]
    for _ in range(200):
        parts = [
            "z" * rng.choice([0, 1, 50, 1000, 4094, 4095, 4096]) + rng.choice(SEPARATORS)
            for _ in range(rng.randint(0, 40))
        ]
        texts.append("".join(parts))
    for text in texts:
        for count in (1, 2, 20, 21):
            assert first_lines(text, count) == text.splitlines()[:count], (text[:40], count)


def test_csv_detection_reads_only_the_first_lines() -> None:
    head = "name,age\nada,36\n" * 10
    assert looks_like_csv(head + "free text without commas\n" * 100_000)
    assert not looks_like_csv("free text\n" * 25 + head)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u3000 [1, 2]\u3000", True),  # str.strip() whitespace, as before
        ("\n\t{}", True),
        ("   ", False),
        ("", False),
        ("x[1]", False),
        (" [1, 2", False),
    ],
)
def test_json_detection_is_unchanged(text: str, expected: bool) -> None:
    assert looks_like_json(text) is expected


def test_plain_text_is_not_copied_to_rule_json_or_csv_out() -> None:
    text = ("a" * 79 + "\n") * 62_500  # 5 MB of short lines
    tracemalloc.start()
    try:
        assert not looks_like_json(text)
        assert not looks_like_csv(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # well under the text's own 5 MB
