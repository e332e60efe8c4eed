"""Text out of PDF, DOCX and plain-text uploads, with clear permanent errors for bad files.

Blocking and CPU-heavy: job types run these in a child process (`jobtypes.reading.sandbox`), which
the worker stops on cancel or at the job's time limit. Each parser also has its own budgets,
so that a hostile file fails `document_too_complex` quickly, with a clear message, instead of
using up the job's memory or time (docs/job-types.md, "Memory and time"):
- text: at most `MAX_TEXT_CHARS` characters are kept (the rest is not read);
- PDF: at most `MAX_PDF_PAGES` pages; each page's decoded content at most
  `MAX_PDF_PAGE_CONTENT_BYTES`, all pages' together at most `MAX_PDF_CONTENT_BYTES`; pypdf's
  own parse budget per content stream (`PDF_PARSE_BUDGET` operands and operators), form
  XObjects per page and decompressed stream size tightened; at most `MAX_PDF_CPU_SECONDS`
  of CPU in all;
- DOCX: a ZIP directory of at most `file_types.MAX_ZIP_ENTRIES` entries, parts that inflate
  to at most `MAX_DOCX_UNCOMPRESSED_BYTES` in all, `word/document.xml` streamed with element,
  depth and DTD limits (`docx_reader`), never built into a tree.
"""

import io
import logging
import time
import zipfile
from dataclasses import dataclass

from pypdf import PageObject, PdfReader, apply_configuration, get_configuration
from pypdf.errors import FileNotDecryptedError, LimitReachedError
from pypdf.generic import ArrayObject, StreamObject

from function_app.domain.errors import PermanentJobError
from function_app.jobtypes.reading.docx_reader import docx_paragraphs
from function_app.jobtypes.reading.file_types import (
    DOCX_MAIN_PART,
    MAX_ZIP_ENTRIES,
    check_zip_directory,
    decode_text,
)

MAX_PDF_PAGES = 50
MAX_TEXT_CHARS = 200_000
MAX_DOCX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_PDF_PAGE_CONTENT_BYTES = 4 * 1024 * 1024
MAX_PDF_CONTENT_BYTES = 16 * 1024 * 1024
MAX_PDF_CPU_SECONDS = 20.0
PDF_PARSE_BUDGET = 500_000
PDF_LIMITS = {
    "stream_parsing_work_maximum_count": PDF_PARSE_BUDGET,
    "xform_maximum_invocations_per_extraction": 500,
    "zlib_maximum_output_length": 32 * 1024 * 1024,
    "lzw_maximum_output_length": 32 * 1024 * 1024,
    "run_length_maximum_output_length": 32 * 1024 * 1024,
    "array_based_stream_maximum_output_length": 32 * 1024 * 1024,
}

# pypdf logs every oddity of a damaged file as a warning; we report one clear error instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractedText:
    text: str
    page_count: int | None = None
    pages_read: int | None = None
    truncated: bool = False


def _bounded(text: str) -> tuple[str, bool]:
    return (text[:MAX_TEXT_CHARS], True) if len(text) > MAX_TEXT_CHARS else (text, False)


def pdf_too_complex(reason: str) -> PermanentJobError:
    return PermanentJobError("document_too_complex", f"the PDF is too complex to read: {reason}")


def page_content_bytes(page: PageObject) -> int:
    """The size of a page's content streams once decoded (pypdf keeps the decoded data, so
    the text extraction that follows does not decode them again)."""
    contents = page.get("/Contents")
    if contents is None:
        return 0
    contents = contents.get_object()
    streams = contents if isinstance(contents, ArrayObject) else [contents]
    size = 0
    for item in streams:
        stream = item.get_object()
        if isinstance(stream, StreamObject):
            size += len(stream.get_data())
    return size


