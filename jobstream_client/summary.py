"""A finished job's result as a few lines a person reads: the resume's score and its weakest
criteria, or the document's key figures. `--json` prints the raw result instead."""

from collections.abc import Mapping, Sequence
from typing import Any

SIZE_UNITS = ("bytes", "KB", "MB", "GB", "TB")
TOP_REASONS = 3


def human_size(size: float) -> str:
    """`15.2 MB`: decimal units (as file managers and Blob Storage's portal show them)."""
    value = float(size)
    for unit in SIZE_UNITS:
        if abs(value) < 1000 or unit == SIZE_UNITS[-1]:
            if unit == "bytes":
                return f"{int(value):,} bytes"
            return f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _listed(items: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(str(item) for item in items[:limit])
    more = len(items) - limit
    return f"{shown} (+{more} more)" if more > 0 else shown or "none"


def resume_lines(result: Mapping[str, Any]) -> list[str]:
    lines = [
        f"Score {result.get('score')}/{result.get('maxScore', 100)} "
        f"for {result.get('fileName')} ({result.get('format')}, "
        f"{human_size(result.get('sizeBytes') or 0)})"
    ]
    reasons = [r for r in result.get("reasons") or [] if isinstance(r, Mapping)]
    # The criteria that cost the most points first: what to improve.
    reasons.sort(key=lambda r: int(r.get("points", 0)) - int(r.get("maxPoints", 0)))
    for reason in reasons[:TOP_REASONS]:
        lines.append(
            f"  {reason.get('criterion')}: {reason.get('points')}/{reason.get('maxPoints')}"
            f" - {reason.get('reason')}"
        )
    sections = result.get("sections") or {}
    lines.append(f"Sections found: {_listed(sections.get('found') or [])}")
    if sections.get("missing"):
        lines.append(f"Sections missing: {_listed(sections['missing'])}")
    lines.append(f"Skills: {_listed(result.get('skills') or [])}")
    return lines


def document_lines(result: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{result.get('fileName')}: {result.get('detectedType')} ({result.get('mimeType')}), "
        f"{human_size(result.get('sizeBytes') or 0)}"
    ]
    if result.get("pageCount") is not None:
        lines.append(f"Pages: {result['pageCount']} ({result.get('pagesAnalysed')} analysed)")
    stats = result.get("textStats")
    if isinstance(stats, Mapping):
        lines.append(
            f"Text: {stats.get('words', 0):,} words, {stats.get('lines', 0):,} lines, "
            f"{stats.get('characters', 0):,} characters"
            + (f", language {stats['languageHint']}" if stats.get("languageHint") else "")
        )
        top = [w.get("word") for w in stats.get("topWords") or [] if isinstance(w, Mapping)]
        if top:
            lines.append(f"Top words: {_listed(top, 5)}")
    image = result.get("image")
    if isinstance(image, Mapping):
        lines.append(f"Image: {image.get('width')} x {image.get('height')} pixels")
    if result.get("contentTypeMatches") is False:
        lines.append(
            f"Declared as {result.get('declaredContentType')}, "
            f"but the bytes are {result.get('mimeType')}"
        )
    lines.append(f"SHA-256: {result.get('sha256')}")
    return lines


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """The result as lines for a person, by its job type; unknown types list their keys."""
    job_type = result.get("jobType")
    if job_type == "analyze-resume":
        return resume_lines(result)
    if job_type == "analyze-document":
        return document_lines(result)
    return [f"{key}: {value}" for key, value in result.items() if not isinstance(value, dict)]
