"""Resume analysis on plain text: sections by heading, contact details, skills, a 0-100 score.

Pure: the job type extracts the text (PDF, DOCX, plain text) and hands it here. The score is a
sum of explicit criteria, each reported with its points, maximum and reason, so a user can
see why a resume scored what it did. Nothing here echoes the resume back beyond a short,
redacted preview.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from function_app.jobtypes.text_stats import words_of

REQUIRED_SECTIONS: tuple[str, ...] = ("contact", "experience", "education", "skills")
OPTIONAL_SECTIONS: tuple[str, ...] = ("summary", "projects", "certifications")

# Heading text (lower-case, "&" read as "and") -> section.
SECTION_HEADINGS: dict[str, tuple[str, ...]] = {
    "contact": ("contact", "contact details", "contact information", "personal details"),
    "summary": (
        "summary",
        "professional summary",
        "profile",
        "professional profile",
        "about",
        "about me",
        "objective",
        "career objective",
        "personal statement",
    ),
    "experience": (
        "experience",
        "work experience",
        "professional experience",
        "relevant experience",
        "employment",
        "employment history",
        "work history",
        "career history",
        "career",
    ),
    "education": (
        "education",
        "academic background",
        "academic qualifications",
        "qualifications",
        "education and training",
        "education and qualifications",
    ),
    "skills": (
        "skills",
        "technical skills",
        "key skills",
        "core skills",
        "core competencies",
        "competencies",
        "skills and competencies",
        "technologies",
        "tech stack",
        "tools and technologies",
        "expertise",
    ),
    "projects": ("projects", "personal projects", "selected projects", "key projects"),
    "certifications": (
        "certifications",
        "certificates",
        "certification",
        "licenses and certifications",
        "licences and certifications",
        "courses",
        "training",
    ),
    "languages": ("languages",),
    "awards": ("awards", "honours", "honors", "achievements", "awards and achievements"),
    "publications": ("publications",),
    "interests": ("interests", "hobbies", "hobbies and interests"),
}
_HEADING_TO_SECTION = {
    heading: section for section, headings in SECTION_HEADINGS.items() for heading in headings
}
MAX_HEADING_WORDS = 5

# Repetitions are bounded (RFC 5321 lengths) so that hostile text cannot make matching
# quadratic: every start position scans at most a few dozen characters.
EMAIL_RE = re.compile(
    r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b"
)
PHONE_RE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,24}\d(?!\w)")
YEAR_RANGE_RE = re.compile(r"^(?:19|20)\d{2}\s*[-–]\s*(?:19|20)\d{2}$")  # noqa: RUF001
LINK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("linkedin", re.compile(r"\blinkedin\.com/\S+", re.IGNORECASE)),
    ("github", re.compile(r"\bgithub\.com/\S+", re.IGNORECASE)),
    ("gitlab", re.compile(r"\bgitlab\.com/\S+", re.IGNORECASE)),
    ("website", re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)),
)
YEAR_RE = re.compile(r"\b(?:19|20)\d{2}\b|\bpresent\b|\bcurrent\b", re.IGNORECASE)
NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?\s*%|\b\d+(?:[.,]\d+)?\b")
DEGREE_RE = re.compile(
    r"\b(?:b\.?sc|m\.?sc|b\.?a|m\.?a|b\.?eng|m\.?eng|ph\.?d|mba|bachelor|master|doctor|"
    r"degree|diploma|university|college|school|institute)\b",
    re.IGNORECASE,
)
SKILL_SPLIT_RE = re.compile(r"\s*(?:[,;|•·]|\s-\s)\s*")
BULLET_RE = re.compile(r"^[\s\-*•·–>]+")  # noqa: RUF001
MAX_SKILLS = 50
MAX_SKILL_CHARS = 40
MAX_SKILL_WORDS = 4
PREVIEW_CHARS = 160

# Recognised when a resume has no skills section (whole-word, case-insensitive).
KNOWN_SKILLS: tuple[str, ...] = (
    "Python", "Java", "JavaScript", "TypeScript", "C#", "C++", "Go", "Rust", "Ruby", "PHP",
    "Kotlin", "Swift", "Scala", "SQL", "PostgreSQL", "MySQL", "MongoDB", "Redis", "Kafka",
    "Spark", "Hadoop", "Azure", "AWS", "GCP", "Docker", "Kubernetes", "Terraform", "Bicep",
    "Ansible", "Linux", "Git", "React", "Angular", "Vue", "Node.js", "Django", "Flask",
    "FastAPI", "Spring", ".NET", "GraphQL", "REST", "CI/CD", "Machine Learning", "Pandas",
    "NumPy", "TensorFlow", "PyTorch", "Excel", "Power BI", "Tableau", "Agile", "Scrum",
    "Project Management", "Leadership", "Communication",
)  # fmt: skip


@dataclass(frozen=True)
class ContactFields:
    email: bool
    phone: bool
    links: tuple[str, ...]

    @property
    def found(self) -> list[str]:
        fields = [name for name, ok in (("email", self.email), ("phone", self.phone)) if ok]
        return fields + list(self.links)


@dataclass(frozen=True)
class ScoreReason:
    criterion: str
    points: int
    max_points: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "points": self.points,
            "maxPoints": self.max_points,
            "reason": self.reason,
        }


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


def heading_of(line: str) -> tuple[str, str] | None:
    """(section, rest of the line) when `line` is a section heading, else None.

    A heading is a short line naming a known section, in any case, optionally followed by
    ":" and inline content ("Skills: Python, Go").
    """
    text = BULLET_RE.sub("", line).strip()
    head, sep, rest = text.partition(":")
    key = " ".join(head.lower().replace("&", " and ").split())
    if not key or len(key.split()) > MAX_HEADING_WORDS:
        return None
    section = _HEADING_TO_SECTION.get(key)
    if section is None:
        return None
    return section, rest.strip() if sep else ""


def split_sections(lines: Iterable[str]) -> dict[str, list[str]]:
    """Lines grouped by the section heading above them; lines before any heading: "header"."""
    sections: dict[str, list[str]] = {}
    current = "header"
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        heading = heading_of(line)
        if heading is not None:
            current, rest = heading
            body = sections.setdefault(current, [])
            if rest:
                body.append(rest)
            continue
        sections.setdefault(current, []).append(line)
    return sections


def _phone_numbers(text: str) -> list[str]:
    found = []
    for match in PHONE_RE.finditer(text):
        candidate = match.group().strip()
        digits = sum(ch.isdigit() for ch in candidate)
        if YEAR_RANGE_RE.match(candidate):
            continue
        if 9 <= digits <= 15 or (candidate.startswith("+") and 7 <= digits <= 15):
            found.append(candidate)
    return found


def find_contact(text: str) -> ContactFields:
    links: list[str] = []
    for kind, pattern in LINK_PATTERNS:
        for match in pattern.finditer(text):
            if kind == "website" and any(k in match.group().lower() for k in links):
                continue
            if kind not in links:
                links.append(kind)
    return ContactFields(
        email=EMAIL_RE.search(text) is not None,
        phone=bool(_phone_numbers(text)),
        links=tuple(links),
    )


def _clean_skill(item: str) -> str:
    return BULLET_RE.sub("", item).strip(" .:")


def skills_from_section(lines: Sequence[str]) -> list[str]:
    """Items of a skills section: split on commas, semicolons, bars and bullets; de-duplicated."""
    skills: list[str] = []
    seen: set[str] = set()
    for line in lines:
        label, sep, rest = line.partition(":")
        body = rest if sep and len(label.split()) <= 3 else line
        for item in SKILL_SPLIT_RE.split(body):
            skill = _clean_skill(item)
            key = skill.lower()
            if (
                not skill
                or len(skill) > MAX_SKILL_CHARS
                or len(skill.split()) > MAX_SKILL_WORDS
                or key in seen
            ):
                continue
            seen.add(key)
            skills.append(skill)
            if len(skills) == MAX_SKILLS:
                return skills
    return skills


def known_skills_in(text: str) -> list[str]:
    found = []
    for skill in KNOWN_SKILLS:
        pattern = r"(?<![\w.#+])" + re.escape(skill) + r"(?![\w#+])"
        if re.search(pattern, text, re.IGNORECASE):
            found.append(skill)
    return found


def redact(text: str) -> str:
    text = EMAIL_RE.sub("[email]", text)
    for number in _phone_numbers(text):
        text = text.replace(number, "[phone]")
    return text


def preview_of(text: str) -> str:
    flat = " ".join(text.split())
    short = redact(flat[: PREVIEW_CHARS * 2])[:PREVIEW_CHARS]
    return short + ("…" if len(flat) > len(short) else "")


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
