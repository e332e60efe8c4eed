"""Many users at once against the real local stack, as a load test would drive it.

64 owners (each with their own JWT and their own upload) enqueue at the same moment, while
presigns, status reads and stream opens run beside them. Every request must succeed, every
job must run to `completed` once (one attempt, every event once and in order). One request
at a time, the suite once passed while 599 of 600 concurrent enqueues failed: this is the
test that sees it.

Sending is at least once (docs/architecture.md): the sweeper sends again a job still
`queued` and not yet marked sent `SWEEP_RESEND_SECONDS` after it was recorded (3 s in the
test stack), and Service Bus's duplicate detection (MessageId = job id) drops the copy. On a
loaded machine the burst's enqueues take longer than 3 s between recording and marking sent,
so some jobs are sent twice; the emulator's admin endpoint counts every send of a MessageId
(the repeats it dropped included). So the test asserts the contract: each job's message was
sent, any extra send is the sweeper's (its log says so) and was dropped, and no job ran twice.
"""

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from azure.data.tables.aio import TableServiceClient

from jobstream_client.sse import SseParser
from tests.e2e.conftest import JOBS_TABLE, TERMINAL
from tests.samples.documents import resume_text
from tests.support.stack import LocalStack, launch_stack

pytestmark = pytest.mark.e2e

# The client lets idle connections go before the host's keep-alive timeout (uvicorn: 5 s) does:
# with equal timeouts a request can go out on a connection the server is closing (ReadError).
CLIENT_LIMITS = httpx.Limits(
    max_connections=400, max_keepalive_connections=400, keepalive_expiry=2.0
)

OWNERS = 64
QUEUE = "resume-analysis"
JOB = "analyze-resume"
DONE_WITHIN_SECONDS = 120.0


@dataclass
class Owner:
    name: str
    headers: dict[str, str]
    blob_name: str = ""
    job_id: str = ""
    stream_token: str = ""


