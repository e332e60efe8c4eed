"""Resume analysis on plain text: what `resume_reading` finds, scored 0-100.

Pure: the job type extracts the text (PDF, DOCX, plain text) and hands it here. The score is a
sum of explicit criteria, each reported with its points, maximum and reason, so a user can
see why a resume scored what it did. Nothing here echoes the resume back beyond a short,
redacted preview.
"""

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from function_app.jobtypes.analysis.resume_reading import (
    OPTIONAL_SECTIONS,
    REQUIRED_SECTIONS,
    ContactFields,
    find_contact,
    known_skills_in,
    preview_of,
    skills_from_section,
    split_sections,
)
from function_app.jobtypes.analysis.text_stats import words_of

YEAR_RE = re.compile(r"\b(?:19|20)\d{2}\b|\bpresent\b|\bcurrent\b", re.IGNORECASE)
NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?\s*%|\b\d+(?:[.,]\d+)?\b")
DEGREE_RE = re.compile(
    r"\b(?:b\.?sc|m\.?sc|b\.?a|m\.?a|b\.?eng|m\.?eng|ph\.?d|mba|bachelor|master|doctor|"
    r"degree|diploma|university|college|school|institute)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ScoreReason:
    criterion: str
    points: int
    max_points: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["maxPoints"] = shown.pop("max_points")
        return shown


@dataclass(frozen=True)
class ResumeAnalysis:
    sections: dict[str, list[str]]
    contact: ContactFields
    skills: list[str]
    skills_source: str
    word_count: int
    score: int
    reasons: list[ScoreReason]
    preview: str

    @property
    def sections_found(self) -> list[str]:
        found = [s for s in (*REQUIRED_SECTIONS, *OPTIONAL_SECTIONS) if self.has(s)]
        extra = sorted(s for s in self.sections if s not in found and s != "header")
        return found + extra

    @property
    def sections_missing(self) -> list[str]:
        return [s for s in REQUIRED_SECTIONS if not self.has(s)]

    def has(self, section: str) -> bool:
        if section == "contact":
            return "contact" in self.sections or self.contact.email or self.contact.phone
        return section in self.sections

    def as_json(self) -> dict[str, Any]:
        return {
            "wordCount": self.word_count,
            "sections": {"found": self.sections_found, "missing": self.sections_missing},
            "contact": {"fieldsFound": self.contact.found},
            "skills": self.skills,
            "skillsSource": self.skills_source,
            "score": self.score,
            "maxScore": 100,
            "reasons": [r.as_json() for r in self.reasons],
            "preview": self.preview,
        }


def _quantified_lines(lines: Sequence[str]) -> int:
    count = 0
    for line in lines:
        numbers = [n for n in NUMBER_RE.findall(line) if not YEAR_RE.fullmatch(n.strip())]
        if numbers:
            count += 1
    return count


def score_resume(
    sections: dict[str, list[str]],
    contact: ContactFields,
    skills: list[str],
    skills_from_heading: bool,
    word_count: int,
) -> list[ScoreReason]:
    reasons: list[ScoreReason] = []

    points = (8 if contact.email else 0) + (4 if contact.phone else 0) + (3 if contact.links else 0)
    found = ", ".join(contact.found) or "none"
    reasons.append(ScoreReason("contact_details", points, 15, f"contact fields found: {found}"))

    experience = sections.get("experience")
    if experience is None:
        reasons.append(ScoreReason("experience", 0, 20, "no experience section found"))
    else:
        dates = sum(len(YEAR_RE.findall(line)) for line in experience)
        dated = 8 if dates >= 2 else 4 if dates == 1 else 0
        reasons.append(
            ScoreReason(
                "experience",
                12 + dated,
                20,
                f"experience section with {len(experience)} lines and {dates} dates",
            )
        )

    education = sections.get("education")
    if education is None:
        reasons.append(ScoreReason("education", 0, 15, "no education section found"))
    else:
        degree = any(DEGREE_RE.search(line) for line in education)
        reasons.append(
            ScoreReason(
                "education",
                10 + (5 if degree else 0),
                15,
                "education section"
                + (" naming a degree or institution" if degree else " without a degree named"),
            )
        )

    if skills_from_heading:
        points = 8 + min(12, round(len(skills) * 1.5))
        why = f"skills section listing {len(skills)} skills"
    else:
        points = min(6, len(skills))
        why = f"no skills section; {len(skills)} known skills mentioned in the text"
    reasons.append(ScoreReason("skills", points, 20, why))

    quantified = _quantified_lines(experience or [])
    points = 10 if quantified >= 3 else 5 if quantified else 0
    reasons.append(
        ScoreReason(
            "quantified_achievements",
            points,
            10,
            f"{quantified} experience lines with measurable results (numbers, percentages)",
        )
    )

    if 250 <= word_count <= 1200:
        points, why = 15, "within the 250-1200 words recruiters read"
    elif 120 <= word_count < 250 or 1200 < word_count <= 2000:
        points, why = 8, "a little short or long (250-1200 words reads best)"
    elif 50 <= word_count < 120:
        points, why = 3, "very short"
    else:
        points, why = 0, "too short or too long to read as a resume"
    reasons.append(ScoreReason("length", points, 15, f"{word_count} words: {why}"))

    extras = [s for s in OPTIONAL_SECTIONS if s in sections]
    weights = {"summary": 2, "projects": 2, "certifications": 1}
    points = sum(weights[s] for s in extras)
    reasons.append(
        ScoreReason(
            "optional_sections",
            points,
            5,
            "optional sections present: " + (", ".join(extras) if extras else "none"),
        )
    )
    return reasons


def analyse_resume(text: str) -> ResumeAnalysis:
    sections = split_sections(text.splitlines())
    contact = find_contact(text)
    if "skills" in sections:
        skills, source = skills_from_section(sections["skills"]), "section"
    else:
        skills, source = known_skills_in(text), "keywords"
    word_count = len(words_of(text))
    reasons = score_resume(sections, contact, skills, source == "section", word_count)
    return ResumeAnalysis(
        sections=sections,
        contact=contact,
        skills=skills,
        skills_source=source,
        word_count=word_count,
        score=sum(r.points for r in reasons),
        reasons=reasons,
        preview=preview_of(text),
    )
