"""Where a job type runs its blocking, CPU-heavy parsing: somewhere the worker can stop it.

An `Extractor` is awaited as `await extract(fn, *args)` and returns `fn(*args)`.
- `ProcessSandbox` (what the worker uses, `bootstrap`) runs each call in its own child
  process: `python -m function_app.jobtypes.reading.sandbox_child`, a fresh interpreter (no fork of
  the threaded asyncio worker, no re-import of its main module) that has imported the job
  types before the call arrives. One such child is kept started ahead (a spare), so a call
  usually finds one ready instead of paying an interpreter's start (~0.2 s). The child may
  add at most `memory_limit_bytes` of address space to what it holds once it has read the
  call (`RLIMIT_AS`): past it allocations fail with MemoryError and the job fails
  `document_too_complex`. Cancelling the awaiting task (a cancel request, the job's time
  limit) kills the child at once; the worker keeps serving.
- `in_thread` runs `fn` in a thread (`asyncio.to_thread`), as before the sandbox: for unit
  tests of job types. A thread cannot be stopped: a cancel waits for `fn` to return.

The call crosses the process boundary by pickle over the child's stdin and stdout: `fn` must
be a module-level function, its errors `PermanentJobError` (passed back as code and
message) or anything else (raised in the worker as `ExtractionCrashed`, a transient error).
"""

import asyncio
import contextlib
import logging
import os
import pickle
import resource
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from function_app.domain.errors import PermanentJobError, TransientJobError

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT_BYTES = 256 * 1024 * 1024
# A backstop for a child nobody stops (its worker was killed mid-call): the kernel ends it
# (SIGXCPU) after this much CPU, the longest a message lock is renewed (host.json).
CHILD_CPU_SECONDS = 300
OUT_OF_MEMORY = "needs more memory than a job may use"


class Extractor(Protocol):
    async def __call__[T](self, fn: Callable[..., T], /, *args: Any) -> T: ...


async def in_thread[T](fn: Callable[..., T], /, *args: Any) -> T:
    """`fn(*args)` in a thread (not stoppable): unit tests only."""
    return await asyncio.to_thread(fn, *args)


class Extracting:
    """The base of job types whose parsers run through an `Extractor`: the registry gives the
    process sandbox in the app, a thread by default (unit tests)."""

    def __init__(self, extract: Extractor = in_thread) -> None:
        self.extract = extract


class ExtractionCrashed(TransientJobError):
    """The child process died or failed on something other than the document."""

    def __init__(self, message: str) -> None:
        super().__init__("extraction_crashed", message)


