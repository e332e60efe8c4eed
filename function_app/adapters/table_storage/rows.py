"""The table toolkit every port of the jobs table shares: conditional writes that report a
lost race instead of raising, and the one read -> decide -> conditional-write loop with
back-off. The entity field codecs (chunked JSON, bounded text, times) are `entity_fields.py`.
SDK failures become `DependencyUnavailable("storage", ...)`; nothing from `azure.*` leaks out.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from function_app.adapters.table_storage.entity_fields import is_valid_key
from function_app.domain.errors import DependencyUnavailable
from function_app.ports import ConcurrencyExhausted

Entity = Any  # the SDK's TableEntity: a dict with `.metadata["etag"]`
Operation = tuple[Any, ...]


# --- reads and conditional writes -------------------------------------------------------------


class TableRows:
    """The SDK's `TableClient`, reduced to what the ports need: a read that answers None for
    a missing row, and writes that answer False when they lost a race (the row changed,
    appeared or went away) and raise `DependencyUnavailable` for anything else."""

    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def get(self, partition: str, row: str) -> Entity | None:
        if not (is_valid_key(partition) and is_valid_key(row)):
            return None
        try:
            return await self.table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise unavailable("read", exc) from exc

    async def insert_if_absent(self, entity: Mapping[str, Any], what: str) -> bool:
        try:
            await self.table.create_entity(entity)
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise unavailable(what, exc) from exc
        return True

    async def upsert(self, entity: Mapping[str, Any], what: str) -> None:
        """Write the row whatever is stored (last writer wins)."""
        try:
            await self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except AzureError as exc:
            raise unavailable(what, exc) from exc

    async def replace_if_unchanged(self, entity: Mapping[str, Any], etag: str, what: str) -> bool:
        return await self._unless_changed(
            self.table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            ),
            what,
        )

    async def delete(self, partition: str, row: str, what: str) -> None:
        """Delete the row whatever is stored; nothing when it is already gone."""
        try:
            await self.table.delete_entity(partition, row)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise unavailable(what, exc) from exc

    async def delete_if_unchanged(self, partition: str, row: str, etag: str, what: str) -> bool:
        return await self._unless_changed(
            self.table.delete_entity(
                partition, row, etag=etag, match_condition=MatchConditions.IfNotModified
            ),
            what,
        )

    @staticmethod
    async def _unless_changed(write: Awaitable[object], what: str) -> bool:
        """Await a write conditional on the row's ETag: False when the row changed or went
        away meanwhile (412 or 404)."""
        try:
            await write
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        except HttpResponseError as exc:
            if exc.status_code not in (404, 412):
                raise unavailable(what, exc) from exc
            return False
        except AzureError as exc:
            raise unavailable(what, exc) from exc
        return True

    async def transact(self, operations: Sequence[Operation], what: str) -> bool:
        """One entity-group transaction; False when a conditional part lost its race."""
        return await self.transact_versions(operations, what) is not None

    async def transact_versions(
        self, operations: Sequence[Operation], what: str
    ) -> list[str] | None:
        """`transact`, answering each row's new ETag (in operation order); None: lost a race."""
        try:
            results = await self.table.submit_transaction(list(operations))
        except (TableTransactionError, HttpResponseError) as exc:
            if not is_write_conflict(exc):
                raise unavailable(what, exc) from exc
            return None
        except AzureError as exc:
            raise unavailable(what, exc) from exc
        return [str(result.get("etag", "")) for result in results]

    async def query(
        self,
        query: str,
        parameters: Mapping[str, Any],
        limit: int,
        select: Sequence[str] | None = None,
    ) -> list[Entity]:
        """At most `limit` rows, following continuation tokens (a page may hold fewer);
        `select`: only these properties."""
        rows: list[Entity] = []
        try:
            pages = self.table.query_entities(
                query,
                parameters=dict(parameters),
                results_per_page=min(limit, 1000),
                select=None if select is None else list(select),
            )
            async for entity in pages:
                rows.append(entity)
                if len(rows) >= limit:
                    break
        except AzureError as exc:
            raise unavailable("query", exc) from exc
        return rows


def replace_operation(entity: Mapping[str, Any], etag: str) -> Operation:
    """A transaction's "replace this row if its ETag is unchanged"."""
    return (
        "update",
        entity,
        {
            "mode": UpdateMode.REPLACE,
            "etag": etag,
            "match_condition": MatchConditions.IfNotModified,
        },
    )


def create_operation(entity: Mapping[str, Any]) -> Operation:
    return ("create", entity)


def is_write_conflict(exc: HttpResponseError) -> bool:
    """A lost race: a row's ETag moved (412) or a row already exists (409)."""
    return exc.status_code in (409, 412) or isinstance(
        exc, ResourceModifiedError | ResourceExistsError
    )


def unavailable(what: str, exc: AzureError) -> DependencyUnavailable:
    return DependencyUnavailable(
        "storage", f"table storage {what} failed: {exc.__class__.__name__}: {exc.message}"
    )


# --- read -> decide -> conditional write --------------------------------------------------------


@dataclass(frozen=True)
class Decision[R]:
    """What to answer, and the conditional write that must succeed first (None: no write)."""

    result: R
    write: Callable[[], Awaitable[bool]] | None = None


class Unread:
    """No read yet: the first decision is made on an assumption (`assume=`)."""


UNREAD = Unread()


async def decide_and_write[S, R](
    read: Callable[[], Awaitable[S]],
    decide: Callable[[S], Decision[R]],
    *,
    attempts: int,
    what: str,
    assume: S | Unread = UNREAD,
) -> R:
    """Read the current state, decide, and make the decision's conditional write; when the
    write lost its race, back off, read again and decide again, at most `attempts` times.

    `assume` skips the first read with a guess of the state (e.g. "the row does not exist
    yet", when trying an insert first is the common case)."""
    state = assume
    for attempt in range(attempts):
        if isinstance(state, Unread):
            state = await read()
        decision = decide(state)
        if decision.write is None or await decision.write():
            return decision.result
        state = UNREAD
        await backoff(attempt)
    raise ConcurrencyExhausted(f"{what}: {attempts} lost write races")


async def backoff(attempt: int) -> None:
    """Jittered, capped back-off after a lost race (spreads contending writers)."""
    await asyncio.sleep(random.uniform(0, min(0.005 * 2 ** min(attempt, 6), 0.2)))
