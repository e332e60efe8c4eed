"""A writer SIGKILLed between a job's log write and its feed copy loses nothing from the feed
(Azurite, the real Table adapters, a real process killed with SIGKILL)."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack.azurite import AzuriteProcess, ensure_storage
from function_app.adapters.table_storage import TableStorage
from function_app.domain.identity import Caller
from function_app.domain.jobs import EventDraft, JobStatus, Stage
from function_app.services.caller_feed import FeedingEventLog, FeedWriter
from function_app.services.streaming import FeedHub, FeedUpdate, StreamConfig

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

ROOT = Path(__file__).resolve().parents[2]


class UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


async def kill_between_writes(azurite: AzuriteProcess, table: str, owner: str, last: str) -> str:
    job_id = uuid.uuid4().hex
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.feed_writer_killed",
            azurite.connection_string,
            table,
            owner,
            job_id,
            last,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
        assert line.strip() == "BETWEEN", line
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    return job_id


@pytest.fixture
async def storage(azurite: AzuriteProcess) -> tuple[TableStorage, str]:
    table = f"crash{uuid.uuid4().hex[:12]}"
    await ensure_storage(azurite.connection_string, "uploads", table)
    return TableStorage.from_connection_string(azurite.connection_string, table), table


async def test_the_next_event_of_the_job_copies_what_the_killed_writer_did_not(
    azurite: AzuriteProcess, storage: tuple[TableStorage, str]
) -> None:
    tables, table = storage
    owner = f"alice-{uuid.uuid4().hex[:8]}"
    job_id = await kill_between_writes(azurite, table, owner, "started")
    assert [e.sequence for e in await tables.event_log.events_after(job_id, 0)] == [1, 2]
    assert [e.event.sequence for e in await tables.caller_feed.after(owner, 0, 100)] == [1]

    log = FeedingEventLog(
        tables.event_log, FeedWriter(tables.event_log, tables.caller_feed, UtcClock().now)
    )
    await log.append(job_id, lambda _j: EventDraft(JobStatus.COMPLETED, 100, Stage.DONE, "done"))
    feed = await tables.caller_feed.after(owner, 0, 100)
    assert [(e.job_id, e.event.sequence) for e in feed] == [(job_id, 1), (job_id, 2), (job_id, 3)]
    await tables.close()


async def test_a_reader_repairs_a_last_event_the_killed_writer_did_not_copy(
    azurite: AzuriteProcess, storage: tuple[TableStorage, str]
) -> None:
    tables, table = storage
    owner = f"alice-{uuid.uuid4().hex[:8]}"
    job_id = await kill_between_writes(azurite, table, owner, "completed")
    assert [e.event.sequence for e in await tables.caller_feed.after(owner, 0, 100)] == [1]

    writer = FeedWriter(tables.event_log, tables.caller_feed, UtcClock().now)
    hub = FeedHub(tables.caller_feed, writer, UtcClock(), StreamConfig(feed_repair_seconds=0.5))
    seen: list[tuple[str, int]] = []

    async def watch() -> None:
        async for item in hub.open(Caller(owner), 0):
            if isinstance(item, FeedUpdate):
                seen.append((item.entry.job_id, item.entry.event.sequence))
                if item.entry.event.is_terminal:
                    return

    await asyncio.wait_for(watch(), 30)
    assert seen == [(job_id, 1), (job_id, 2)]
    feed = await tables.caller_feed.after(owner, 0, 100)
    assert [e.event.sequence for e in feed] == [1, 2]
    await tables.close()