def _status_bytes(field: str) -> int:
    """A figure of this process's /proc status (VmSize, VmHWM) in bytes; 0 without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def limit_memory(extra_bytes: int) -> None:
    """Let this process grow by at most `extra_bytes` of address space (soft RLIMIT_AS), and
    use at most CHILD_CPU_SECONDS of CPU (soft RLIMIT_CPU)."""
    for which, limit in (
        (resource.RLIMIT_AS, _status_bytes("VmSize") + extra_bytes),
        (resource.RLIMIT_CPU, CHILD_CPU_SECONDS),
    ):
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(which, (limit, hard))


def run_request(request: bytes) -> bytes:
    """The child's work: unpickle (fn, args, memory limit), limit memory, run, pickle the
    one answer: (message, the child's peak RSS in bytes)."""
    try:
        fn, args, memory_limit_bytes = pickle.loads(request)  # noqa: S301 - our own parent
        limit_memory(memory_limit_bytes)
        message: tuple[Any, ...] = ("ok", fn(*args))
    except PermanentJobError as exc:
        message = ("permanent", exc.code, exc.message)
    except MemoryError:
        message = ("permanent", "document_too_complex", f"the document {OUT_OF_MEMORY}")
    except BaseException as exc:  # reported to the worker, which decides
        message = ("crashed", f"{type(exc).__name__}: {exc}"[:500])
    try:
        return pickle.dumps((message, _status_bytes("VmHWM")), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        too_big = ("permanent", "document_too_complex", f"the result {OUT_OF_MEMORY}")
        return pickle.dumps((too_big, _status_bytes("VmHWM")))


CHILD_COMMAND = (sys.executable, "-m", "function_app.jobtypes.reading.sandbox_child")


def child_environment() -> dict[str, str]:
    """The worker's environment, with its import path (Azure adds the app's packages to
    sys.path at run time, not to PYTHONPATH)."""
    path = os.pathsep.join(entry or os.getcwd() for entry in sys.path)
    return {**os.environ, "PYTHONPATH": path}


class ProcessSandbox:
    """Runs each call in a fresh child process (module docstring)."""

    def __init__(
        self, memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES, *, spare: bool = True
    ) -> None:
        self.memory_limit_bytes = memory_limit_bytes
        self._keep_spare = spare
        self._spare: tuple[asyncio.AbstractEventLoop, asyncio.subprocess.Process] | None = None
        self._refilling: asyncio.Task[None] | None = None
        self._holders: set[asyncio.Task[None]] = set()

    async def __call__[T](self, fn: Callable[..., T], /, *args: Any) -> T:
        request = pickle.dumps((fn, args, self.memory_limit_bytes), pickle.HIGHEST_PROTOCOL)
        began = time.monotonic()
        process = await self._take()
        try:
            answer, _ = await process.communicate(request)
        finally:
            if process.returncode is None:  # cancelled (or failed) while it ran: stop it
                process.kill()
                await process.wait()
                logger.info(
                    "extraction %s stopped after %.2f s",
                    getattr(getattr(fn, "func", fn), "__name__", "?"),
                    time.monotonic() - began,
                )
        message, peak = _answer(answer)
        logger.info(
            "extraction %s: %s in %.2f s, child peak RSS %d MiB",
            getattr(getattr(fn, "func", fn), "__name__", "?"),  # a partial names its func
            message[0] if message else f"no answer (exit {process.returncode})",
            time.monotonic() - began,
            peak // 2**20,
        )
        return _outcome(message, process.returncode)  # type: ignore[no-any-return]

    async def _take(self) -> asyncio.subprocess.Process:
        """The spare if it is ready (and a new spare started behind it), else a new child."""
        loop = asyncio.get_running_loop()
        spare, self._spare = self._spare, None
        if spare is not None and (spare[0] is not loop or spare[1].returncode is not None):
            _discard(spare[1])
            spare = None
        if self._keep_spare and (self._refilling is None or self._refilling.done()):
            self._refilling = loop.create_task(self._refill())
        return spare[1] if spare is not None else await _start_child()

    async def _refill(self) -> None:
        try:
            process = await _start_child()
        except OSError as exc:
            logger.warning("no spare extraction process: %r", exc)
            return
        if self._spare is not None:
            _discard(process)
            return
        loop = asyncio.get_running_loop()
        self._spare = (loop, process)
        holder = loop.create_task(self._hold(process))
        self._holders.add(holder)
        holder.add_done_callback(self._holders.discard)

    async def _hold(self, process: asyncio.subprocess.Process) -> None:
        """Wait for the spare's end; cancelled (the loop shuts down, or `close`) while it is
        still the spare, stop it, so that it closes with its loop and not after."""
        try:
            await process.wait()
        except asyncio.CancelledError:
            if self._spare is not None and self._spare[1] is process:
                self._spare = None
                process.kill()
                await process.wait()
            raise

    async def close(self) -> None:
        """Stop the spare (tests; at the loop's shutdown its holder stops it)."""
        if self._refilling is not None:
            await self._refilling
        for holder in list(self._holders):
            holder.cancel()
        await asyncio.gather(*self._holders, return_exceptions=True)


async def _start_child() -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CHILD_COMMAND,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=child_environment(),
    )


def _discard(process: asyncio.subprocess.Process) -> None:
    """A spare no call will use (its loop ended, or one is kept already): kill it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)


def _answer(answer: bytes) -> tuple[tuple[Any, ...] | None, int]:
    """The child's (message, peak RSS); (None, 0) for none, or one cut short as it died."""
    if not answer:
        return None, 0
    try:
        message, peak = pickle.loads(answer)  # noqa: S301 - our own child wrote it
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
        return None, 0
    return message, peak


def _outcome(message: tuple[Any, ...] | None, exitcode: int | None) -> Any:
    match message:
        case ("ok", value):
            return value
        case ("permanent", str() as code, str() as text):
            raise PermanentJobError(code, text)
        case ("crashed", str() as text):
            logger.warning("the extraction process failed: %s", text)
            raise ExtractionCrashed("the document reader failed unexpectedly")
    raise ExtractionCrashed(f"the document reader stopped without an answer (exit {exitcode})")


def process_sandbox(memory_limit_mb: int) -> ProcessSandbox:
    return ProcessSandbox(memory_limit_mb * 1024 * 1024)
