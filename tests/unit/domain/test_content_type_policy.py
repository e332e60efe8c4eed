"""ContentTypePolicy: one allow-list for presign (declared types) and enqueue (stored types)."""

import pytest

from function_app.domain.errors import UnsupportedType
from function_app.domain.uploads import ContentTypePolicy

POLICY = ContentTypePolicy(frozenset({"text/plain", "application/pdf"}))


def test_a_declared_type_is_normalised_before_the_check() -> None:
    assert POLICY.for_new_upload("notes.bin", "Text/Plain; charset=utf-8") == "text/plain"


def test_without_a_declared_type_the_extension_decides() -> None:
    assert POLICY.for_new_upload("cv.pdf", None) == "application/pdf"
    assert POLICY.for_new_upload("cv.pdf", "   ") == "application/pdf"


def test_an_extension_that_implies_nothing_is_refused_with_the_allow_list() -> None:
    with pytest.raises(UnsupportedType) as refused:
        POLICY.for_new_upload("archive.unknownext", None)
    assert refused.value.details == [{"allowed": ["application/pdf", "text/plain"]}]


@pytest.mark.parametrize(("file_name", "declared"), [("a.txt", "image/png"), ("a.docx", None)])
def test_a_type_outside_the_list_is_refused(file_name: str, declared: str | None) -> None:
    with pytest.raises(UnsupportedType):
        POLICY.for_new_upload(file_name, declared)


def test_a_stored_type_wins_over_the_blob_name() -> None:
    assert POLICY.for_stored_upload("u/x/y/a.pdf", "TEXT/PLAIN") == "text/plain"
    with pytest.raises(UnsupportedType):
        POLICY.for_stored_upload("u/x/y/a.txt", "image/png")


def test_a_blob_stored_without_a_type_is_judged_by_its_name() -> None:
    assert POLICY.for_stored_upload("u/x/y/a.txt", None) == "text/plain"
    with pytest.raises(UnsupportedType):
        POLICY.for_stored_upload("u/x/y/a.exe", None)
