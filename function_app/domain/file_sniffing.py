"""What a file is from its leading bytes: the magic numbers and the text test, in one place.

Pure: no I/O. Two readers use it: enqueue, which reads the first `LEADING_BYTES` of an upload
(one ranged read) and refuses a file whose bytes are not the type it claims
(`leading_bytes_match`), and the job types (`jobtypes/reading/file_types.py`), which tell a file's
kind from its whole, bounded content and build on these tests.
"""

from dataclasses import dataclass
from enum import StrEnum


class FileKind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    ZIP = "zip"
    PNG = "png"
    JPEG = "jpeg"
    GIF = "gif"
    JSON = "json"
    CSV = "csv"
    TEXT = "text"
    EMPTY = "empty"
    BINARY = "binary"

    @property
    def is_textual(self) -> bool:
        return self in {FileKind.JSON, FileKind.CSV, FileKind.TEXT}


MIME_TYPES: dict[FileKind, str] = {
    FileKind.PDF: "application/pdf",
    FileKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileKind.ZIP: "application/zip",
    FileKind.PNG: "image/png",
    FileKind.JPEG: "image/jpeg",
    FileKind.GIF: "image/gif",
    FileKind.JSON: "application/json",
    FileKind.CSV: "text/csv",
    FileKind.TEXT: "text/plain",
    FileKind.EMPTY: "application/x-empty",
    FileKind.BINARY: "application/octet-stream",
}

PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
GIF_MAGICS = (b"GIF87a", b"GIF89a")

# Text sniffing looks at this many leading bytes.
SNIFF_BYTES = 64 * 1024
# Share of control characters (other than tab, CR, LF, FF) above which bytes are not text.
MAX_CONTROL_SHARE = 0.02
# What enqueue reads of an upload to check its type: enough for every magic number and a
# fair sample of text, one small ranged read.
LEADING_BYTES = 4096


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str


def is_pdf(data: bytes) -> bool:
    """`%PDF-` at the start (leading whitespace tolerated, as PDF readers do)."""
    return data[:1024].lstrip(b"\x00\t\r\n\f ").startswith(PDF_MAGIC)


def decode_text(data: bytes) -> DecodedText | None:
    """Decode bytes that look like text: UTF-8 (BOM optional), UTF-16 with a BOM, else Latin-1.

    Returns None for binary data: NUL bytes (outside UTF-16) or too many control characters.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _text_or_none(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data[:SNIFF_BYTES]:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return _text_or_none(data[3:].decode("utf-8"), "utf-8-sig")
        except UnicodeDecodeError:
            return None
    try:
        return _text_or_none(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of a bounded read is still UTF-8.
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return _text_or_none(data[: exc.start].decode("utf-8"), "utf-8")
    return _text_or_none(data.decode("latin-1"), "latin-1")


def _text_or_none(text: str, encoding: str) -> DecodedText | None:
    sample = text[:SNIFF_BYTES]
    if sample:
        control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f")
        control += sum(1 for ch in sample if 0x7F <= ord(ch) <= 0x9F)
        if control / len(sample) > MAX_CONTROL_SHARE:
            return None
    return DecodedText(text=text, encoding=encoding)


def magic_kind(data: bytes) -> FileKind | None:
    """The kind a magic number at the start of `data` names (a ZIP may still be a DOCX: that
    needs its directory), or None when there is none."""
    if is_pdf(data):
        return FileKind.PDF
    if data.startswith(ZIP_MAGIC):
        return FileKind.ZIP
    if data.startswith(PNG_MAGIC):
        return FileKind.PNG
    if data.startswith(JPEG_MAGIC):
        return FileKind.JPEG
    if data.startswith(GIF_MAGICS):
        return FileKind.GIF
    return None


def leading_kind(head: bytes) -> FileKind:
    """The kind the first bytes of a file show: a magic number's, else TEXT or BINARY (JSON
    and CSV are text here: telling them apart needs the whole file), EMPTY for no bytes."""
    if not head:
        return FileKind.EMPTY
    kind = magic_kind(head)
    if kind is not None:
        return kind
    return FileKind.BINARY if decode_text(head) is None else FileKind.TEXT


# The leading kinds each claimed content type accepts. A DOCX is a ZIP (its first bytes
# cannot show more); JSON, CSV, Markdown and plain text are all text.
_ACCEPTED_KINDS: dict[str, frozenset[FileKind]] = {
    MIME_TYPES[FileKind.PDF]: frozenset({FileKind.PDF}),
    MIME_TYPES[FileKind.DOCX]: frozenset({FileKind.ZIP}),
    MIME_TYPES[FileKind.ZIP]: frozenset({FileKind.ZIP}),
    MIME_TYPES[FileKind.PNG]: frozenset({FileKind.PNG}),
    MIME_TYPES[FileKind.JPEG]: frozenset({FileKind.JPEG}),
    MIME_TYPES[FileKind.GIF]: frozenset({FileKind.GIF}),
}
_TEXT = frozenset({FileKind.TEXT})


def accepted_kinds(content_type: str) -> frozenset[FileKind] | None:
    """The leading kinds a file claiming `content_type` may show; None when the type is one
    these tests know nothing about (an operator's addition to ALLOWED_CONTENT_TYPES)."""
    if content_type in _ACCEPTED_KINDS:
        return _ACCEPTED_KINDS[content_type]
    if content_type.startswith("text/") or content_type in {
        "application/json",
        "application/xml",
    }:
        return _TEXT
    return None


def leading_bytes_match(content_type: str, head: bytes) -> bool:
    """True when `head`, a file's first bytes, can start a file of `content_type`."""
    accepted = accepted_kinds(content_type)
    return accepted is None or leading_kind(head) in accepted
