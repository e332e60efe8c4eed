"""`ProcessSandbox` runs a call in a child process: answers and errors come back, a memory
bomb ends `document_too_complex`, a crash is transient, and a cancel kills the child at once.

The functions run in the child are this module's (the child imports it by name).
"""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from function_app.domain.errors import PermanentJobError
from function_app.jobtypes.reading.extraction import docx_text
from function_app.jobtypes.reading.sandbox import ExtractionCrashed, ProcessSandbox
from function_app.jobtypes.registry import build_registry
from tests.samples.documents import make_docx
from tests.samples.job_context import FakeJobContext
from tests.unit.jobtypes.reading import hostile_files as hostile


def fail_permanently(code: str) -> None:
    raise PermanentJobError(code, "the file's fault")


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def die(code: int) -> None:
    os._exit(code)


def sleep_after_writing_pid(folder: str, seconds: float) -> None:
    (Path(folder) / "pid").write_text(str(os.getpid()))
    time.sleep(seconds)
    (Path(folder) / "finished").write_text("the sleep ended")


@pytest.fixture
async def sandbox() -> AsyncIterator[ProcessSandbox]:
    box = ProcessSandbox(64 * 1024 * 1024)
    yield box
    await box.close()


async def test_the_answer_comes_back_from_another_process(sandbox: ProcessSandbox) -> None:
    assert await sandbox(os.getpid) != os.getpid()
    assert await sandbox(len, b"x" * 3_000_000) == 3_000_000


async def test_a_permanent_error_keeps_its_code(sandbox: ProcessSandbox) -> None:
    with pytest.raises(PermanentJobError) as caught:
        await sandbox(fail_permanently, "corrupt_file")
    assert (caught.value.code, caught.value.message) == ("corrupt_file", "the file's fault")


async def test_past_the_memory_limit_the_job_is_too_complex(sandbox: ProcessSandbox) -> None:
    assert await sandbox(allocate, 16) == 16 * 1024 * 1024
    with pytest.raises(PermanentJobError) as caught:
        await sandbox(allocate, 512)
    assert caught.value.code == "document_too_complex"


async def test_a_child_that_dies_is_a_transient_crash(sandbox: ProcessSandbox) -> None:
    with pytest.raises(ExtractionCrashed) as caught:
        await sandbox(die, 3)
    assert caught.value.retryable
    assert "exit 3" in caught.value.message


async def test_a_cancel_kills_the_child_at_once(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.create_task(sandbox(sleep_after_writing_pid, str(tmp_path), 60))
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone and reaped as the cancel returned...
    assert not (tmp_path / "finished").exists()  # ...killed, not waited for
    assert await sandbox(len, b"still serving") == 13


async def test_the_paragraph_bomb_ends_too_complex_in_the_sandbox(
    sandbox: ProcessSandbox,
) -> None:
    with pytest.raises(PermanentJobError) as caught:
        await sandbox(docx_text, hostile.paragraph_bomb_docx())
    assert caught.value.code == "document_too_complex"


@pytest.mark.parametrize("job_name", ["analyze-resume", "analyze-document"])
async def test_the_job_types_parse_through_the_extractor_they_are_given(job_name: str) -> None:
    calls: list[str] = []

    async def recording(fn: Callable[..., Any], /, *args: Any) -> Any:
        calls.append(getattr(getattr(fn, "func", fn), "__name__", "?"))
        return fn(*args)

    ctx = FakeJobContext(make_docx(["Jane Example", "SKILLS", "Python"]), file_name="cv.docx")
    await build_registry(extract=recording)[job_name].run(ctx)
    assert calls == [{"analyze-resume": "extract_resume_text"}.get(job_name, "describe_content")]
