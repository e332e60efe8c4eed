"""Entity field codecs of the jobs table: chunked JSON, bounded text, times, key checks, and
`FlatCodec` for a record stored one property per field.

Size limits (Table Storage: 64 KiB per string property, 1 MiB per entity, 4 MiB per
transaction). JSON values are stored ASCII-only and split over properties of `CHUNK_CHARS`
characters (`result`, `result_1`, ...); a JSON value may take up to `MAX_JSON_CHARS`
characters, a bigger one raises `ValueTooLarge`, as does text over `MAX_TEXT_CHARS`.
Pure: no I/O and nothing from `azure.*`.
"""

import dataclasses
import json
import re
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from function_app.ports import ValueTooLarge

CHUNK_CHARS = 30_000  # ASCII characters: 60,000 bytes as UTF-16, under the 64 KiB limit
MAX_JSON_CHARS = 8 * CHUNK_CHARS  # 240,000 characters per JSON value
MAX_TEXT_CHARS = 8_000

# Characters Table Storage refuses in keys: a key holding one cannot exist.
_BAD_KEY_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def put_json(entity: dict[str, Any], name: str, value: Any) -> None:
    """Store `value` as ASCII JSON split over `name`, `name_1`, ... (absent when None)."""
    if value is None:
        return
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)
    if len(text) > MAX_JSON_CHARS:
        raise ValueTooLarge(f"{name} is {len(text)} characters of JSON; limit {MAX_JSON_CHARS}")
    chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
    entity[name] = chunks[0]
    for index, chunk in enumerate(chunks[1:], start=1):
        entity[f"{name}_{index}"] = chunk


def get_json(entity: Mapping[str, Any], name: str) -> Any:
    first = entity.get(name)
    if first is None:
        return None
    parts = [str(first)]
    index = 1
    while (more := entity.get(f"{name}_{index}")) is not None:
        parts.append(str(more))
        index += 1
    return json.loads("".join(parts))


def bounded_text(name: str, value: str | None) -> str | None:
    if value is not None and len(value) > MAX_TEXT_CHARS:
        raise ValueTooLarge(f"{name} is {len(value)} characters; limit {MAX_TEXT_CHARS}")
    return value


def required_datetime(entity: Mapping[str, Any], name: str) -> datetime:
    value = as_datetime(entity[name])
    if value is None:
        raise ValueError(f"the row has no {name}")
    return value


def as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def without_none(entity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if v is not None}


def is_valid_key(key: str) -> bool:
    return 0 < len(key) <= 512 and not _BAD_KEY_CHARS.search(key)


_FLAT_TYPES = (str, bool, int, float, datetime)


class FlatCodec[T]:
    """A frozen dataclass as one row: each field one property named in camelCase (`job_id`
    is `jobId`), except the fields named in `keyed`, which live in the row's keys (the
    caller names the keys on writing and passes those fields back on reading). Fields are
    str, bool, int, float or datetime; a float is stored as a float even when whole, a
    None is not stored, and a field absent from the row reads as its default (none: an
    error)."""

    def __init__(self, kind: type[T], keyed: tuple[str, ...] = ()) -> None:
        hints = typing.get_type_hints(kind)
        self._kind = kind
        self._fields = [
            (f, _camel(f.name), hints[f.name])
            for f in dataclasses.fields(kind)  # type: ignore[arg-type]
            if f.name not in keyed
        ]
        for field, _, field_type in self._fields:
            if field_type not in _FLAT_TYPES:
                raise TypeError(f"{kind.__name__}.{field.name}: {field_type} is not stored flat")

    def to_entity(self, partition: str, row: str, value: T) -> dict[str, Any]:
        entity: dict[str, Any] = {"PartitionKey": partition, "RowKey": row}
        for field, name, kind in self._fields:
            stored = getattr(value, field.name)
            if stored is not None:
                entity[name] = float(stored) if kind is float else stored
        return without_none(entity)

    def from_entity(self, entity: Mapping[str, Any], **keyed: Any) -> T:
        values = dict(keyed)
        for field, name, kind in self._fields:
            stored = entity.get(name)
            if stored is None:
                if field.default is dataclasses.MISSING:
                    raise ValueError(f"the row has no {name}")
                continue
            values[field.name] = as_datetime(stored) if kind is datetime else kind(stored)
        return self._kind(**values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
