"""Job types are found by name; every job name a queue accepts is registered."""

import pytest

from function_app.jobtypes.analyze_document import AnalyzeDocument
from function_app.jobtypes.analyze_resume import AnalyzeResume
from function_app.jobtypes.registry import (
    JobTypeRegistry,
    UnknownJobType,
    build_registry,
    get_job_type,
    job_type_names,
)
from function_app.settings import DEFAULT_QUEUES


def test_the_shipped_job_types_are_registered_by_name() -> None:
    assert job_type_names() == ("analyze-document", "analyze-resume")
    assert isinstance(get_job_type("analyze-resume"), AnalyzeResume)
    assert isinstance(get_job_type("analyze-document"), AnalyzeDocument)


@pytest.mark.parametrize(
    ("queue", "job_name"),
    [(queue, name) for queue, names in DEFAULT_QUEUES.items() for name in names],
)
def test_every_job_name_a_queue_accepts_has_a_job_type(queue: str, job_name: str) -> None:
    assert get_job_type(job_name).name == job_name


def test_an_unknown_name_raises_a_key_error_naming_the_known_ones() -> None:
    with pytest.raises(KeyError) as caught:
        get_job_type("mine-bitcoin")
    assert isinstance(caught.value, UnknownJobType)
    assert "mine-bitcoin" in str(caught.value)
    assert "analyze-resume" in str(caught.value)


def test_a_name_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        JobTypeRegistry([AnalyzeResume(), AnalyzeResume()])


def test_the_registry_can_be_built_with_the_upload_limit() -> None:
    registry = build_registry(max_upload_bytes=1234)
    assert registry.names() == job_type_names()
    assert set(registry.as_mapping()) == {"analyze-resume", "analyze-document"}
