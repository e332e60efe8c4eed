"""`IdempotencyKeys` on the jobs table: which job an (owner, Idempotency-Key) pair is for.

| PartitionKey           | RowKey          | what                                  |
|------------------------|-----------------|---------------------------------------|
| `idem-<sha256(owner)>` | `<sha256(key)>` | the claim: job id, confirmed, lease   |

Owner and key are hashed: neither is stored, any characters are fine. Every change is
conditional (insert if absent, replace or delete if the ETag is unchanged), so concurrent
claimers, takers-over and confirmers agree on one winner (`domain.idempotency`).
"""

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from function_app.adapters.table_storage.entity_fields import FlatCodec
from function_app.adapters.table_storage.rows import (
    UNREAD,
    Decision,
    Entity,
    TableRows,
    Unread,
    decide_and_write,
)
from function_app.domain.idempotency import KeyClaim, new_claim

IDEMPOTENCY_PREFIX = "idem-"
MAX_CLAIM_ATTEMPTS = 8
MAX_CONFIRM_ATTEMPTS = 64


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def claim_address(owner: str, key: str) -> tuple[str, str]:
    return IDEMPOTENCY_PREFIX + _sha(owner), _sha(key)


# jobId, confirmed, leaseUntil
CLAIMS = FlatCodec(KeyClaim)


class TableIdempotencyKeys:
    """`IdempotencyKeys` on the jobs table (see the module docstring for the layout)."""

    def __init__(self, rows: TableRows, clock: Callable[[], datetime]) -> None:
        self._rows = rows
        self._clock = clock

    async def claim(self, owner: str, key: str, job_id: str, now: datetime | None = None) -> str:
        """Insert our claim (tried first: a fresh key is the common case); if one exists,
        answer its job id, unless it was abandoned, which we take over under its ETag."""
        at = now or self._clock()
        partition, row = claim_address(owner, key)
        ours = CLAIMS.to_entity(partition, row, new_claim(job_id, at))

        def take(holder: Entity | None) -> Decision[str]:
            if holder is None:
                return Decision(job_id, lambda: self._rows.insert_if_absent(ours, "claim key"))
            current = CLAIMS.from_entity(holder)
            if current.job_id == job_id or not current.is_abandoned(at):
                return Decision(current.job_id)
            return self._replacing(holder, ours, job_id, "take over key")

        return await self._settle(partition, row, take, MAX_CLAIM_ATTEMPTS, assume_absent=True)

    async def lookup(self, owner: str, key: str) -> KeyClaim | None:
        holder = await self._rows.get(*claim_address(owner, key))
        return None if holder is None else CLAIMS.from_entity(holder)

    async def confirm(self, owner: str, key: str, job_id: str) -> bool:
        partition, row = claim_address(owner, key)

        def settle(holder: Entity | None) -> Decision[bool]:
            if holder is None:
                return Decision(False)
            current = CLAIMS.from_entity(holder)
            if current.job_id != job_id:
                return Decision(False)
            if current.confirmed:
                return Decision(True)
            confirmed = KeyClaim(job_id, confirmed=True, lease_until=current.lease_until)
            entity = CLAIMS.to_entity(partition, row, confirmed)
            return self._replacing(holder, entity, True, "confirm key")

        return await self._settle(partition, row, settle, MAX_CONFIRM_ATTEMPTS)

    async def release(self, owner: str, key: str, job_id: str) -> None:
        """Drop our claim; a claim that is not ours (any more) is left alone."""
        partition, row = claim_address(owner, key)
        holder = await self._rows.get(partition, row)
        if holder is None or holder.get("jobId") != job_id:
            return
        await self._rows.delete_if_unchanged(partition, row, holder.metadata["etag"], "release key")

    async def _settle[R](
        self,
        partition: str,
        row: str,
        decide: Callable[[Entity | None], Decision[R]],
        attempts: int,
        *,
        assume_absent: bool = False,
    ) -> R:
        """Read the claim's row (or, first, assume it absent), decide, write conditionally;
        again on a lost race."""
        assumed: Entity | Unread | None = None if assume_absent else UNREAD
        return await decide_and_write(
            lambda: self._rows.get(partition, row),
            decide,
            attempts=attempts,
            what="idempotency key",
            assume=assumed,
        )

    def _replacing[R](
        self, holder: Entity, entity: dict[str, Any], result: R, what: str
    ) -> Decision[R]:
        """Answer `result` once `holder`'s row is replaced by `entity` (if still unchanged)."""
        etag = holder.metadata["etag"]
        return Decision(result, lambda: self._rows.replace_if_unchanged(entity, etag, what))