class _PdfBudget:
    def __init__(self) -> None:
        self.content_bytes = 0
        self.cpu_until = time.process_time() + MAX_PDF_CPU_SECONDS

    def page(self, page: PageObject, number: int) -> None:
        size = page_content_bytes(page)
        if size > MAX_PDF_PAGE_CONTENT_BYTES:
            raise pdf_too_complex(
                f"page {number}'s content is {size:,} bytes "
                f"(at most {MAX_PDF_PAGE_CONTENT_BYTES:,} a page)"
            )
        self.content_bytes += size
        if self.content_bytes > MAX_PDF_CONTENT_BYTES:
            raise pdf_too_complex(
                f"its pages' content passes {MAX_PDF_CONTENT_BYTES:,} bytes by page {number}"
            )
        if time.process_time() > self.cpu_until:
            raise pdf_too_complex(f"reading it takes more than {MAX_PDF_CPU_SECONDS:.0f} s")


def pdf_text(data: bytes) -> ExtractedText:
    """Text of the first `MAX_PDF_PAGES` pages. Encrypted (with a password) or broken: refused;
    past a budget (module docstring): `document_too_complex`."""
    with apply_configuration(get_configuration().with_overwrites(**PDF_LIMITS)):
        return _pdf_text(data)


def _pdf_text(data: bytes) -> ExtractedText:
    budget = _PdfBudget()
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
        for number, page in enumerate(reader.pages[:MAX_PDF_PAGES], start=1):
            budget.page(page, number)
            chunk = page.extract_text() or ""
            parts.append(chunk)
            pages_read += 1
            size += len(chunk)
            if size > MAX_TEXT_CHARS:
                break
    except PermanentJobError:
        raise
    except LimitReachedError as exc:
        raise pdf_too_complex(f"it exceeds the reader's safety limits ({exc})") from exc
    except MemoryError:
        raise pdf_too_complex("it needs more memory than a job may use") from None
    except FileNotDecryptedError as exc:
        raise PermanentJobError(
            "encrypted_document", "the PDF is password-protected; upload it without a password"
        ) from exc
    except Exception as exc:
        # Parsing bytes in memory is deterministic: whatever breaks now breaks on every
        # redelivery, so any failure of the reader is the file's fault, not a transient one.
        # The reader's exception names a library class: logged, never shown to the user.
        logger.info("PDF reader failed: %s: %s", type(exc).__name__, str(exc)[:200])
        raise PermanentJobError(
            "corrupt_file", "the PDF could not be read: it is damaged or not really a PDF"
        ) from exc
    text, cut = _bounded("\n".join(parts))
    return ExtractedText(
        text=text,
        page_count=page_count,
        pages_read=pages_read,
        truncated=cut or pages_read < page_count,
    )


def _docx_archive(data: bytes) -> zipfile.ZipFile:
    check_zip_directory(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise PermanentJobError("corrupt_file", "the DOCX is not a readable ZIP archive") from exc
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise PermanentJobError(
            "document_too_complex", f"the DOCX has more than {MAX_ZIP_ENTRIES:,} parts"
        )
    if DOCX_MAIN_PART not in {info.filename for info in infos}:
        raise PermanentJobError("corrupt_file", "the ZIP archive is not a Word document")
    if sum(info.file_size for info in infos) > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise PermanentJobError(
            "document_too_complex",
            f"the DOCX would expand past {MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)} MiB",
        )
    return archive


def docx_text(data: bytes) -> ExtractedText:
    """Paragraph and table text of a DOCX, one line per paragraph in document order (table
    cells in reading order, a merged cell once), read as a stream (`docx_reader`)."""
    with _docx_archive(data) as archive:
        try:
            lines, cut = docx_paragraphs(archive, DOCX_MAIN_PART, max_chars=MAX_TEXT_CHARS)
        except MemoryError:
            raise PermanentJobError(
                "document_too_complex", "the DOCX needs more memory than a job may use"
            ) from None
    text, bounded = _bounded("\n".join(lines))
    return ExtractedText(text=text, truncated=cut or bounded)


def plain_text(data: bytes) -> ExtractedText:
    decoded = decode_text(data)
    if decoded is None:
        raise PermanentJobError(
            "unsupported_file_type", "the file is binary, not a PDF, DOCX or text document"
        )
    text, cut = _bounded(decoded.text)
    return ExtractedText(text=text, truncated=cut)
