"""A DOCX's text, read as a stream: `word/document.xml` is parsed chunk by chunk with expat,
holding only the open elements and the text kept, never a tree of the document.

Budgets (a file past one is refused `document_too_complex`; nothing else is read):
- at most `MAX_XML_ELEMENTS` elements and nesting at most `MAX_XML_DEPTH` deep;
- no DTD and no entity declarations (Word writes neither; they are how XML bombs expand);
- text: once `max_chars` characters are kept the rest is not read (the result is truncated).

What is kept: one line per paragraph (`w:p`), in document order, body and table paragraphs
alike; a run's text (`w:t`), tabs and line breaks. A table cell that continues a vertical
merge is skipped (its text is the first cell's), a horizontal merge is one cell in the XML
already, so a merged cell's text appears once. Deleted text (`w:delText`), field codes and
the fallback copy of alternate content (`mc:Fallback`, which repeats its `mc:Choice`) are not
text of the document.
"""

import zipfile
import zlib
from typing import IO
from xml.parsers import expat

from function_app.domain.errors import PermanentJobError

MAX_XML_ELEMENTS = 1_000_000
MAX_XML_DEPTH = 100
READ_CHUNK_BYTES = 64 * 1024

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_SEP = "}"
_P, _R, _T, _TC = (f"{W}{_SEP}{n}" for n in ("p", "r", "t", "tc"))
_VMERGE, _VAL = f"{W}{_SEP}vMerge", f"{W}{_SEP}val"
_FALLBACK = f"{MC}{_SEP}Fallback"
# Run content that stands for a character (inside `w:r` only: `w:tab` is also a tab stop).
_RUN_CHARS = {
    f"{W}{_SEP}tab": "\t",
    f"{W}{_SEP}ptab": "\t",
    f"{W}{_SEP}br": "\n",
    f"{W}{_SEP}cr": "\n",
    f"{W}{_SEP}noBreakHyphen": "-",
}


def too_complex(reason: str) -> PermanentJobError:
    return PermanentJobError("document_too_complex", f"the DOCX is too complex to read: {reason}")


class _Enough(Exception):
    """Enough text is kept: stop reading."""


class _Reader:
    def __init__(self, max_chars: int, max_elements: int, max_depth: int) -> None:
        self.lines: list[str] = []
        self.kept = 0
        self.truncated = False
        self._max_chars = max_chars
        self._max_elements = max_elements
        self._max_depth = max_depth
        self._elements = 0
        self._stack: list[str] = []
        self._paragraphs: list[list[str]] = []  # open paragraphs (a text box nests one)
        self._in_text = 0  # open w:t elements
        self._skip_depth: int | None = None  # inside mc:Fallback or a vMerge continuation
        self._cells: list[int] = []  # stack depths of the open w:tc

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self._elements += 1
        if self._elements > self._max_elements:
            raise too_complex(f"more than {self._max_elements:,} XML elements")
        parent = self._stack[-1] if self._stack else None
        self._stack.append(name)
        depth = len(self._stack)
        if depth > self._max_depth:
            raise too_complex(f"XML nested more than {self._max_depth} levels deep")
        if self._skip_depth is not None:
            return
        if name == _FALLBACK:
            self._skip_depth = depth
        elif name == _TC:
            self._cells.append(depth)
        elif name == _VMERGE and attrs.get(_VAL, "continue") != "restart" and self._cells:
            self._skip_depth = self._cells[-1]  # the rest of this cell repeats the first
        elif name == _P:
            self._paragraphs.append([])
        elif name == _T and parent == _R:
            self._in_text += 1
        elif parent == _R and name in _RUN_CHARS:
            self._text(_RUN_CHARS[name])

    def end(self, name: str) -> None:
        depth = len(self._stack)
        self._stack.pop()
        if self._skip_depth is not None:
            if depth == self._skip_depth:
                self._skip_depth = None
                if name == _TC:
                    self._cells.pop()
            return
        if name == _TC:
            self._cells.pop()
        elif name == _T and self._in_text:
            self._in_text -= 1
        elif name == _P and self._paragraphs:
            self.lines.append("".join(self._paragraphs.pop()))

    def characters(self, data: str) -> None:
        if self._in_text and self._skip_depth is None:
            self._text(data)

    def _text(self, data: str) -> None:
        if not self._paragraphs:
            return
        room = self._max_chars - self.kept
        if len(data) > room:
            data, self.truncated = data[:room], True
        self._paragraphs[-1].append(data)
        self.kept += len(data)
        if self.truncated:
            self.lines.extend("".join(p) for p in self._paragraphs)
            raise _Enough


def _refuse_dtd(*_: object) -> None:
    raise too_complex("its XML declares a DTD or entities")


def read_document_xml(
    stream: IO[bytes],
    *,
    max_chars: int,
    max_elements: int = MAX_XML_ELEMENTS,
    max_depth: int = MAX_XML_DEPTH,
) -> tuple[list[str], bool]:
    """The paragraphs' text of a WordprocessingML part read from `stream`, and whether the
    text was cut at `max_chars`. Raises `document_too_complex` past a budget and
    `corrupt_file` for XML that does not parse."""
    reader = _Reader(max_chars, max_elements, max_depth)
    parser = expat.ParserCreate(namespace_separator=_SEP)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.characters
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.buffer_text = True
    try:
        while chunk := stream.read(READ_CHUNK_BYTES):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except _Enough:
        pass
    except expat.ExpatError as exc:
        raise PermanentJobError(
            "corrupt_file", f"the DOCX could not be read: {expat.ErrorString(exc.code)}"
        ) from None
    return reader.lines, reader.truncated


def docx_paragraphs(
    archive: zipfile.ZipFile, part: str, *, max_chars: int
) -> tuple[list[str], bool]:
    """`read_document_xml` over the archive member `part`, decompressed as it is read."""
    try:
        with archive.open(part) as stream:
            return read_document_xml(stream, max_chars=max_chars)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError):
        # RuntimeError: an encrypted member; NotImplementedError (a RuntimeError): a method
        # zipfile cannot decompress.
        raise PermanentJobError(
            "corrupt_file", "the DOCX could not be read: its archive is damaged or encrypted"
        ) from None
