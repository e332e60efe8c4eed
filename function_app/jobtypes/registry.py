"""The job types the worker can run, by name.

`build_registry()` builds the shipped types (the worker bounds what they read); they parse
through `extract` (the worker passes a `sandbox.ProcessSandbox`; the default, a thread, is
for unit tests); with `test_types` (ALLOW_FAULT_INJECTION) it adds the test-only
`paced-read`. Which queue accepts which job names is the queue topology's business
(`function_app.settings`).
"""

from collections.abc import Iterable, Mapping

from function_app.jobtypes.analyze_document import AnalyzeDocument
from function_app.jobtypes.analyze_resume import AnalyzeResume
from function_app.jobtypes.base import JobType
from function_app.jobtypes.paced_read import PacedRead
from function_app.jobtypes.reading.sandbox import Extractor, in_thread


def by_name(job_types: Iterable[JobType]) -> Mapping[str, JobType]:
    """The job types keyed by their names; a name given twice is refused."""
    registry: dict[str, JobType] = {}
    for job_type in job_types:
        if job_type.name in registry:
            raise ValueError(f"job type {job_type.name!r} registered twice")
        registry[job_type.name] = job_type
    return registry


def build_registry(
    *, test_types: bool = False, extract: Extractor = in_thread
) -> Mapping[str, JobType]:
    """The shipped job types (and, for tests only, `paced-read`)."""
    shipped: list[JobType] = [AnalyzeResume(extract), AnalyzeDocument(extract)]
    return by_name([*shipped, PacedRead(extract)] if test_types else shipped)
