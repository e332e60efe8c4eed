"""`paced-read` (tests only): reads the upload at a fixed rate, so its duration is set by the
upload's size. It exists to test learned ETAs end to end against a job whose time is stable;
it is registered (and accepted on the `document-analysis` queue) only with
ALLOW_FAULT_INJECTION=true, never in Azure.

Steps: fetching 5-40 (the upload, paced to `data.bytesPerSecond`, default 512 KiB/s, at
least 64 KiB/s) -> analyzing 70 (lines counted) -> storing 90.

With `data.extractSeconds` (at most 3600), the line count runs as an extraction does, through
`extract` (a child process in the worker), and first holds that long: a slow extraction for
the tests of cancel and the time limit mid-extraction (tests/e2e/test_hostile_files.py).
"""

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from function_app.domain.jobs import Stage
from function_app.jobtypes.base import JobContext
from function_app.jobtypes.reading.sandbox import Extracting
from function_app.jobtypes.steps import READ_STEP, RESULT_STEP, Phase, Step, Steps

NAME = "paced-read"
DEFAULT_BYTES_PER_SECOND = 512 * 1024
MIN_BYTES_PER_SECOND = 64 * 1024
CHUNK_BYTES = 64 * 1024
MAX_EXTRACT_SECONDS = 3600

STEPS = Steps(
    (
        READ_STEP,
        Step(Stage.ANALYZING, "Counting lines", (Phase("count", "Counting lines"),)),
        RESULT_STEP,
    )
)


def extract_seconds_of(data: Mapping[str, Any]) -> float | None:
    seconds = data.get("extractSeconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return None
    return float(min(seconds, MAX_EXTRACT_SECONDS))


def slow_line_count(seconds: float, lines: int) -> int:
    """What the slow extraction returns, after holding `seconds` (in the extraction process)."""
    time.sleep(seconds)
    return lines


def rate_of(data: Mapping[str, Any]) -> int:
    rate = data.get("bytesPerSecond")
    if not isinstance(rate, int) or isinstance(rate, bool):
        return DEFAULT_BYTES_PER_SECOND
    return max(rate, MIN_BYTES_PER_SECOND)


class PacedRead(Extracting):
    """Reads at a fixed rate (tests only)."""

    name = NAME
    steps = STEPS

    async def run(self, ctx: JobContext) -> Mapping[str, Any]:
        rate = rate_of(ctx.data)
        loop = asyncio.get_running_loop()
        began = loop.time()
        done = 0
        lines = 0
        async for chunk in ctx.read(CHUNK_BYTES):
            done += len(chunk)
            lines += chunk.count(b"\n")
            # Hold the pace: the chunk is "read" once done / rate seconds have passed.
            await asyncio.sleep(max(0.0, began + done / rate - loop.time()))
        await ctx.checkpoint()
        hold = extract_seconds_of(ctx.data)
        if hold is not None:
            message = f"Extracting for {hold:g} s"
            await ctx.progress(Stage.ANALYZING, 50, message, phase="count")
            lines = await self.extract(slow_line_count, hold, lines)
        await ctx.progress(
            Stage.ANALYZING, 70, "Counting lines", phase="count", detail=f"{lines:,} lines"
        )
        await ctx.checkpoint()
        await ctx.progress(Stage.STORING, 90, "Done", phase="result")
        return {"jobType": NAME, "sizeBytes": done, "lines": lines, "bytesPerSecond": rate}
