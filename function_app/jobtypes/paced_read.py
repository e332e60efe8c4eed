"""`paced-read` (tests only): reads the upload at a fixed rate, so its duration is set by the
upload's size. It exists to test learned ETAs end to end against a job whose time is stable;
it is registered (and accepted on the `document-analysis` queue) only with
ALLOW_FAULT_INJECTION=true, never in Azure.

Steps: fetching 5-40 (the upload, paced to `data.bytesPerSecond`, default 512 KiB/s, at
least 64 KiB/s) -> analyzing 70 (lines counted) -> storing 90.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from function_app.domain.jobs import Stage
from function_app.jobtypes.base import JobContext
from function_app.jobtypes.steps import READ_STEP, RESULT_STEP, Phase, Step, Steps

NAME = "paced-read"
DEFAULT_BYTES_PER_SECOND = 512 * 1024
MIN_BYTES_PER_SECOND = 64 * 1024
CHUNK_BYTES = 64 * 1024

STEPS = Steps(
    (
        READ_STEP,
        Step(Stage.ANALYZING, "Counting lines", (Phase("count", "Counting lines"),)),
        RESULT_STEP,
    )
)


def rate_of(data: Mapping[str, Any]) -> int:
    rate = data.get("bytesPerSecond")
    if not isinstance(rate, int) or isinstance(rate, bool):
        return DEFAULT_BYTES_PER_SECOND
    return max(rate, MIN_BYTES_PER_SECOND)


class PacedRead:
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
        await ctx.progress(
            Stage.ANALYZING, 70, "Counting lines", phase="count", detail=f"{lines:,} lines"
        )
        await ctx.checkpoint()
        await ctx.progress(Stage.STORING, 90, "Done", phase="result")
        return {"jobType": NAME, "sizeBytes": done, "lines": lines, "bytesPerSecond": rate}
