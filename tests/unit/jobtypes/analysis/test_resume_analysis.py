"""Resume text -> sections, contact fields, skills and an explained 0-100 score."""

import pytest

from function_app.jobtypes.analysis.resume_reading import (
    find_contact,
    heading_of,
    skills_from_section,
    split_sections,
)
from function_app.jobtypes.analysis.resume_scoring import analyse_resume
from tests.samples.documents import long_resume_lines, resume_text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("EXPERIENCE", ("experience", "")),
        ("Work Experience:", ("experience", "")),
        ("  Education & Training", ("education", "")),
        ("Skills: Python, Go", ("skills", "Python, Go")),
        ("• Certifications", ("certifications", "")),
        ("Professional Summary", ("summary", "")),
        ("I gained experience in Python", None),
        ("Experience with many tools and platforms over years", None),
        ("", None),
    ],
)
def test_headings_are_recognised_in_any_case(line: str, expected: tuple[str, str] | None) -> None:
    assert heading_of(line) == expected


def test_lines_are_grouped_under_their_heading() -> None:
    sections = split_sections(resume_text().splitlines())
    assert sections["header"][0] == "Jane Example"
    assert sections["education"] == [
        "MSc Computer Science, University of Example, 2015",
        "BSc Mathematics, Example College, 2013",
    ]
    assert len(sections["experience"]) == 6


def test_contact_fields_are_found_without_keeping_them() -> None:
    contact = find_contact("ada@example.org\n(555) 123-4567\nhttps://ada.dev github.com/ada")
    assert contact.found == ["email", "phone", "github", "website"]


def test_year_ranges_are_not_phone_numbers() -> None:
    contact = find_contact("Engineer 2015 - 2019\nAnalyst 2012-2015")
    assert contact.phone is False
    assert contact.found == []


def test_skills_are_split_cleaned_and_deduplicated() -> None:
    lines = ["Languages: Python, Go; Rust", "• Docker | Kubernetes | docker", "CI/CD - Terraform"]
    assert skills_from_section(lines) == [
        "Python",
        "Go",
        "Rust",
        "Docker",
        "Kubernetes",
        "CI/CD",
        "Terraform",
    ]


def test_a_complete_resume_has_every_section_and_a_high_score() -> None:
    analysis = analyse_resume("\n".join(long_resume_lines()))
    result = analysis.as_json()
    assert result["sections"]["missing"] == []
    assert set(result["sections"]["found"]) >= {
        "contact",
        "experience",
        "education",
        "skills",
        "summary",
        "projects",
        "certifications",
    }
    assert result["score"] == sum(r["points"] for r in result["reasons"])
    assert result["score"] >= 90
    assert all(0 <= r["points"] <= r["maxPoints"] for r in result["reasons"])
    assert sum(r["maxPoints"] for r in result["reasons"]) == 100


def test_a_thin_resume_scores_low_and_says_why() -> None:
    analysis = analyse_resume("John Smith\nI like computers and have used Python and Excel.")
    result = analysis.as_json()
    assert result["sections"]["missing"] == ["contact", "experience", "education", "skills"]
    assert result["skillsSource"] == "keywords"
    assert result["skills"] == ["Python", "Excel"]
    assert result["score"] < 20
    reasons = {r["criterion"]: r for r in result["reasons"]}
    assert reasons["experience"]["points"] == 0
    assert "no experience section" in reasons["experience"]["reason"]


def test_the_preview_is_short_and_redacts_contact_details() -> None:
    preview = analyse_resume(resume_text()).preview
    assert len(preview) <= 161
    assert "jane.example@example.com" not in preview
    assert "7946" not in preview
    assert preview.startswith("Jane Example [email] | [phone]")
