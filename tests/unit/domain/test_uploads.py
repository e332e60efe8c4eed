"""Upload naming and ownership rules."""

import pytest

from function_app.domain.errors import InvalidRequest, UnsupportedType
from function_app.domain.uploads import (
    ContentTypePolicy,
    check_file_name,
    content_type_for,
    is_owned_upload,
    normalize_content_type,
    owner_prefix,
    upload_blob_name,
)

UPLOAD_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 256,
        "dir/cv.pdf",
        "..\\cv.pdf",
        "cv..pdf",
        "..",
        "cv\x00.pdf",
        "cv\n.pdf",
        "cv\u202e.pdf",
        " cv.pdf",
        "cv.pdf ",
        "cv.",
    ],
)
def test_bad_file_names_are_refused_with_a_reason(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_file_name(name)
    assert info.value.code == "invalid_file_name"
    assert info.value.details[0]["field"] == "fileName"


@pytest.mark.parametrize("name", ["cv.pdf", "a" * 255, "Lebenslauf Müller (2).docx", "x"])
def test_plain_file_names_pass_unchanged(name: str) -> None:
    assert check_file_name(name) == name


def test_blob_names_sit_under_the_owners_hashed_prefix() -> None:
    name = upload_blob_name("alice@example.com", UPLOAD_ID, "cv.pdf")
    assert name == f"{owner_prefix('alice@example.com')}{UPLOAD_ID}/cv.pdf"
    assert name.startswith("u/")
    assert "alice" not in name
    assert len(owner_prefix("alice@example.com")) == len("u/") + 32 + 1


def test_an_upload_belongs_only_to_its_owner() -> None:
    name = upload_blob_name("alice", UPLOAD_ID, "cv.pdf")
    assert is_owned_upload("alice", name)
    assert not is_owned_upload("bob", name)


@pytest.mark.parametrize(
    "suffix",
    ["", "cv.pdf", "nothex/cv.pdf", f"{UPLOAD_ID}/", f"{UPLOAD_ID}/a/b.pdf", f"{UPLOAD_ID}/.."],
)
def test_names_of_other_shapes_under_the_prefix_are_not_uploads(suffix: str) -> None:
    assert not is_owned_upload("alice", owner_prefix("alice") + suffix)


def test_upload_id_must_be_a_uuid_hex() -> None:
    with pytest.raises(ValueError, match="upload_id"):
        upload_blob_name("alice", "../x", "cv.pdf")


def test_content_types_from_extension_and_normalized() -> None:
    assert content_type_for("CV.PDF") == "application/pdf"
    assert content_type_for("notes.md") == "text/markdown"
    assert content_type_for("run.exe") is None
    assert normalize_content_type("Text/Plain; charset=utf-8") == "text/plain"


# --- ContentTypePolicy: one allow-list for presign (declared) and enqueue (stored) ----------

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
