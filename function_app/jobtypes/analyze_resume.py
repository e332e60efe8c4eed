"""`analyze-resume`: extract a PDF, DOCX or plain-text resume's text, find its sections, score it.

Steps (`STEPS`; progress is monotonic; the worker reports `fetching` 5-40 while the bytes
stream in): parsing 45 (format from content) -> parsing 60 (text extracted) -> analyzing 70
(sections, contact, skills, score) and 80 (sections found) -> storing 90 (result built).
`ctx.checkpoint()` runs between steps; the text is extracted by `extract` (a child process
the worker stops on cancel or at the time limit, `jobtypes.reading.sandbox`).
"""

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

from function_app.domain.errors import PermanentJobError
from function_app.domain.jobs import Stage
from function_app.jobtypes.analysis.resume_scoring import analyse_resume
from function_app.jobtypes.base import JobContext
from function_app.jobtypes.reading.extraction import (
    MAX_PDF_PAGES,
    MAX_TEXT_CHARS,
    ExtractedText,
    docx_text,
    pdf_text,
    plain_text,
)
from function_app.jobtypes.reading.file_types import MIME_TYPES, FileKind
from function_app.jobtypes.reading.sandbox import Extracting
from function_app.jobtypes.reading.upload_reader import (
    byte_count,
    fetch_and_detect,
)
from function_app.jobtypes.steps import READ_STEP, RESULT_STEP, Phase, Step, Steps

NAME = "analyze-resume"

STEPS = Steps(
    (
        READ_STEP,
        Step(
            Stage.PARSING,
            "Reading the resume",
            (Phase("detect", "Detecting the file format"), Phase("extract", "Extracting the text")),
        ),
        Step(
            Stage.ANALYZING,
            "Analysing the resume",
            (Phase("score", "Finding sections and scoring"), Phase("found", "Summarising")),
        ),
        RESULT_STEP,
    )
)


def resume_format(kind: FileKind) -> str:
    """The resume format for a detected file kind ("pdf", "docx", "text")."""
    if kind in {FileKind.PDF, FileKind.DOCX}:
        return kind.value
    if kind.is_textual:
        return "text"
    raise ValueError(f"not a resume format: {kind}")


def claims_docx(file_name: str, content_type: str | None) -> bool:
    return file_name.lower().endswith(".docx") or content_type == MIME_TYPES[FileKind.DOCX]


def extract_resume_text(kind: FileKind, data: bytes, *, claimed_docx: bool) -> ExtractedText:
    """The resume's text, or a PermanentJobError naming why there is none."""
    match kind:
        case FileKind.PDF:
            return pdf_text(data)
        case FileKind.DOCX:
            return docx_text(data)
        case FileKind.TEXT | FileKind.JSON | FileKind.CSV:
            return plain_text(data)
        case FileKind.EMPTY:
            raise PermanentJobError("empty_document", "the file is empty")
        case FileKind.ZIP if claimed_docx:
            raise PermanentJobError("corrupt_file", "the file is not a valid Word document")
        case _:
            raise PermanentJobError(
                "unsupported_file_type",
                f"a resume must be a PDF, DOCX or text file; this is {kind.value}",
            )


class AnalyzeResume(Extracting):
    """Resume analysis."""

    name = NAME
    steps = STEPS

    async def run(self, ctx: JobContext) -> Mapping[str, Any]:
        upload, kind = await fetch_and_detect(ctx, "Detecting the file format")
        claimed = claims_docx(upload.file_name, ctx.blob.content_type)
        extracted = await self.extract(
            functools.partial(extract_resume_text, claimed_docx=claimed), kind, upload.data
        )
        if not extracted.text.strip():
            raise PermanentJobError(
                "empty_document",
                "no text found in the document (a scanned PDF needs OCR, which is not offered)",
            )
        pages = f" from {extracted.pages_read} pages" if extracted.pages_read else ""
        characters = f"{len(extracted.text):,} characters{pages}"
        await ctx.progress(
            Stage.PARSING,
            60,
            f"Extracted {len(extracted.text)} characters{pages}",
            phase="extract",
            detail=characters,
        )
        await ctx.checkpoint()

        await ctx.progress(Stage.ANALYZING, 70, "Finding sections and scoring", phase="score")
        analysis = await asyncio.to_thread(analyse_resume, extracted.text)
        found = len(analysis.sections_found)
        await ctx.progress(
            Stage.ANALYZING,
            80,
            f"Found {found} sections",
            phase="found",
            detail=f"{found} section{'' if found == 1 else 's'} found",
        )
        await ctx.checkpoint()

        await ctx.progress(
            Stage.STORING,
            90,
            f"Scored {analysis.score}/100",
            phase="result",
            detail=f"score {analysis.score}/100, {byte_count(upload.size)}",
        )
        return {
            "jobType": NAME,
            **upload.result_fields(),
            "format": resume_format(kind),
            "pageCount": extracted.page_count,
            "pagesAnalysed": extracted.pages_read,
            "characterCount": len(extracted.text),
            "truncated": extracted.truncated,
            **analysis.as_json(),
            "limits": {"maxPages": MAX_PDF_PAGES, "maxTextChars": MAX_TEXT_CHARS},
        }
