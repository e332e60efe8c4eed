"""Sandbox benchmark: what running an extraction in a child process costs, per call.

`python -m bench.sandbox_bench [--quick]` (or `python -m bench sandbox`). `ProcessSandbox`
(the worker's `extract`, `function_app/jobtypes/reading/sandbox.py`) against `asyncio.to_thread`
(what it replaced), calling a trivial function (`len`) with inputs of 1 KB, 1 MB and 20 MB
(the default MAX_UPLOAD_BYTES), so the figures are the overhead alone:

- `spare ready`: calls spaced 0.5 s apart, so the spare child started behind each call is
  ready for the next (a worker whose jobs do not all extract at the same instant);
- `back to back`: calls in a row, so most start a child (an interpreter and its imports);
- `thread`: `asyncio.to_thread`, the floor.

Then the hostile files of tests/unit/jobtypes/reading/hostile_files.py, each through the sandbox:
its outcome, wall time, and the child's own peak RSS (VmHWM) before and after parsing.
`--quick` makes 3 calls per figure instead of 10.
"""

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from function_app.domain.errors import JobFailure
from function_app.jobtypes.reading.extraction import docx_text, pdf_text
from function_app.jobtypes.reading.sandbox import ProcessSandbox
from tests.unit.jobtypes.reading import hostile_files as hostile

SIZES = (1_000, 1_000_000, 20 * 1024 * 1024)
SPACING_SECONDS = 0.5


def peak_mib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def parse_in_child(parse: Callable[[bytes], object], data: bytes) -> tuple[str, int, int]:
    """Runs in the child: the outcome and the child's peak RSS before and after parsing."""
    before = peak_mib()
    try:
        parse(data)
        outcome = "read"
    except JobFailure as exc:
        outcome = exc.code
    return outcome, before, peak_mib()


async def per_call_ms(
    call: Callable[[bytes], Awaitable[Any]], data: bytes, count: int, spacing: float = 0.0
) -> float:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        await call(data)
        times.append((time.perf_counter() - began) * 1000)
        if spacing:
            await asyncio.sleep(spacing)
    return statistics.median(times)


async def run(count: int) -> None:
    sandbox = ProcessSandbox()
    await sandbox(len, b"warm")  # the first call starts a child without a spare

    async def boxed(data: bytes) -> int:
        return await sandbox(len, data)

    async def threaded(data: bytes) -> int:
        return await asyncio.to_thread(len, data)

    print(f"{'input':>10} {'spare ready':>12} {'back to back':>13} {'thread':>8}  (median ms)")
    for size in SIZES:
        data = b"x" * size
        ready = await per_call_ms(boxed, data, count, SPACING_SECONDS)
        rows = await per_call_ms(boxed, data, count)
        thread = await per_call_ms(threaded, data, count)
        print(f"{size:>10,} {ready:>12.1f} {rows:>13.1f} {thread:>8.2f}")
    bombs: dict[str, tuple[Callable[[bytes], object], bytes]] = {
        "paragraph bomb DOCX": (docx_text, hostile.paragraph_bomb_docx()),
        "shared-stream PDF": (pdf_text, hostile.shared_stream_pdf()),
        "many-entries DOCX": (docx_text, hostile.many_entries_docx()),
        "deep DOCX": (docx_text, hostile.deep_docx()),
    }
    for name, (parse, data) in bombs.items():
        await asyncio.sleep(SPACING_SECONDS)
        began = time.perf_counter()
        outcome, before, after = await sandbox(parse_in_child, parse, data)
        took = time.perf_counter() - began
        print(f"{name} ({len(data):,} B): {outcome} in {took:.2f} s, child {before} -> {after} MiB")
    await sandbox.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench sandbox")
    parser.add_argument("--quick", action="store_true", help="3 calls per figure")
    args = parser.parse_args([] if argv is None else list(argv))
    asyncio.run(run(3 if args.quick else 10))


if __name__ == "__main__":
    main(sys.argv[1:])
