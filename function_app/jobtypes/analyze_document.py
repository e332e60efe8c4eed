"""`analyze-document`: what a file is (from its bytes), its SHA-256, size and text statistics.

Steps (`STEPS`; progress is monotonic; the worker reports `fetching` 5-40 while the bytes
stream in and the checksum is computed on the way): parsing 45 (type from content) ->
analyzing 70 (text statistics, page count, image size) and 85 (what was found) -> storing 90
(result built). `ctx.checkpoint()` runs between steps; the content is analysed by `extract`
(a child process the worker stops on cancel or at the time limit, `jobtypes.reading.sandbox`).
"""

from collections.abc import Mapping
from typing import Any

from function_app.domain.jobs import Stage
from function_app.domain.uploads import normalize_content_type
from function_app.jobtypes.analysis.text_stats import MAX_ANALYSED_CHARS, bounded_text, text_stats
from function_app.jobtypes.base import JobContext
from function_app.jobtypes.reading.extraction import MAX_PDF_PAGES, docx_text, pdf_text
from function_app.jobtypes.reading.file_types import (
    MIME_TYPES,
    FileKind,
    decode_text,
    image_dimensions,
)
from function_app.jobtypes.reading.sandbox import Extracting
from function_app.jobtypes.reading.upload_reader import (
    byte_count,
    fetch_and_detect,
)
from function_app.jobtypes.steps import READ_STEP, RESULT_STEP, Phase, Step, Steps

NAME = "analyze-document"

STEPS = Steps(
    (
        READ_STEP,
        Step(Stage.PARSING, "Detecting the file type", (Phase("detect", "Reading the content"),)),
        Step(
            Stage.ANALYZING,
            "Analysing the content",
            (Phase("analyse", "Extracting text and facts"), Phase("found", "Summarising")),
        ),
        RESULT_STEP,
    )
)


def describe_content(kind: FileKind, data: bytes) -> dict[str, Any]:
    """Kind-specific facts: text statistics for text-bearing files, pages, image size."""
    details: dict[str, Any] = {
        "encoding": None,
        "pageCount": None,
        "pagesAnalysed": None,
        "image": None,
    }
    text: str | None = None
    extraction_truncated = False
    if kind.is_textual:
        decoded = decode_text(data)
        if decoded is not None:
            text, details["encoding"] = decoded.text, decoded.encoding
    elif kind is FileKind.PDF:
        extracted = pdf_text(data)
        text, extraction_truncated = extracted.text, extracted.truncated
        details["pageCount"] = extracted.page_count
        details["pagesAnalysed"] = extracted.pages_read
    elif kind is FileKind.DOCX:
        extracted = docx_text(data)
        text, extraction_truncated = extracted.text, extracted.truncated
    elif (size := image_dimensions(kind, data)) is not None:
        details["image"] = {"width": size[0], "height": size[1]}
    if text is None:
        details["textStats"] = None
    else:
        bounded, cut = bounded_text(text)
        details["textStats"] = text_stats(bounded, truncated=cut or extraction_truncated).as_json()
    return details


def found_detail(details: Mapping[str, Any]) -> str | None:
    """What the analysis found, in a few words ("12 pages, 4,321 characters")."""
    parts = []
    if details.get("pageCount") is not None:
        parts.append(f"{details['pageCount']} pages")
    if details.get("image") is not None:
        parts.append(f"{details['image']['width']}x{details['image']['height']} pixels")
    stats = details.get("textStats")
    if stats is not None:
        parts.append(f"{stats['characters']:,} characters")
    return ", ".join(parts) or None


class AnalyzeDocument(Extracting):
    """Document analysis."""

    name = NAME
    steps = STEPS

    async def run(self, ctx: JobContext) -> Mapping[str, Any]:
        upload, kind = await fetch_and_detect(ctx, "Detecting the file type from its content")
        await ctx.checkpoint()

        await ctx.progress(
            Stage.ANALYZING, 70, f"Analysing the {kind.value} content", phase="analyse"
        )
        details = await self.extract(describe_content, kind, upload.data)
        await ctx.progress(
            Stage.ANALYZING, 85, "Analysed the content", phase="found", detail=found_detail(details)
        )
        await ctx.checkpoint()

        declared = normalize_content_type(ctx.blob.content_type or "") or None
        await ctx.progress(
            Stage.STORING,
            90,
            f"Detected {kind.value}, {upload.size} bytes",
            phase="result",
            detail=f"{kind.value}, {byte_count(upload.size)}",
        )
        return {
            "jobType": NAME,
            **upload.result_fields(),
            "detectedType": kind.value,
            "mimeType": MIME_TYPES[kind],
            "declaredContentType": declared,
            "contentTypeMatches": declared == MIME_TYPES[kind] if declared else None,
            **details,
            "limits": {"maxPages": MAX_PDF_PAGES, "maxTextChars": MAX_ANALYSED_CHARS},
        }
