"""Damaged files end in a result or a PermanentJobError, never in another exception.

Any other exception would make Service Bus redeliver a job that can never succeed. The
mutations are seeded, so a failure reproduces.
"""

import random
import re

import pytest

from function_app.domain.errors import PermanentJobError
from function_app.jobtypes.registry import build_registry
from tests.samples.documents import RESUME_LINES, make_docx, make_pdf, paginate
from tests.samples.job_context import FakeJobContext

VARIANTS = 40
PERMANENT_CODES = {
    "corrupt_file",
    "encrypted_document",
    "empty_document",
    "unsupported_file_type",
    "document_too_complex",
}


def mutations(original: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    variants = []
    for n in range(VARIANTS):
        data = bytearray(original)
        if n % 3 == 0:
            data = data[: rng.randrange(8, len(data))]
        else:
            for _ in range(rng.randrange(1, 20)):
                data[rng.randrange(8, len(data))] = rng.randrange(256)
        variants.append(bytes(data))
    return variants


SOURCES = {
    "pdf": make_pdf(paginate(list(RESUME_LINES), per_page=10)),
    "docx": make_docx(list(RESUME_LINES)),
}


@pytest.mark.parametrize("job_name", ["analyze-resume", "analyze-document"])
@pytest.mark.parametrize("source", sorted(SOURCES))
async def test_mutated_files_succeed_or_fail_permanently(job_name: str, source: str) -> None:
    succeeded = 0
    codes: list[str] = []
    messages: set[str] = set()
    for data in mutations(SOURCES[source], seed=len(source) * 7919):
        try:
            await build_registry()[job_name].run(FakeJobContext(data, file_name=f"cv.{source}"))
        except PermanentJobError as exc:
            codes.append(exc.code)
            messages.add(exc.message)
        else:
            succeeded += 1
    assert succeeded + len(codes) == VARIANTS
    assert set(codes) <= PERMANENT_CODES
    # What the user reads names no library class or module (PdfStreamError, BadZipFile, ...).
    named = {m for m in messages if INTERNAL_NAME.search(m)}
    assert named == set(), named


# A CamelCase word ending in Error/Exception, or a dotted module path.
INTERNAL_NAME = re.compile(
    r"\b[A-Z][a-z]+(?:[A-Z][a-z]*)+(?:Error|Exception)\b|\b[a-z_]+\.[a-z_]+\."
)
