"""analyze-resume on real generated PDF, DOCX and text resumes, run through a fake JobContext."""

import io

import pytest
from pypdf import PdfReader

from function_app.domain.errors import JobCancelled, PermanentJobError
from function_app.jobtypes.analyze_resume import AnalyzeResume
from function_app.jobtypes.reading.extraction import MAX_PDF_PAGES
from tests.samples.documents import (
    RESUME_LINES,
    corrupt_pdf,
    encrypted_pdf,
    long_resume_lines,
    make_docx,
    make_docx_with_table,
    make_pdf,
    make_png,
    paginate,
    resume_text,
    zip_archive,
)
from tests.samples.job_context import FakeJobContext

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HEADINGS = ("SUMMARY", "EXPERIENCE", "EDUCATION", "SKILLS", "PROJECTS", "CERTIFICATIONS")


async def run(ctx: FakeJobContext) -> dict[str, object]:
    return dict(await AnalyzeResume().run(ctx))


def assert_progress_moves_forward(ctx: FakeJobContext) -> None:
    assert ctx.percentages == sorted(ctx.percentages)
    assert ctx.percentages[0] > 40  # the worker's fetching (5-40) comes first
    assert ctx.stages[-1] == "storing"


async def test_a_multi_page_pdf_resume_is_read_and_scored() -> None:
    pdf = make_pdf(paginate(long_resume_lines(), per_page=30))
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2
    ctx = FakeJobContext(pdf, file_name="cv.pdf", content_type="application/pdf")

    result = await run(ctx)

    assert result["format"] == "pdf"
    assert result["pageCount"] == result["pagesAnalysed"] == len(PdfReader(io.BytesIO(pdf)).pages)
    assert result["sections"] == {
        "found": [
            "contact",
            "experience",
            "education",
            "skills",
            "summary",
            "projects",
            "certifications",
        ],
        "missing": [],
    }
    assert result["contact"] == {"fieldsFound": ["email", "phone", "linkedin", "github"]}
    assert "Kubernetes" in result["skills"]  # type: ignore[operator]
    assert isinstance(result["score"], int)
    assert result["score"] >= 90
    assert result["sizeBytes"] == len(pdf)
    assert ctx.chunks_served > 1
    assert_progress_moves_forward(ctx)


async def test_a_docx_resume_with_heading_styles_is_read_and_scored() -> None:
    docx = make_docx(list(RESUME_LINES), headings=HEADINGS)
    ctx = FakeJobContext(docx, file_name="cv.docx", content_type=DOCX_TYPE)

    result = await run(ctx)

    assert result["format"] == "docx"
    assert result["pageCount"] is None
    assert result["sections"]["missing"] == []  # type: ignore[index]
    assert result["skills"][:3] == ["Python", "TypeScript", "Azure"]  # type: ignore[index]
    assert 60 <= result["score"] <= 100  # type: ignore[operator]
    assert_progress_moves_forward(ctx)


async def test_docx_table_cells_are_read() -> None:
    docx = make_docx_with_table(
        [["Skills", "Python, Go, SQL"], ["Education", "BSc Physics, Example University"]],
        paragraphs=["Sam Table", "sam@example.com"],
    )
    result = await run(FakeJobContext(docx, file_name="cv.docx"))
    assert result["skills"] == ["Python", "Go", "SQL"]
    assert "education" in result["sections"]["found"]  # type: ignore[index]


async def test_a_plain_text_resume_is_read_whatever_its_name() -> None:
    ctx = FakeJobContext(resume_text().encode(), file_name="resume.pdf")
    result = await run(ctx)
    assert result["format"] == "text"
    assert result["contact"] == {"fieldsFound": ["email", "phone", "linkedin", "github"]}
    assert "jane.example@example.com" not in str(result)


async def test_the_result_does_not_echo_the_whole_text() -> None:
    result = await run(FakeJobContext(resume_text().encode(), file_name="cv.txt"))
    assert "Reduced p95 latency" not in str(result)
    assert len(str(result["preview"])) <= 161


async def test_only_the_first_pages_are_analysed() -> None:
    pages = [[f"Page {n} text about Python."] for n in range(MAX_PDF_PAGES + 5)]
    result = await run(FakeJobContext(make_pdf(pages), file_name="long.pdf"))
    assert result["pageCount"] == MAX_PDF_PAGES + 5
    assert result["pagesAnalysed"] == MAX_PDF_PAGES
    assert result["truncated"] is True


async def test_a_corrupt_pdf_fails_permanently_as_corrupt_file() -> None:
    broken = corrupt_pdf()
    with pytest.raises(PermanentJobError) as caught:
        await run(FakeJobContext(broken, file_name="cv.pdf"))
    assert caught.value.code == "corrupt_file"
    assert caught.value.retryable is False


async def test_a_password_protected_pdf_fails_as_encrypted_document() -> None:
    locked = encrypted_pdf()
    with pytest.raises(PermanentJobError) as caught:
        await run(FakeJobContext(locked, file_name="cv.pdf"))
    assert caught.value.code == "encrypted_document"


async def test_a_pdf_with_only_an_owner_password_is_read() -> None:
    restricted = make_pdf([list(RESUME_LINES)], user_password="")
    result = await run(FakeJobContext(restricted, file_name="cv.pdf"))
    assert result["format"] == "pdf"
    assert "education" in result["sections"]["found"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("content", "file_name", "code"),
    [
        (b"", "cv.txt", "empty_document"),
        (b"  \n\n  ", "cv.txt", "empty_document"),
        (make_pdf([[]]), "cv.pdf", "empty_document"),
        (make_docx([]), "cv.docx", "empty_document"),
        (make_png(), "cv.pdf", "unsupported_file_type"),
        (bytes(range(256)) * 8, "cv.txt", "unsupported_file_type"),
        (zip_archive({"a.txt": b"x"}), "cv.docx", "corrupt_file"),
        (zip_archive({"a.txt": b"x"}), "cv.zip", "unsupported_file_type"),
        (zip_archive({"word/document.xml": b"<not-closed"}), "cv.docx", "corrupt_file"),
        (b"PK\x03\x04" + b"\x00" * 40, "cv.docx", "corrupt_file"),
    ],
    ids=[
        "empty",
        "whitespace",
        "pdf-without-text",
        "docx-without-text",
        "png",
        "binary",
        "zip-claiming-docx",
        "plain-zip",
        "docx-with-broken-xml",
        "truncated-zip",
    ],
)
async def test_unusable_files_fail_permanently_with_a_clear_code(
    content: bytes, file_name: str, code: str
) -> None:
    with pytest.raises(PermanentJobError) as caught:
        await run(FakeJobContext(content, file_name=file_name))
    assert caught.value.code == code
    assert caught.value.message


@pytest.mark.parametrize("checkpoint", [1, 2, 3, 4])
async def test_a_cancel_is_honoured_at_every_checkpoint(checkpoint: int) -> None:
    ctx = FakeJobContext(
        resume_text().encode(), file_name="cv.txt", cancel_at_checkpoint=checkpoint
    )
    with pytest.raises(JobCancelled):
        await run(ctx)
    assert ctx.checkpoints == checkpoint
    assert all(call.stage != "storing" for call in ctx.progress_calls)


async def test_without_a_cancel_every_checkpoint_passes() -> None:
    ctx = FakeJobContext(resume_text().encode(), file_name="cv.txt")
    await run(ctx)
    assert ctx.checkpoints == 4
