"""What a file is, judged from its bytes (magic numbers and content), never from its name.

Pure: no I/O. `detect_file_type(data)` looks at the whole (bounded) upload, because telling
a DOCX from any other ZIP needs the ZIP's directory, and JSON/CSV need the text. The tests of
leading bytes (magic numbers, text or binary) live in `domain/file_sniffing.py`, shared with
enqueue's check of an upload's first bytes; they are re-exported here.
"""

import csv
import io
import json
import struct
import zipfile

from function_app.domain.errors import PermanentJobError
from function_app.domain.file_sniffing import (
    GIF_MAGICS,
    JPEG_MAGIC,
    MAX_CONTROL_SHARE,
    MIME_TYPES,
    PDF_MAGIC,
    PNG_MAGIC,
    SNIFF_BYTES,
    ZIP_MAGIC,
    DecodedText,
    FileKind,
    decode_text,
    is_pdf,
    magic_kind,
)

__all__ = [
    "CSV_DELIMITERS",
    "DOCX_MAIN_PART",
    "GIF_MAGICS",
    "JPEG_MAGIC",
    "MAX_CONTROL_SHARE",
    "MIME_TYPES",
    "PDF_MAGIC",
    "PNG_MAGIC",
    "SNIFF_BYTES",
    "ZIP_MAGIC",
    "DecodedText",
    "FileKind",
    "decode_text",
    "detect_file_type",
    "first_lines",
    "image_dimensions",
    "is_docx",
    "is_pdf",
    "looks_like_csv",
    "looks_like_json",
    "zip_member_names",
]

DOCX_MAIN_PART = "word/document.xml"

# A Word package has a few dozen parts. An archive whose directory lists more entries (or
# takes more bytes) is refused before zipfile reads it: a directory of a million entries
# becomes a million objects in memory.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_DIRECTORY_BYTES = 4 * 1024 * 1024
_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")
_END_OF_DIRECTORY_MAGIC = b"PK\x05\x06"

CSV_DELIMITERS = ",;\t|"


def zip_directory_size(data: bytes) -> tuple[int, int] | None:
    """(entries, bytes) of a ZIP's central directory as its end record declares them, found
    where zipfile looks (the last 22 bytes, else the last end record within the 64 KiB a
    comment may take); None when there is no end record."""
    size = _END_OF_DIRECTORY.size
    at = len(data) - size
    if not (data[at : at + 4] == _END_OF_DIRECTORY_MAGIC and data[-2:] == b"\x00\x00"):
        at = data.rfind(_END_OF_DIRECTORY_MAGIC, max(len(data) - size - (1 << 16), 0))
    if at < 0 or len(data) - at < size:
        return None
    fields = _END_OF_DIRECTORY.unpack_from(data, at)
    return fields[4], fields[5]


def check_zip_directory(data: bytes) -> None:
    """Refuse (`document_too_complex`) an archive with very many entries, before reading it.
    A ZIP64 directory (marked by all-ones counts) holds more than 65,534 entries or 4 GiB:
    refused as well."""
    directory = zip_directory_size(data)
    if directory is None:
        return
    entries, size = directory
    if entries > MAX_ZIP_ENTRIES or size > MAX_ZIP_DIRECTORY_BYTES:
        raise PermanentJobError(
            "document_too_complex",
            f"the ZIP archive lists more than {MAX_ZIP_ENTRIES:,} entries",
        )


def zip_member_names(data: bytes) -> list[str] | None:
    """The member names of a ZIP archive, or None when `data` is not a readable ZIP.
    Raises `document_too_complex` for a directory past the limits (`check_zip_directory`)."""
    check_zip_directory(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        return None
    if len(names) > MAX_ZIP_ENTRIES:  # the end record understated them
        raise PermanentJobError(
            "document_too_complex", f"the ZIP archive lists more than {MAX_ZIP_ENTRIES:,} entries"
        )
    return names


def is_docx(data: bytes) -> bool:
    if not data.startswith(ZIP_MAGIC):
        return False
    names = zip_member_names(data)
    return names is not None and DOCX_MAIN_PART in names


def _first_non_space(text: str) -> int | None:
    """Index of the first character `str.strip()` would keep (None: all whitespace)."""
    for index, char in enumerate(text):
        if not char.isspace():
            return index
    return None


def looks_like_json(text: str) -> bool:
    # Check the first character before copying anything: plain text is never stripped whole.
    start = _first_non_space(text)
    if start is None or text[start] not in "[{":
        return False
    stripped = text.strip()
    try:
        json.loads(stripped)
    except (ValueError, RecursionError):  # too deeply nested to be data anyone reads
        return False
    return True


def first_lines(text: str, count: int) -> list[str]:
    """`text.splitlines()[:count]`, splitting only as much of `text` as those lines need."""
    size = 4096
    while True:
        lines = text[:size].splitlines()
        # More than `count` lines in the prefix: the first `count` ended inside it.
        if len(lines) > count or size >= len(text):
            return lines[:count]
        size *= 4


def looks_like_csv(text: str, *, sample_lines: int = 20) -> bool:
    """At least two non-empty lines that split into the same number (>= 2) of fields."""
    lines = [line for line in first_lines(text, sample_lines) if line.strip()]
    if len(lines) < 2:
        return False
    for delimiter in CSV_DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        widths = {len(row) for row in rows}
        if len(widths) == 1 and widths.pop() >= 2:
            return True
    return False


def detect_file_type(data: bytes) -> FileKind:
    """The kind of file `data` holds, from its content alone."""
    if not data:
        return FileKind.EMPTY
    kind = magic_kind(data)
    if kind is FileKind.ZIP:
        return FileKind.DOCX if is_docx(data) else FileKind.ZIP
    if kind is not None:
        return kind
    decoded = decode_text(data)
    if decoded is None:
        return FileKind.BINARY
    if not decoded.text.strip():
        return FileKind.EMPTY
    if looks_like_json(decoded.text):
        return FileKind.JSON
    if looks_like_csv(decoded.text):
        return FileKind.CSV
    return FileKind.TEXT


def image_dimensions(kind: FileKind, data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a PNG, GIF or JPEG header; None when unreadable."""
    if kind is FileKind.PNG and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if kind is FileKind.GIF and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if kind is FileKind.JPEG:
        return _jpeg_dimensions(data)
    return None


# JPEG start-of-frame markers (baseline, progressive, ...) carry the image size.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _JPEG_SOF_MARKERS:
            if at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        if length < 2:
            return None
        at += 2 + length
    return None
