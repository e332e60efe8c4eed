"""What enqueue's upload checks cost against Azurite: the one properties read enqueue used to
make (`describe`), against what it makes now: a listing of the blob's name with snapshots and
metadata, then a ranged read of its first 4 KiB (`python -m bench upload_checks`).

Prints p50 / p99 of each over `--rounds` sequential requests (after a warm-up), twice in
alternation so a drift of the machine shows.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from devstack.azurite import ensure_storage, start_azurite
from function_app.adapters.blob_uploads import BlobUploads
from function_app.domain.file_sniffing import LEADING_BYTES

BLOB = b"Ada Lovelace\nada@example.com\n" * 2000  # 58 KB of text


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


async def timed(work: Callable[[], Awaitable[object]], rounds: int) -> list[float]:
    for _ in range(max(10, rounds // 10)):
        await work()
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - began)
    return samples


async def run(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        azurite = start_azurite(Path(workdir), in_memory=True)
        try:
            await ensure_storage(azurite.connection_string, "benchuploads", "benchjobs")
            uploads = BlobUploads.from_connection_string(
                azurite.connection_string, "benchuploads", env_proxies=False
            )
            name = f"u/{'0' * 32}/{'ab' * 16}/cv.txt"
            url = await uploads.sign_upload(
                name, "text/plain", datetime.now(UTC) + timedelta(minutes=5)
            )
            headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": "text/plain"}
            async with httpx.AsyncClient() as http:
                (await http.put(url, content=BLOB, headers=headers)).raise_for_status()
            etag = (await uploads.describe(name)).etag  # type: ignore[union-attr]

            async def listing() -> object:
                return await uploads.list_uploads(name, 50, snapshots=True)

            async def head() -> object:
                return await uploads.head(name, LEADING_BYTES, etag=etag)

            async def both() -> object:
                await listing()
                return await head()

            cases = {
                "before: describe (one properties read)": lambda: uploads.describe(name),
                "now: listing with snapshots + metadata": listing,
                "now: ranged read of the first 4 KiB": head,
                "now: both (what enqueue does)": both,
            }
            for _ in range(2):
                for label, work in cases.items():
                    print(f"{label}: {percentiles(await timed(work, rounds))}", flush=True)
            await uploads.close()
        finally:
            azurite.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench upload_checks")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args(argv or [])
    asyncio.run(run(args.rounds))
