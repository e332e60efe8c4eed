"""The local stack as `make run` serves it (`python -m devstack ...`), for the stream bench.

`python -m bench.stream_route_host COUNTERS [--tracemalloc [--frames N] [--dump]] -- <stack args>`
runs `devstack.__main__.main` unchanged, with two additions the bench needs and the product
has no route for:

- every read the host makes of the Table event log (`TableEventLog.get` and `.events_after`)
  is counted;
- a thread writes the count (and, with `--tracemalloc`, the traced Python memory) as JSON to
  `COUNTERS_FILE` every 0.2 s, so the bench reads them from outside the process;
- with `--tracemalloc`, SIGUSR1 takes a snapshot: the first is the baseline, each later one
  writes the 25 files and 40 source lines whose allocations grew most since it to
  `COUNTERS_FILE.top` (for profiling by hand: `kill -USR1 <pid>`); `--frames N` keeps N
  frames per allocation (default 1), `--dump` also writes each snapshot whole to
  `COUNTERS_FILE.snap<k>` (k = 0, 1, ...) for `bench.stream_memory` to diff by traceback;
- SIGUSR2 collects the cyclic garbage (`gc.collect()` with `DEBUG_SAVEALL`) and writes how
  much there was, by type, as JSON to `COUNTERS_FILE.garbage<k>`.

The open-file limit is raised to its hard limit first (10,000 streams are 10,000 sockets).
"""

import gc
import json
import resource
import signal
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any

WRITE_EVERY_SECONDS = 0.2


class Reads:
    count = 0


def counting[**P, R](
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    @wraps(method)
    async def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        Reads.count += 1
        return await method(*args, **kwargs)

    return counted


def raise_open_files_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def write_counters(path: Path, traced: bool) -> None:
    tmp = path.with_suffix(".tmp")
    while True:
        counters: dict[str, Any] = {"tableReads": Reads.count, "at": time.monotonic()}
        if traced:
            counters["tracedBytes"] = tracemalloc.get_traced_memory()[0]
        tmp.write_text(json.dumps(counters), encoding="utf-8")
        tmp.replace(path)
        time.sleep(WRITE_EVERY_SECONDS)


def snapshot_on_signal(counters_path: Path, dump: bool) -> None:
    baseline: list[tracemalloc.Snapshot] = []
    taken = [0]

    def take(_signum: int, _frame: object) -> None:
        snapshot = tracemalloc.take_snapshot()
        if dump:
            snapshot.dump(str(counters_path.with_suffix(f".snap{taken[0]}")))
            counters_path.with_suffix(f".done{taken[0]}").touch()
        taken[0] += 1
        if not baseline:
            baseline.append(snapshot)
            return
        by_file = snapshot.compare_to(baseline[0], "filename")[:25]
        top = snapshot.compare_to(baseline[0], "lineno")[:40]
        text = "\n".join(str(stat) for stat in [*by_file, *top])
        counters_path.with_suffix(".top").write_text(text + "\n", encoding="utf-8")

    signal.signal(signal.SIGUSR1, take)


def garbage_on_signal(counters_path: Path) -> None:
    taken = [0]

    def census(_signum: int, _frame: object) -> None:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            found = gc.collect()
            kinds = Counter(type(o).__qualname__ for o in gc.garbage)
            size = sum(sys.getsizeof(o) for o in gc.garbage)
        finally:
            gc.garbage.clear()
            gc.set_debug(0)
        report = {"objects": found, "bytes": size, "kinds": kinds.most_common(25)}
        tmp = counters_path.with_suffix(".tmp-garbage")
        tmp.write_text(json.dumps(report), encoding="utf-8")
        tmp.replace(counters_path.with_suffix(f".garbage{taken[0]}"))
        taken[0] += 1

    signal.signal(signal.SIGUSR2, census)


def main(argv: list[str]) -> int:
    counters_path = Path(argv[0])
    own = argv[1 : argv.index("--")]
    traced = "--tracemalloc" in own
    frames = int(own[own.index("--frames") + 1]) if "--frames" in own else 1
    stack_args = argv[argv.index("--") + 1 :]
    raise_open_files_limit()
    if traced:
        tracemalloc.start(frames)
        snapshot_on_signal(counters_path, "--dump" in own)
    garbage_on_signal(counters_path)

    from devstack.__main__ import main as devstack_main
    from function_app.adapters.table_storage.event_log import TableEventLog

    TableEventLog.get = counting(TableEventLog.get)  # type: ignore[method-assign]
    TableEventLog.events_after = counting(TableEventLog.events_after)  # type: ignore[method-assign]
    threading.Thread(
        target=write_counters, args=(counters_path, traced), daemon=True, name="counters"
    ).start()
    return devstack_main(stack_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
