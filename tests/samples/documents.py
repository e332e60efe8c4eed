"""Build real sample documents in memory: PDFs with pypdf, DOCX with python-docx.

Every generator returns the file's bytes. The PDFs are real, multi-page, text-bearing
documents (Helvetica, one text line per `Tj`), so text extraction sees what a reader would.
"""

import io
from collections.abc import Sequence

import docx
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
)

PAGE_WIDTH = 612
PAGE_HEIGHT = 792
LINE_HEIGHT = 14
LINES_PER_PAGE = 48


def _escape_pdf_text(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _page_content(lines: Sequence[str]) -> bytes:
    ops = ["BT", "/F1 11 Tf", f"{LINE_HEIGHT} TL", f"50 {PAGE_HEIGHT - 60} Td"]
    for line in lines:
        # Latin-1 covers what the samples use; WinAnsi is Helvetica's encoding here.
        ops.append(f"({_escape_pdf_text(line)}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def make_pdf(pages: Sequence[Sequence[str]], *, user_password: str | None = None) -> bytes:
    """A PDF with one page per entry of `pages`, each a list of text lines."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    font_ref = writer._add_object(font)
    for lines in pages:
        page = writer.add_blank_page(width=PAGE_WIDTH, height=PAGE_HEIGHT)
        stream = DecodedStreamObject()
        stream.set_data(_page_content(lines))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {
                NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref}),
                NameObject("/ProcSet"): ArrayObject([NameObject("/PDF"), NameObject("/Text")]),
            }
        )
    if user_password is not None:
        writer.encrypt(user_password, owner_password="owner-" + user_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def paginate(lines: Sequence[str], per_page: int = LINES_PER_PAGE) -> list[list[str]]:
    """Split lines into pages of `per_page` lines."""
    return [list(lines[i : i + per_page]) for i in range(0, len(lines), per_page)] or [[]]


def make_docx(paragraphs: Sequence[str], *, headings: Sequence[str] = ()) -> bytes:
    """A DOCX whose paragraphs in `headings` use the Heading 1 style, the rest Normal."""
    document = docx.Document()
    heading_set = set(headings)
    for text in paragraphs:
        if text in heading_set:
            document.add_heading(text, level=1)
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_docx_with_table(rows: Sequence[Sequence[str]], paragraphs: Sequence[str] = ()) -> bytes:
    """A DOCX with some paragraphs followed by a table (resumes often lay out in tables)."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            table.cell(r, c).text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --- a realistic resume, as lines ----------------------------------------------------------------

RESUME_LINES: tuple[str, ...] = (
    "Jane Example",
    "jane.example@example.com | +44 20 7946 0958 | linkedin.com/in/jane-example",
    "github.com/jane-example",
    "",
    "SUMMARY",
    "Backend engineer with 8 years of experience building data pipelines and APIs.",
    "",
    "EXPERIENCE",
    "Senior Software Engineer, Contoso Ltd  2019 - Present",
    "- Led the migration of 40 services to Azure Functions, cutting costs by 35%.",
    "- Built an event pipeline processing 2 million messages per day.",
    "Software Engineer, Fabrikam Inc  2015 - 2019",
    "- Designed a reporting API used by 120 internal teams.",
    "- Reduced p95 latency from 900 ms to 120 ms.",
    "",
    "EDUCATION",
    "MSc Computer Science, University of Example, 2015",
    "BSc Mathematics, Example College, 2013",
    "",
    "SKILLS",
    "Python, TypeScript, Azure, Docker, Kubernetes, PostgreSQL",
    "Terraform; Bicep; CI/CD | REST APIs",
    "",
    "PROJECTS",
    "jobstream - serverless job runner with live progress over SSE",
    "",
    "CERTIFICATIONS",
    "Microsoft Certified: Azure Developer Associate (2021)",
)

FILLER_LINES: tuple[str, ...] = tuple(
    f"- Delivered feature {i} with the team, improving reliability and developer experience."
    for i in range(1, 41)
)


def resume_text() -> str:
    return "\n".join(RESUME_LINES) + "\n"


def long_resume_lines() -> list[str]:
    """The resume with more experience bullets: spans several PDF pages."""
    lines = list(RESUME_LINES)
    at = lines.index("EDUCATION")
    return [*lines[:at], *FILLER_LINES, "", *lines[at:]]


def make_png(width: int = 2, height: int = 2) -> bytes:
    """A tiny valid PNG (grey pixels)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def zip_archive(members: dict[str, bytes]) -> bytes:
    """A ZIP archive holding `members` (name -> bytes)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


def corrupt_pdf() -> bytes:
    """Starts like a PDF, then garbage: no cross-reference table, no objects a reader can use."""
    return make_pdf([["Hello"]])[:60] + b"\x00garbage" * 20


def encrypted_pdf(password: str = "hunter2") -> bytes:
    """A one-page resume PDF that needs `password` to open (AES-128)."""
    return make_pdf([list(RESUME_LINES[:5])], user_password=password)