@dataclass
class Load:
    """What every request answered; failures are kept with their status and body."""

    stack: LocalStack
    http: httpx.AsyncClient
    failures: list[str] = field(default_factory=list)
    answered: dict[str, int] = field(default_factory=dict)

    def record(self, what: str, response: httpx.Response, expected: int) -> bool:
        self.answered[what] = self.answered.get(what, 0) + 1
        if response.status_code == expected:
            return True
        self.failures.append(f"{what}: {response.status_code} {response.text[:300]}")
        return False

    async def presign(self, owner: Owner) -> dict[str, Any] | None:
        response = await self.http.post(
            f"{self.stack.api}/upload/presigned-url",
            json={"fileName": "cv.txt", "contentType": "text/plain"},
            headers=owner.headers,
        )
        return response.json()["data"] if self.record("presign", response, 201) else None

    async def upload(self, owner: Owner, text: bytes) -> None:
        upload = await self.presign(owner)
        assert upload is not None, self.failures
        put = await self.http.put(upload["uploadUrl"], content=text, headers=upload["headers"])
        assert put.status_code == 201, put.text
        owner.blob_name = upload["blobName"]

    async def enqueue(self, owner: Owner, idempotency_key: str | None) -> None:
        headers = dict(owner.headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        response = await self.http.post(
            f"{self.stack.api}/jobs",
            json={"queueName": QUEUE, "jobName": JOB, "data": {"blobName": owner.blob_name}},
            headers=headers,
        )
        if self.record("enqueue", response, 202):
            accepted = response.json()["data"]
            owner.job_id, owner.stream_token = accepted["jobId"], accepted["streamToken"]

    async def status(self, owner: Owner, job_id: str) -> str | None:
        response = await self.http.get(f"{self.stack.api}/jobs/{job_id}", headers=owner.headers)
        return (
            str(response.json()["data"]["status"]) if self.record("status", response, 200) else None
        )

    async def watch(self, owner: Owner) -> list[dict[str, Any]]:
        """The job's stream from its start to its terminal event."""
        updates: list[dict[str, Any]] = []
        parser = SseParser()
        url = f"{self.stack.api}/jobs/{owner.job_id}/stream"
        async with self.http.stream(
            "GET", url, params={"token": owner.stream_token}, timeout=DONE_WITHIN_SECONDS
        ) as response:
            if response.status_code != 200:
                await response.aread()
                self.record("stream", response, 200)
                return updates
            self.answered["stream"] = self.answered.get("stream", 0) + 1
            async for line in response.aiter_lines():
                event = parser.feed(line)
                if event is None or event.event != "job_update":
                    continue
                updates.append(json.loads(event.data))
                if updates[-1]["status"] in TERMINAL:
                    break
        return updates


@pytest.fixture
async def load(local_stack: LocalStack) -> AsyncIterator[Load]:
    limits = CLIENT_LIMITS
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        yield Load(local_stack, http)


def owners(stack: LocalStack, count: int) -> list[Owner]:
    run = uuid.uuid4().hex[:8]
    names = [f"load-{run}-{i}" for i in range(count)]
    return [Owner(name, stack.headers(name)) for name in names]


async def sends_of(stack: LocalStack, http: httpx.AsyncClient, job_id: str) -> int:
    response = await http.get(f"{stack.servicebus_admin_url}/queues/{QUEUE}/message-ids/{job_id}")
    return int(response.json()["sends"]) if response.status_code == 200 else 0


async def until_done(
    check: Callable[[], Awaitable[bool]], what: str, within: float = DONE_WITHIN_SECONDS
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {within}s")
        await asyncio.sleep(0.25)


async def test_64_concurrent_enqueues_with_presigns_status_reads_and_streams(
    load: Load, local_stack: LocalStack
) -> None:
    users = owners(local_stack, OWNERS)
    text = resume_text().encode()
    await asyncio.gather(*(load.upload(u, text) for u in users))
    # A few jobs exist before the burst, so status reads and streams have something to read.
    early = users[:8]
    await asyncio.gather(*(load.enqueue(u, None) for u in early))
    assert not load.failures, load.failures
    early_jobs = [(u, u.job_id) for u in early]
    early_watches = [asyncio.create_task(load.watch(u)) for u in early]

    burst = users[8:]
    await asyncio.gather(
        # every owner at once; half with an Idempotency-Key (that path writes more)
        *(load.enqueue(u, f"key-{u.name}" if i % 2 else None) for i, u in enumerate(burst)),
        *(load.presign(u) for u in users),
        *(load.status(u, job_id) for u, job_id in early_jobs * 4),
    )
    assert not load.failures, load.failures
    assert load.answered["enqueue"] == OWNERS
    watches = await asyncio.gather(*early_watches, *(load.watch(u) for u in burst))
    assert not load.failures, load.failures

    for user, updates in zip(early + burst, watches, strict=True):
        statuses = [u["status"] for u in updates]
        assert statuses, user.job_id
        assert statuses[-1] == "completed", (user.job_id, updates)
        sequences = [u["sequence"] for u in updates]
        assert sequences == list(range(1, len(sequences) + 1)), (user.job_id, sequences)
        # one run: one start, every event of attempt 1 (a second delivery would start again)
        assert statuses.count("started") == 1, (user.job_id, statuses)
        assert {u["attempt"] for u in updates[1:]} == {1}, (user.job_id, updates)
    for user in users:
        assert await load.status(user, user.job_id) == "completed"
    sends = await asyncio.gather(*(sends_of(local_stack, load.http, u.job_id) for u in users))
    assert all(n >= 1 for n in sends), sends  # every job's message reached Service Bus
    # enqueue sends once (it answered 202); every other send is a resend the sweeper logged
    resent = resent_by_the_sweeper(local_stack)
    extra = {u.job_id: n - 1 for u, n in zip(users, sends, strict=True) if n > 1}
    assert all(n <= resent[job_id] for job_id, n in extra.items()), (extra, resent)


def resent_by_the_sweeper(stack: LocalStack) -> Counter[str]:
    """How many times the stack's sweeper logged sending each job again (services/sweeper.py)."""
    text = stack.log_path.read_text(encoding="utf-8", errors="replace")
    return Counter(re.findall(r"job ([0-9a-f]{32}) was recorded but not sent: sending it", text))


# --- the same load while the emulator drops every AMQP connection ----------------------------

RETRIES = 6
DROPS_DURING_BURST = 5
DROP_DEADLINE_SECONDS = 20.0


@pytest.fixture(scope="module")
def faulty_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of its own: dropping connections must not disturb the other tests' stack (a
    receiver's locks are lost with its connection, so messages come back a minute later)."""
    with launch_stack(tmp_path_factory.mktemp("faulty-stack")) as stack:
        yield stack


async def drop_connections(stack: LocalStack, http: httpx.AsyncClient) -> int:
    response = await http.post(f"{stack.servicebus_admin_url}/faults/drop-connections")
    assert response.status_code == 200, response.text
    return int(response.json()["dropped"])


async def enqueue_until_accepted(load: Load, owner: Owner, retry_afters: list[str]) -> None:
    """A well-behaved client: on 503 wait for Retry-After, then retry with the same key."""
    for _ in range(RETRIES):
        headers = {**owner.headers, "Idempotency-Key": f"key-{owner.name}"}
        response = await load.http.post(
            f"{load.stack.api}/jobs",
            json={"queueName": QUEUE, "jobName": JOB, "data": {"blobName": owner.blob_name}},
            headers=headers,
        )
        if response.status_code == 202:
            accepted = response.json()["data"]
            owner.job_id, owner.stream_token = accepted["jobId"], accepted["streamToken"]
            return
        load.record("enqueue", response, 202)
        if response.status_code != 503:
            return
        retry_afters.append(response.headers.get("Retry-After", ""))
        await asyncio.sleep(min(float(response.headers.get("Retry-After") or 1), 2.0))
    load.failures.append(f"enqueue for {owner.name}: no 202 after {RETRIES} tries")


async def jobs_of(stack: LocalStack, names: set[str]) -> dict[str, str]:
    """Every job recorded for these owners, with its status (and error code), straight from
    the table."""
    found: dict[str, str] = {}
    async with TableServiceClient.from_connection_string(stack.storage_connection_string) as ts:
        table = ts.get_table_client(JOBS_TABLE)
        async for entity in table.query_entities("RowKey eq 'job'"):
            if entity.get("owner") in names:
                error = json.loads(entity["error"])["code"] if "error" in entity else None
                found[str(entity["PartitionKey"])] = f"{entity['status']}" + (
                    f" {error}" if error else ""
                )
    return found


async def test_enqueues_survive_dropped_broker_connections(
    faulty_stack: LocalStack,
) -> None:
    limits = CLIENT_LIMITS
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        load = Load(faulty_stack, http)
        users = owners(faulty_stack, OWNERS)
        text = resume_text().encode()
        await asyncio.gather(*(load.upload(u, text) for u in users))
        warm = users[:4]  # the app's sender and the triggers' receivers are connected
        await asyncio.gather(*(load.enqueue(u, f"key-{u.name}") for u in warm))
        assert not load.failures, load.failures
        assert await drop_connections(faulty_stack, http) >= 2

        retry_afters: list[str] = []
        burst = asyncio.gather(*(enqueue_until_accepted(load, u, retry_afters) for u in users[4:]))
        drops: list[int] = []
        # Drop again while the burst is in flight: at least DROPS_DURING_BURST times, and on
        # until one hits a live connection (reconnecting takes a while on a loaded machine),
        # within a deadline.
        deadline = asyncio.get_running_loop().time() + DROP_DEADLINE_SECONDS
        while not burst.done() and asyncio.get_running_loop().time() < deadline:
            if len(drops) >= DROPS_DURING_BURST and sum(drops) >= 1:
                break
            await asyncio.sleep(0.1)
            if not burst.done():
                drops.append(await drop_connections(faulty_stack, http))
        await burst
        assert not [f for f in load.failures if " 503 " not in f], load.failures
        assert all(retry_afters), "every 503 carries Retry-After"
        assert all(u.job_id for u in users), [u.name for u in users if not u.job_id]
        assert sum(drops) >= 1, drops  # the drops hit live connections mid-burst

        watches = await asyncio.gather(*(load.watch(u) for u in users))
        for user, updates in zip(users, watches, strict=True):
            assert updates, user.job_id
            assert updates[-1]["status"] == "completed", (user.job_id, updates)
        sends = await asyncio.gather(*(sends_of(faulty_stack, http, u.job_id) for u in users))
        assert all(n >= 1 for n in sends), sends  # a resend after a drop is dropped as a repeat

    # Nothing stuck: every job any of these requests recorded has ended; the only ones
    # not completed are those whose send gave up (503), and they say so.
    recorded = await jobs_of(faulty_stack, {u.name for u in users})
    accepted = {u.job_id for u in users}
    assert accepted <= set(recorded)
    assert {recorded[j] for j in accepted} == {"completed"}
    assert {s for j, s in recorded.items() if j not in accepted} <= {"failed enqueue_failed"}
