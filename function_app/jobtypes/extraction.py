"""Text out of PDF, DOCX and plain-text uploads, with clear permanent errors for bad files.

Blocking and CPU-heavy: job types call these through `asyncio.to_thread`. Work is bounded:
at most `MAX_PDF_PAGES` pages are read, at most `MAX_TEXT_CHARS` characters kept, and a
DOCX whose parts would inflate past `MAX_DOCX_UNCOMPRESSED_BYTES` is refused unread
(a ZIP bomb must not take the worker down).
"""

import io
import logging
import zipfile
from dataclasses import dataclass

import docx
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, LimitReachedError

from function_app.domain.errors import PermanentJobError
from function_app.jobtypes.file_types import DOCX_MAIN_PART, decode_text

MAX_PDF_PAGES = 50
MAX_TEXT_CHARS = 200_000
MAX_DOCX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024

# pypdf logs every oddity of a damaged file as a warning; we report one clear error instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class ExtractedText:
    text: str
    page_count: int | None = None
    pages_read: int | None = None
    truncated: bool = False


def _bounded(text: str) -> tuple[str, bool]:
    return (text[:MAX_TEXT_CHARS], True) if len(text) > MAX_TEXT_CHARS else (text, False)


def pdf_text(data: bytes) -> ExtractedText:
    """Text of the first `MAX_PDF_PAGES` pages. Encrypted (with a password) or broken: refused."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            # decrypt("") succeeds for owner-password-only files, which anyone may read.
            raise PermanentJobError(
                "encrypted_document", "the PDF is password-protected; upload it without a password"
            )
        page_count = len(reader.pages)
        parts: list[str] = []
        size = 0
        pages_read = 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            chunk = page.extract_text() or ""
            parts.append(chunk)
            pages_read += 1
            size += len(chunk)
            if size > MAX_TEXT_CHARS:
                break
    except PermanentJobError:
        raise
    except LimitReachedError as exc:
        raise PermanentJobError(
            "document_too_complex", "the PDF exceeds the reader's safety limits"
        ) from exc
    except FileNotDecryptedError as exc:
        raise PermanentJobError(
            "encrypted_document", "the PDF is password-protected; upload it without a password"
        ) from exc
    except Exception as exc:
        # Parsing bytes in memory is deterministic: whatever breaks now breaks on every
        # redelivery, so any failure of the reader is the file's fault, not a transient one.
        raise PermanentJobError(
            "corrupt_file", f"the PDF could not be read: {type(exc).__name__}"
        ) from exc
    text, cut = _bounded("\n".join(parts))
    return ExtractedText(
        text=text,
        page_count=page_count,
        pages_read=pages_read,
        truncated=cut or pages_read < page_count,
    )


def _check_docx_archive(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise PermanentJobError("corrupt_file", "the DOCX is not a readable ZIP archive") from exc
    if DOCX_MAIN_PART not in {info.filename for info in infos}:
        raise PermanentJobError("corrupt_file", "the ZIP archive is not a Word document")
    if sum(info.file_size for info in infos) > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise PermanentJobError(
            "document_too_complex",
            f"the DOCX would expand past {MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)} MiB",
        )


def docx_text(data: bytes) -> ExtractedText:
    """Paragraph and table text of a DOCX, in document order (body paragraphs, then tables)."""
    _check_docx_archive(data)
    try:
        document = docx.Document(io.BytesIO(data))
        lines = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                previous: str | None = None
                for cell in row.cells:
                    # A merged cell appears once per grid column it spans: keep it once.
                    if cell.text == previous:
                        continue
                    previous = cell.text
                    lines.extend(p.text for p in cell.paragraphs)
    except Exception as exc:  # python-docx and lxml raise many kinds for a malformed package
        raise PermanentJobError(
            "corrupt_file", f"the DOCX could not be read: {type(exc).__name__}"
        ) from exc
    text, cut = _bounded("\n".join(lines))
    return ExtractedText(text=text, truncated=cut)


def plain_text(data: bytes) -> ExtractedText:
    decoded = decode_text(data)
    if decoded is None:
        raise PermanentJobError(
            "unsupported_file_type", "the file is binary, not a PDF, DOCX or text document"
        )
    text, cut = _bounded(decoded.text)
    return ExtractedText(text=text, truncated=cut)
