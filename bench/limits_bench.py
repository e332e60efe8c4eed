"""What the per-caller limits cost a request (docs/limits.md): `python -m bench limits`.

- In process: one presign-window check, one stream slot taken and given back, for one
  caller and spread over 10,000 callers (µs per call).
- Across instances: the running-jobs check an enqueue makes (one query of the owner's
  unfinished feed marks) against Azurite, with 0, 10 and 50 unfinished jobs listed, beside
  a bare `get entity` on the same table (the floor of any Table round trip here).

Prints p50 / p99 in milliseconds for the checks that do I/O.
"""

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

ROUNDS = 300
CALLERS = 10_000


def per_call_us(fn: Callable[[int], None], calls: int) -> float:
    start = time.perf_counter()
    for n in range(calls):
        fn(n)
    return (time.perf_counter() - start) / calls * 1e6


def in_process() -> None:
    from function_app.domain.identity import Caller
    from function_app.services.limits import CallerLimits, LimitPolicy

    async def no_repair(_owner: str) -> int:
        return 0

    policy = LimitPolicy(presigns_per_minute=10**9, streams_per_caller=10**9)
    limits = CallerLimits(policy, None, no_repair)  # type: ignore[arg-type]  # no I/O here
    one = Caller("one")
    many = [Caller(f"caller-{n}") for n in range(CALLERS)]
    alone = per_call_us(lambda n: limits.presign(one), 100_000)
    print(f"presign window, one caller:      {alone:.2f} µs")
    print(
        f"presign window, {CALLERS:,} callers: "
        f"{per_call_us(lambda n: limits.presign(many[n % CALLERS]), 100_000):.2f} µs"
    )

    def slot(n: int) -> None:
        limits.stream(many[n % CALLERS]).release()

    print(f"stream slot take + release:      {per_call_us(slot, 100_000):.2f} µs")


async def timed(call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def against_azurite() -> None:
    from devstack.azurite import ensure_storage, start_azurite
    from function_app.adapters.table_storage import TableStorage
    from function_app.domain.jobs import EventDraft, Job, JobStatus, Stage
    from function_app.services.caller_feed import FeedWriter
    from function_app.services.limits import CallerLimits, LimitPolicy

    with tempfile.TemporaryDirectory(prefix="limits-bench-") as workdir:
        azurite = start_azurite(Path(workdir), log_path=Path(workdir) / "azurite.log")
        try:
            table = "benchlimits"
            await ensure_storage(azurite.connection_string, "uploads", table)
            storage = TableStorage.from_connection_string(azurite.connection_string, table)
            writer = FeedWriter(storage.event_log, storage.caller_feed, lambda: datetime.now(UTC))
            limits = CallerLimits(
                LimitPolicy(running_jobs_per_caller=1000), storage.caller_feed, writer.repair
            )
            first = None
            for jobs in (0, 10, 50):
                owner = f"bench-{jobs}-{uuid.uuid4().hex[:6]}"
                for _ in range(jobs):
                    job = Job(
                        job_id=uuid.uuid4().hex,
                        owner=owner,
                        queue_name="document-analysis",
                        job_name="analyze-document",
                        data={},
                        created_at=datetime.now(UTC),
                    )
                    recorded, event = await storage.event_log.create(
                        job, EventDraft(JobStatus.QUEUED, 0, Stage.QUEUED, "Job queued")
                    )
                    await writer.copy(recorded, event)
                    first = first or job.job_id

                async def check(owner: str = owner) -> None:
                    async with limits.running_job(owner, uuid.uuid4().hex):
                        pass

                p50, p99 = await timed(check)
                print(
                    f"running-jobs check, {jobs:>2} unfinished: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
                )
            if first is not None:
                job_id = first

                async def get() -> None:
                    await storage.event_log.get(job_id)

                p50, p99 = await timed(get)
                print(f"floor: one get entity:            p50 {p50:.2f} ms, p99 {p99:.2f} ms")
            await storage.close()
        finally:
            azurite.stop()


def main(argv: list[str] | None = None) -> None:
    in_process()
    asyncio.run(against_azurite())


if __name__ == "__main__":
    main()
