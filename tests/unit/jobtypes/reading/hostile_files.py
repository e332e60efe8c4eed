"""Hostile files built in memory (small to upload, huge or slow to parse), for the bomb tests.

Each is a few hundred kilobytes at most: the DOCX and PDF compress a repetitive expansion.
"""

import functools
import io
import zipfile
import zlib

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    b'relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def docx_package(document_xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal Word package around `document_xml` (deflated), plus `extra` members."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def document_xml(body: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        + f'<w:document xmlns:w="{W_NS}"><w:body>'.encode()
        + body
        + b"</w:body></w:document>"
    )


@functools.cache
def paragraph_bomb_docx(paragraphs: int = 2_900_000) -> bytes:
    """The review's DOCX: `document.xml` of ~100 MB (2.9 M paragraphs of an empty run), under
    the 100 MiB inflated-size check; about 290 KB deflated."""
    return docx_package(document_xml(b"<w:p><w:r><w:t></w:t></w:r></w:p>" * paragraphs))


def deep_docx(depth: int = 200_000) -> bytes:
    """A DOCX whose XML nests `depth` elements inside each other."""
    return docx_package(document_xml(b"<w:p>" * depth + b"</w:p>" * depth))


def many_entries_docx(entries: int = 100_000) -> bytes:
    """A DOCX (with a real document.xml) and `entries` empty members besides."""
    return docx_package(
        document_xml(b"<w:p><w:r><w:t>hello</w:t></w:r></w:p>"),
        {f"x/{n}": b"" for n in range(entries)},
    )


def entity_docx() -> bytes:
    """A DOCX whose XML declares entities (billion laughs, cut short): refused unread."""
    doctype = (
        b'<!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    )
    xml = document_xml(b"<w:p><w:r><w:t>&b;</w:t></w:r></w:p>")
    head, _, rest = xml.partition(b"?>")
    return docx_package(head + b"?>" + doctype + rest)


@functools.cache
def shared_stream_pdf(pages: int = 50, content_bytes: int = 70_000_000) -> bytes:
    """The review's PDF: `pages` pages sharing one content stream of ~`content_bytes` of
    cheap path operators padded with spaces (under pypdf's own parse budget), then one line
    of text, deflated to well under a megabyte."""
    unit = b"0 0 m" + b" " * 120 + b"\n"
    stream = unit * (content_bytes // len(unit)) + b"BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n"
    content = zlib.compress(stream, 9)
    kids = " ".join(f"{4 + n} 0 R" for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream",
    ]
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R"
        b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + pages)
    ] * pages
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
