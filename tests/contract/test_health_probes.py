"""HealthProbe contract, the storage and Service Bus adapters' probes and the fake alike: an
answering dependency passes; a failing one raises DependencyUnavailable naming the probe's
dependency; one that never answers is cut off by the health service's timeout."""

from typing import Any

import pytest

from function_app.domain.errors import DependencyUnavailable
from function_app.services.health import HealthService


async def test_an_answering_dependency_passes(answering_probe: Any) -> None:
    assert answering_probe.name in {"storage", "servicebus"}
    await answering_probe.check()
    report = await HealthService([answering_probe], timeout_seconds=30).check()
    assert report.healthy


async def test_a_failing_dependency_is_named(failing_probe: Any) -> None:
    with pytest.raises(DependencyUnavailable) as caught:
        await failing_probe.check()
    assert caught.value.dependency == failing_probe.name
    report = await HealthService([failing_probe], timeout_seconds=30).check()
    assert report.failing == (failing_probe.name,)
    assert report.results[0].problem == "not answering"


async def test_a_silent_dependency_is_cut_off_by_the_timeout(silent_probe: Any) -> None:
    report = await HealthService([silent_probe], timeout_seconds=0.3).check()
    assert report.failing == (silent_probe.name,)
    assert report.results[0].timed_out
    assert report.results[0].problem == "no answer in time"
