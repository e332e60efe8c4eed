"""analyze-document: kind from content, SHA-256 over the streamed bytes, text statistics."""

import hashlib
import json

import pytest

from function_app.domain.errors import JobCancelled, PermanentJobError
from function_app.jobtypes.analyze_document import AnalyzeDocument
from tests.samples.documents import (
    corrupt_pdf,
    make_docx,
    make_pdf,
    make_png,
    paginate,
    resume_text,
)
from tests.samples.job_context import FakeJobContext


async def run(ctx: FakeJobContext) -> dict[str, object]:
    return dict(await AnalyzeDocument().run(ctx))


@pytest.mark.parametrize("chunk_size", [1, 7, 1024, None])
async def test_the_checksum_is_sha256_of_all_streamed_bytes(chunk_size: int | None) -> None:
    content = resume_text().encode() * 3
    ctx = FakeJobContext(content, file_name="notes.txt", chunk_size=chunk_size)
    result = await run(ctx)
    assert result["sha256"] == hashlib.sha256(content).hexdigest()
    assert result["sizeBytes"] == len(content)


async def test_a_text_file_gets_text_statistics() -> None:
    text = "The queue delivers jobs. Workers run jobs quickly!\nJobs finish. Queue drains?"
    result = await run(FakeJobContext(text.encode(), file_name="a.txt", content_type="text/plain"))
    assert result["detectedType"] == "text"
    assert result["mimeType"] == "text/plain"
    assert result["contentTypeMatches"] is True
    assert result["encoding"] == "utf-8"
    stats = result["textStats"]
    assert isinstance(stats, dict)
    assert stats["words"] == 12
    assert stats["lines"] == 2
    assert stats["sentences"] == 4
    assert stats["topWords"][0] == {"word": "jobs", "count": 3}
    assert stats["languageHint"] is None or stats["languageHint"] == "en"


async def test_a_multi_page_pdf_reports_pages_and_text_statistics() -> None:
    lines = [f"Line {n} of the quarterly report." for n in range(120)]
    pdf = make_pdf(paginate(lines, per_page=40))
    result = await run(FakeJobContext(pdf, file_name="report.pdf", content_type="text/plain"))
    assert result["detectedType"] == "pdf"
    assert result["pageCount"] == 3
    assert result["contentTypeMatches"] is False
    stats = result["textStats"]
    assert isinstance(stats, dict)
    assert stats["words"] == 120 * 5
    assert {"word": "quarterly", "count": 120} in stats["topWords"]


async def test_a_docx_gets_text_statistics() -> None:
    result = await run(FakeJobContext(make_docx(["Alpha beta.", "Gamma delta epsilon."])))
    assert result["detectedType"] == "docx"
    assert result["textStats"]["words"] == 5  # type: ignore[index]


async def test_json_is_recognised_and_counted_as_text() -> None:
    body = json.dumps({"name": "jobstream", "queues": ["resume-analysis"]}).encode()
    result = await run(FakeJobContext(body, file_name="x.bin"))
    assert result["detectedType"] == "json"
    assert result["mimeType"] == "application/json"
    assert result["textStats"] is not None


async def test_an_image_gets_its_size_and_no_text_statistics() -> None:
    result = await run(FakeJobContext(make_png(4, 3), file_name="photo.txt"))
    assert result["detectedType"] == "png"
    assert result["image"] == {"width": 4, "height": 3}
    assert result["textStats"] is None
    assert result["declaredContentType"] is None
    assert result["contentTypeMatches"] is None


async def test_unknown_binary_is_described_not_refused() -> None:
    content = bytes(range(256)) * 16
    result = await run(FakeJobContext(content, file_name="blob.dat"))
    assert result["detectedType"] == "binary"
    assert result["sha256"] == hashlib.sha256(content).hexdigest()
    assert result["textStats"] is None


async def test_a_corrupt_pdf_fails_permanently() -> None:
    broken = corrupt_pdf()
    with pytest.raises(PermanentJobError) as caught:
        await run(FakeJobContext(broken, file_name="a.pdf"))
    assert caught.value.code == "corrupt_file"


async def test_progress_never_goes_backwards_and_ends_storing() -> None:
    ctx = FakeJobContext(resume_text().encode(), file_name="cv.txt")
    await run(ctx)
    assert ctx.percentages == sorted(ctx.percentages)
    assert ctx.stages == ["parsing", "analyzing", "analyzing", "storing"]
    assert ctx.percentages[0] > 40


@pytest.mark.parametrize("checkpoint", [1, 2, 3, 4])
async def test_a_cancel_is_honoured_at_every_checkpoint(checkpoint: int) -> None:
    ctx = FakeJobContext(b"some text", file_name="a.txt", cancel_at_checkpoint=checkpoint)
    with pytest.raises(JobCancelled):
        await run(ctx)
    assert ctx.checkpoints == checkpoint
