"""Entity field codecs of the jobs table: chunked JSON, bounded text, times, and key checks.

Size limits (Table Storage: 64 KiB per string property, 1 MiB per entity, 4 MiB per
transaction). JSON values are stored ASCII-only and split over properties of `CHUNK_CHARS`
characters (`result`, `result_1`, ...); a JSON value may take up to `MAX_JSON_CHARS`
characters, a bigger one raises `ValueTooLarge`, as does text over `MAX_TEXT_CHARS`.
Pure: no I/O and nothing from `azure.*`.
"""

import json
import re
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
