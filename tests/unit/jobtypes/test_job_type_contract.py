"""What the worker relies on from every shipped job type, whatever the file."""

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from function_app.domain.errors import PermanentJobError
from function_app.jobtypes import analyze_document, analyze_resume
from function_app.jobtypes.reading import extraction, upload_reader
from function_app.jobtypes.registry import build_registry
from tests.samples.documents import (
    RESUME_LINES,
    make_docx,
    make_pdf,
    make_png,
    paginate,
    resume_text,
    zip_archive,
)
from tests.samples.job_context import FakeJobContext

SAMPLES: dict[str, Callable[[], bytes]] = {
    "pdf": lambda: make_pdf(paginate(list(RESUME_LINES), per_page=12)),
    "docx": lambda: make_docx(list(RESUME_LINES)),
    "text": lambda: resume_text().encode(),
    "latin-1 text": lambda: resume_text().replace("Jane", "Zoë").encode("latin-1"),
}


@pytest.mark.parametrize("job_name", sorted(build_registry()))
@pytest.mark.parametrize("sample", sorted(SAMPLES))
async def test_results_are_plain_json(job_name: str, sample: str) -> None:
    ctx = FakeJobContext(SAMPLES[sample](), file_name=f"sample-{sample}")
    result = await build_registry()[job_name].run(ctx)
    assert json.loads(json.dumps(result)) == result
    assert result["jobType"] == job_name
    assert ctx.percentages == sorted(ctx.percentages)


def record_thread(
    monkeypatch: pytest.MonkeyPatch, module: object, name: str, threads: list[int]
) -> None:
    real: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


async def test_resume_parsing_and_scoring_run_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[int] = []
    record_thread(monkeypatch, analyze_resume, "pdf_text", threads)
    record_thread(monkeypatch, analyze_resume, "analyse_resume", threads)
    record_thread(monkeypatch, upload_reader, "detect_file_type", threads)
    await build_registry()["analyze-resume"].run(FakeJobContext(SAMPLES["pdf"]()))
    assert len(threads) == 3
    assert threading.get_ident() not in threads


async def test_document_analysis_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    record_thread(monkeypatch, analyze_document, "describe_content", threads)
    record_thread(monkeypatch, upload_reader, "detect_file_type", threads)
    await build_registry()["analyze-document"].run(FakeJobContext(make_png()))
    assert len(threads) == 2
    assert threading.get_ident() not in threads


async def test_a_docx_that_would_inflate_past_the_limit_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extraction, "MAX_DOCX_UNCOMPRESSED_BYTES", 64 * 1024)
    bomb = zip_archive({"word/document.xml": b"<w:document/>", "word/media/pad.bin": bytes(10**5)})
    with pytest.raises(PermanentJobError) as caught:
        await build_registry()["analyze-resume"].run(FakeJobContext(bomb, file_name="cv.docx"))
    assert caught.value.code == "document_too_complex"
