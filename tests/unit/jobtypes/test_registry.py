"""Job types are found by name; every job name a queue accepts is registered."""

from pathlib import Path

import pytest

from function_app.jobtypes.analyze_document import AnalyzeDocument
from function_app.jobtypes.analyze_resume import AnalyzeResume
from function_app.jobtypes.registry import build_registry, by_name
from function_app.settings import DEFAULT_QUEUES

JOBTYPES = Path(__file__).resolve().parents[3] / "function_app" / "jobtypes"


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


def test_each_job_type_lives_in_the_module_named_for_it_beside_only_the_contract() -> None:
    """From file names alone: `jobtypes/<job name>.py` is the job type; what job types share
    sits in folders below, so nothing else at the top reads like one."""
    registry = build_registry(test_types=True)
    modules = {name: type(job_type).__module__ for name, job_type in registry.items()}
    assert modules == {name: f"function_app.jobtypes.{name.replace('-', '_')}" for name in registry}
    top = {path.stem for path in JOBTYPES.glob("*.py")} - {"__init__"}
    assert top == {name.replace("-", "_") for name in registry} | {"base", "steps", "registry"}
