"""Job types are found by name; every job name a queue accepts is registered."""

import pytest

from function_app.jobtypes.analyze_document import AnalyzeDocument
from function_app.jobtypes.analyze_resume import AnalyzeResume
from function_app.jobtypes.registry import build_registry, by_name
from function_app.settings import DEFAULT_QUEUES


def test_the_shipped_job_types_are_registered_by_name() -> None:
    registry = build_registry()
    assert sorted(registry) == ["analyze-document", "analyze-resume"]
    assert isinstance(registry["analyze-resume"], AnalyzeResume)
    assert isinstance(registry["analyze-document"], AnalyzeDocument)


@pytest.mark.parametrize(
    ("queue", "job_name"),
    [(queue, name) for queue, names in DEFAULT_QUEUES.items() for name in names],
)
def test_every_job_name_a_queue_accepts_has_a_job_type(queue: str, job_name: str) -> None:
    assert build_registry()[job_name].name == job_name


def test_a_name_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        by_name([AnalyzeResume(), AnalyzeResume()])
