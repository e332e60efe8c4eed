"""Reading a resume's plain text: sections by heading, contact details, skills, and a short
redacted preview. Pure; `resume_scoring` scores what this finds.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
