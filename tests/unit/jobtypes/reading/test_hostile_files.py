"""Hostile files end `document_too_complex` quickly, within the parsers' budgets, and the
bounded DOCX reader keeps what python-docx read: paragraphs and table text, merged cells once.

The bombs are built in memory (tests/unit/jobtypes/reading/hostile_files.py). Before the
budgets, the paragraph bomb took 90 s of CPU and 2 GB in python-docx and the PDF's pages
11 s each.
"""

import io
import zipfile

import pytest

from function_app.domain.errors import PermanentJobError
from function_app.jobtypes.reading.docx_reader import MAX_XML_DEPTH, read_document_xml
from function_app.jobtypes.reading.extraction import (
    MAX_PDF_CONTENT_BYTES,
    MAX_PDF_PAGE_CONTENT_BYTES,
    MAX_TEXT_CHARS,
    docx_text,
    pdf_text,
)
from function_app.jobtypes.reading.file_types import MAX_ZIP_ENTRIES, FileKind, detect_file_type
from function_app.jobtypes.registry import build_registry
from tests.samples.documents import make_docx_with_table
from tests.samples.job_context import FakeJobContext
from tests.unit.jobtypes.reading import hostile_files as hostile


def refused(call: object, *args: object) -> PermanentJobError:
    with pytest.raises(PermanentJobError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def test_the_paragraph_bomb_is_refused_at_the_element_budget() -> None:
    bomb = hostile.paragraph_bomb_docx()
    assert len(bomb) < 400_000
    error = refused(docx_text, bomb)
    assert error.code == "document_too_complex"
    assert "XML elements" in error.message


def test_deeply_nested_xml_is_refused() -> None:
    error = refused(docx_text, hostile.deep_docx())
    assert (error.code, f"more than {MAX_XML_DEPTH} levels" in error.message) == (
        "document_too_complex",
        True,
    )


def test_a_docx_declaring_entities_is_refused_unexpanded() -> None:
    error = refused(docx_text, hostile.entity_docx())
    assert error.code == "document_too_complex"
    assert "DTD" in error.message


def test_a_zip_with_very_many_entries_is_refused_before_it_is_read() -> None:
    bomb = hostile.many_entries_docx(MAX_ZIP_ENTRIES + 1)
    assert refused(detect_file_type, bomb).code == "document_too_complex"
    assert refused(docx_text, bomb).code == "document_too_complex"


def test_a_zip_that_understates_its_entries_is_refused_once_listed() -> None:
    bomb = bytearray(hostile.many_entries_docx(MAX_ZIP_ENTRIES + 1))
    end = bomb.rfind(b"PK\x05\x06")
    bomb[end + 8 : end + 12] = (5).to_bytes(2, "little") * 2  # the declared entry counts
    assert refused(detect_file_type, bytes(bomb)).code == "document_too_complex"
    assert refused(docx_text, bytes(bomb)).code == "document_too_complex"


def test_a_zip_with_a_few_entries_is_still_a_zip() -> None:
    archive = hostile.many_entries_docx(10)
    assert detect_file_type(archive) is FileKind.DOCX


def test_the_shared_content_stream_pdf_is_refused() -> None:
    bomb = hostile.shared_stream_pdf()
    assert len(bomb) < 400_000
    assert refused(pdf_text, bomb).code == "document_too_complex"


def test_a_pdf_page_over_its_content_budget_is_refused() -> None:
    bomb = hostile.shared_stream_pdf(pages=1, content_bytes=MAX_PDF_PAGE_CONTENT_BYTES + 4096)
    error = refused(pdf_text, bomb)
    assert error.code == "document_too_complex"
    assert "page 1's content" in error.message


def test_pdf_pages_over_the_total_content_budget_are_refused() -> None:
    per_page = MAX_PDF_PAGE_CONTENT_BYTES // 2
    pages = MAX_PDF_CONTENT_BYTES // per_page + 2
    error = refused(pdf_text, hostile.shared_stream_pdf(pages=pages, content_bytes=per_page))
    assert error.code == "document_too_complex"
    assert "pages' content" in error.message


def test_a_pdf_page_under_the_budgets_is_read() -> None:
    extracted = pdf_text(hostile.shared_stream_pdf(pages=2, content_bytes=10_000))
    assert extracted.text.split() == ["bomb", "bomb"]


@pytest.mark.parametrize("job_name", ["analyze-resume", "analyze-document"])
async def test_each_job_type_fails_a_bomb_as_too_complex(job_name: str) -> None:
    ctx = FakeJobContext(hostile.paragraph_bomb_docx(), file_name="cv.docx")
    with pytest.raises(PermanentJobError) as caught:
        await build_registry()[job_name].run(ctx)
    assert caught.value.code == "document_too_complex"


# --- what the streaming reader keeps ----------------------------------------------------------

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'


def lines_of(body: str, max_chars: int = MAX_TEXT_CHARS) -> tuple[list[str], bool]:
    xml = f"<w:document {W} {MC}><w:body>{body}</w:body></w:document>"
    return read_document_xml(io.BytesIO(xml.encode()), max_chars=max_chars)


def p(*runs: str) -> str:
    return "<w:p>" + "".join(f"<w:r>{run}</w:r>" for run in runs) + "</w:p>"


def cell(text: str, props: str = "") -> str:
    return f"<w:tc><w:tcPr>{props}</w:tcPr>{p(f'<w:t>{text}</w:t>')}</w:tc>"


def test_paragraphs_and_tables_come_in_document_order() -> None:
    table = f"<w:tbl><w:tr>{cell('A1')}{cell('B1')}</w:tr></w:tbl>"
    body = p("<w:t>before</w:t>") + table + p("<w:t>after</w:t>")
    assert lines_of(body) == (["before", "A1", "B1", "after"], False)


def test_a_merged_cell_is_read_once() -> None:
    wide = cell("wide", '<w:gridSpan w:val="2"/>')
    top = cell("tall", '<w:vMerge w:val="restart"/>')
    below = cell("tall", "<w:vMerge/>")  # Word repeats nothing here; python-docx repeated it
    rows = f"<w:tr>{wide}</w:tr><w:tr>{top}{cell('x')}</w:tr><w:tr>{below}{cell('y')}</w:tr>"
    assert lines_of(f"<w:tbl>{rows}</w:tbl>")[0] == ["wide", "tall", "x", "y"]


def test_runs_tabs_and_breaks_make_the_paragraph_text() -> None:
    runs = ("<w:t>a</w:t><w:tab/><w:t>b</w:t>", "<w:br/><w:t xml:space='preserve'> c</w:t>")
    tab_stop = "<w:pPr><w:tabs><w:tab w:val='left' w:pos='720'/></w:tabs></w:pPr>"
    assert lines_of(f"<w:p>{tab_stop}<w:r>{runs[0]}</w:r><w:r>{runs[1]}</w:r></w:p>")[0] == [
        "a\tb\n c"
    ]


def test_deleted_text_and_alternate_content_fallbacks_are_not_text() -> None:
    choice = f"<mc:Choice Requires='wps'>{p('<w:t>box</w:t>')}</mc:Choice>"
    fallback = f"<mc:Fallback>{p('<w:t>box</w:t>')}</mc:Fallback>"
    body = p("<w:delText>gone</w:delText><w:t>kept</w:t>") + (
        f"<mc:AlternateContent>{choice}{fallback}</mc:AlternateContent>"
    )
    assert lines_of(body)[0] == ["kept", "box"]


def test_text_past_the_budget_is_not_read() -> None:
    body = p("<w:t>abcdef</w:t>") + p("<w:t>never read</w:t>")
    assert lines_of(body, max_chars=4) == (["abcd"], True)


def test_broken_xml_is_a_corrupt_file() -> None:
    with pytest.raises(PermanentJobError) as caught:
        lines_of("<w:p><w:r>")
    assert caught.value.code == "corrupt_file"


def test_a_python_docx_table_reads_as_before() -> None:
    rows = [["Skills", "Python, Go, SQL"], ["Education", "BSc Physics"]]
    docx = make_docx_with_table(rows, paragraphs=["Sam Table", "sam@example.com"])
    assert docx_text(docx).text.split("\n") == [
        "Sam Table",
        "sam@example.com",
        "Skills",
        "Python, Go, SQL",
        "Education",
        "BSc Physics",
    ]


def test_an_encrypted_zip_member_is_a_corrupt_file() -> None:
    archive = bytearray(hostile.docx_package(b"<w:document/>"))
    # Set the "encrypted" flag on every header: zipfile then refuses to read the member.
    for magic, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = archive.find(magic)
        while at >= 0:
            archive[at + offset] |= 1
            at = archive.find(magic, at + 4)
    with zipfile.ZipFile(io.BytesIO(bytes(archive))) as z:
        assert z.infolist()[0].flag_bits & 1
    assert refused(docx_text, bytes(archive)).code == "corrupt_file"
