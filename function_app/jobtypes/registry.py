"""The job types the worker can run, registered by name.

`get_job_type(name)` answers the shipped types with their default bounds;
`build_registry(max_upload_bytes)` builds them bounded by the MAX_UPLOAD_BYTES setting.
Which queue accepts which job names lives in `settings.DEFAULT_QUEUES`.
"""

from collections.abc import Iterable, Mapping

from function_app.jobtypes.analyze_document import AnalyzeDocument
from function_app.jobtypes.analyze_resume import AnalyzeResume
from function_app.jobtypes.base import JobType
from function_app.jobtypes.upload_reader import DEFAULT_MAX_BYTES


class UnknownJobType(KeyError):
    """No job type is registered under this name."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = tuple(known)

    def __str__(self) -> str:
        return f"unknown job type {self.name!r}; known: {', '.join(self.known)}"


class JobTypeRegistry:
    def __init__(self, job_types: Iterable[JobType]) -> None:
        self._by_name: dict[str, JobType] = {}
        for job_type in job_types:
            if job_type.name in self._by_name:
                raise ValueError(f"job type {job_type.name!r} registered twice")
            self._by_name[job_type.name] = job_type

    def get(self, name: str) -> JobType:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownJobType(name, self.names()) from None

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_name))

    def as_mapping(self) -> Mapping[str, JobType]:
        return dict(self._by_name)


def build_registry(max_upload_bytes: int = DEFAULT_MAX_BYTES) -> JobTypeRegistry:
    """The shipped job types, each reading at most `max_upload_bytes` of an upload."""
    return JobTypeRegistry(
        [AnalyzeResume(max_bytes=max_upload_bytes), AnalyzeDocument(max_bytes=max_upload_bytes)]
    )


_DEFAULT = build_registry()


def get_job_type(name: str) -> JobType:
    """The shipped job type called `name`; raises UnknownJobType (a KeyError) otherwise."""
    return _DEFAULT.get(name)


def job_type_names() -> tuple[str, ...]:
    return _DEFAULT.names()
