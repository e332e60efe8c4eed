"""Upload naming and ownership: which blob names a caller may create and later use.

Every upload lands at `u/<owner key>/<upload id>/<file name>`, where the owner key is the
first 32 hex digits of SHA-256 of the owner id: the owner's prefix carries no personal data
and cannot be chosen by anyone else. A job may only use a blob under its owner's prefix.

An upload id is 32 hex digits: the first 12 of SHA-256 of the file name, then 80 random bits.
So the caller's uploads of one file name share a prefix (`uploads_named`), and an enqueue that
names its upload only by `fileName` finds it with one short listing.
"""

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from function_app.domain.errors import InvalidRequest, UnsupportedType

MAX_FILE_NAME_CHARS = 255
UPLOAD_ROOT = "u"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
NAME_DIGEST_CHARS = 12
# What a PUT without a Content-Type header stores: it says nothing about the bytes.
UNDECLARED_CONTENT_TYPES = frozenset({"application/octet-stream"})

# The blob types an upload URL can create. Only a block blob is an upload: the others are
# refused at enqueue and deleted (docs/storage.md, "What else the URL allows, and how
# enqueue checks an upload").
BLOCK_BLOB = "BlockBlob"
APPEND_BLOB = "AppendBlob"
PAGE_BLOB = "PageBlob"

# The metadata entry (the PUT's `x-ms-meta-sha256` header) holding the SHA-256 a client
# declared at presign; `data.sha256` declares it at enqueue.
SHA256_METADATA = "sha256"
SHA256_HEADER = f"x-ms-meta-{SHA256_METADATA}"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

# What a file's extension says it is, for requests that give no content type.
CONTENT_TYPES_BY_EXTENSION = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
}


def owner_prefix(owner: str) -> str:
    """The blob-name prefix that holds `owner`'s uploads (ends with '/')."""
    key = hashlib.sha256(owner.encode("utf-8")).hexdigest()[:32]
    return f"{UPLOAD_ROOT}/{key}/"


def name_digest(file_name: str) -> str:
    return hashlib.sha256(file_name.encode("utf-8")).hexdigest()[:NAME_DIGEST_CHARS]


def new_upload_id(file_name: str) -> str:
    """The id of a new upload of `file_name`: its name digest, then 80 random bits."""
    return name_digest(file_name) + secrets.token_hex((32 - NAME_DIGEST_CHARS) // 2)


def uploads_named(owner: str, file_name: str) -> str:
    """The blob-name prefix shared by `owner`'s uploads of `file_name` (and, rarely, of a
    name with the same digest: compare `upload_file_name` too)."""
    return owner_prefix(owner) + name_digest(file_name)


def upload_file_name(blob_name: str) -> str:
    """The file name an upload's blob name ends with."""
    return blob_name.rsplit("/", 1)[-1]


def upload_blob_name(owner: str, upload_id: str, file_name: str) -> str:
    """The blob name for a new upload; `upload_id` is 32 lowercase hex digits (uuid4().hex)."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise ValueError("upload_id must be 32 lowercase hex digits")
    return f"{owner_prefix(owner)}{upload_id}/{check_file_name(file_name)}"


def is_owned_upload(owner: str, blob_name: str) -> bool:
    """True when `blob_name` has the shape of an upload of `owner`'s (not that it exists)."""
    prefix = owner_prefix(owner)
    if not blob_name.startswith(prefix):
        return False
    upload_id, sep, file_name = blob_name[len(prefix) :].partition("/")
    if not sep or not _UPLOAD_ID.fullmatch(upload_id):
        return False
    try:
        check_file_name(file_name)
    except InvalidRequest:
        return False
    return True


def check_file_name(file_name: str) -> str:
    """The name unchanged when it is a plain file name; InvalidRequest saying why otherwise.

    Refused: empty, over 255 characters, path separators, `..`, control or format characters,
    leading or trailing spaces, a trailing dot.
    """
    problem = _file_name_problem(file_name)
    if problem is not None:
        raise InvalidRequest(
            f"fileName {problem}",
            code="invalid_file_name",
            details=[{"field": "fileName", "problem": problem}],
        )
    return file_name


def _file_name_problem(name: str) -> str | None:
    if not name:
        return "must not be empty"
    if len(name) > MAX_FILE_NAME_CHARS:
        return f"must be at most {MAX_FILE_NAME_CHARS} characters"
    if "/" in name or "\\" in name:
        return "must not contain path separators"
    if ".." in name:
        return "must not contain '..'"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "must not contain control characters"
    if name != name.strip():
        return "must not start or end with spaces"
    if name.endswith("."):
        return "must not end with a dot"
    return None


def content_type_for(file_name: str) -> str | None:
    """The content type the file name's extension implies, or None."""
    return CONTENT_TYPES_BY_EXTENSION.get(PurePosixPath(file_name).suffix.lower())


def normalize_content_type(value: str) -> str:
    """`Text/Plain; charset=utf-8` -> `text/plain` (the allow-list compares bare types)."""
    return value.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class ContentTypePolicy:
    """Which content types an upload may have (ALLOWED_CONTENT_TYPES), in one place for the
    presign (what the client declares) and the enqueue (what the blob holds)."""

    allowed: frozenset[str]

    def for_new_upload(self, file_name: str, declared: str | None) -> str:
        """The type a presigned upload will carry: as declared, else as its extension says."""
        if declared is not None and declared.strip():
            return self._allowed(normalize_content_type(declared))
        implied = content_type_for(file_name)
        if implied is None:
            raise UnsupportedType(
                "contentType is missing and the file extension does not imply an allowed type",
                details=[{"allowed": sorted(self.allowed)}],
            )
        return self._allowed(implied)

    def for_stored_upload(self, blob_name: str, stored: str | None) -> str:
        """The type of an uploaded blob: as stored, else (none stored, or the default a PUT
        without Content-Type gets) as its name's extension says. The job type still tells
        the file's type from its bytes."""
        content_type = normalize_content_type(stored) if stored else None
        if content_type is None or (
            content_type in UNDECLARED_CONTENT_TYPES and content_type not in self.allowed
        ):
            content_type = content_type_for(blob_name)
        return self._allowed(content_type)

    def _allowed(self, content_type: str | None) -> str:
        if content_type is None or content_type not in self.allowed:
            raise UnsupportedType(
                f"the content type {str(content_type)[:100]!r} is not allowed",
                details=[{"allowed": sorted(self.allowed)}],
            )
        return content_type


def check_sha256(value: object, field: str) -> str:
    """A declared SHA-256 as 64 lowercase hex digits; InvalidRequest naming `field` otherwise."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise InvalidRequest(
            f"{field} must be the file's SHA-256 as 64 hex digits",
            details=[{"field": field, "problem": "64 hex digits"}],
        )
    return value.lower()


def declared_sha256(metadata: Mapping[str, str] | None) -> str | None:
    """The SHA-256 a blob's metadata declares (lowercase hex), or None when there is none or
    it is not 64 hex digits (the PUT's headers are the client's: nothing to trust there)."""
    value = (metadata or {}).get(SHA256_METADATA)
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        return None
    return value.lower()
