"""The terminal client's result summary: sizes people read, the resume's weakest criteria,
the document's key figures, and exit statuses that say how the job ended."""

import json

import pytest

from jobstream_client.cli import report
from jobstream_client.summary import human_size, summary_lines

RESUME = {
    "jobType": "analyze-resume",
    "fileName": "cv.pdf",
    "format": "pdf",
    "sizeBytes": 15_234_567,
    "sha256": "ab" * 32,
    "score": 72,
    "maxScore": 100,
    "reasons": [
        {"criterion": "contact", "points": 15, "maxPoints": 15, "reason": "email and phone"},
        {"criterion": "experience", "points": 10, "maxPoints": 30, "reason": "few dates"},
        {"criterion": "skills", "points": 5, "maxPoints": 15, "reason": "4 skills listed"},
        {"criterion": "education", "points": 12, "maxPoints": 20, "reason": "no degree named"},
        {"criterion": "length", "points": 9, "maxPoints": 10, "reason": "a bit long"},
    ],
    "sections": {"found": ["contact", "experience", "skills"], "missing": ["education"]},
    "skills": ["Python", "SQL", "Azure", "Docker"],
}

DOCUMENT = {
    "jobType": "analyze-document",
    "fileName": "notes.pdf",
    "sizeBytes": 2048,
    "sha256": "cd" * 32,
    "detectedType": "pdf",
    "mimeType": "application/pdf",
    "declaredContentType": "text/plain",
    "contentTypeMatches": False,
    "pageCount": 3,
    "pagesAnalysed": 3,
    "textStats": {
        "words": 1234,
        "lines": 80,
        "characters": 7001,
        "languageHint": "en",
        "topWords": [{"word": "stream", "count": 9}, {"word": "job", "count": 7}],
    },
    "image": None,
}


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1000, "1.0 KB"),
        (15_234_567, "15.2 MB"),
        (3e12, "3.0 TB"),
    ],
)
def test_sizes_read_as_people_read_them(size: float, shown: str) -> None:
    assert human_size(size) == shown


def test_a_resume_reads_as_its_score_and_the_criteria_that_cost_most() -> None:
    lines = summary_lines(RESUME)
    assert lines[0] == "Score 72/100 for cv.pdf (pdf, 15.2 MB)"
    assert lines[1:4] == [
        "  experience: 10/30 - few dates",
        "  skills: 5/15 - 4 skills listed",
        "  education: 12/20 - no degree named",
    ]
    assert "Sections missing: education" in lines
    assert "Skills: Python, SQL, Azure, Docker" in lines


def test_a_document_reads_as_its_key_figures() -> None:
    lines = summary_lines(DOCUMENT)
    assert lines[0] == "notes.pdf: pdf (application/pdf), 2.0 KB"
    assert "Pages: 3 (3 analysed)" in lines
    assert "Text: 1,234 words, 80 lines, 7,001 characters, language en" in lines
    assert "Top words: stream, job" in lines
    assert "Declared as text/plain, but the bytes are application/pdf" in lines
    assert lines[-1] == f"SHA-256: {'cd' * 32}"


@pytest.mark.parametrize(
    ("final", "status"),
    [
        ({"status": "completed", "result": RESUME}, 0),
        ({"status": "failed", "error": "unreadable", "errorCode": "corrupt_file"}, 1),
        ({"status": "cancelled", "message": "Cancelled by the owner"}, 4),
    ],
)
def test_the_exit_status_says_how_the_job_ended(
    final: dict[str, object], status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report(final, as_json=False) == status
    out, err = capsys.readouterr()
    if status == 0:
        assert out.startswith("Score 72/100")
    else:
        assert out == ""
        assert err.startswith(f"job {final['status']}")
    if status == 1:
        assert err.strip() == "job failed (corrupt_file): unreadable"


def test_json_prints_the_raw_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert report({"status": "completed", "result": RESUME}, as_json=True) == 0
    assert json.loads(capsys.readouterr().out) == RESUME
