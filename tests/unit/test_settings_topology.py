"""Settings take the queues from function_app/queues.json: names from the queues' app settings
when set, job names and the max delivery count from the file."""

import pytest

from function_app.settings import DEFAULT_QUEUES, Settings, SettingsError, load_settings
from function_app.topology import topology
from tests.fakes import test_settings

LOCAL = {
    "STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "Endpoint=sb://127.0.0.1;UseDevelopmentEmulator=true",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment with only the local basics set, and no queue-name setting."""
    for name, value in LOCAL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SERVICEBUS_MAX_DELIVERY_COUNT", raising=False)
    for queue in topology().queues:
        monkeypatch.delenv(queue.setting, raising=False)
    return monkeypatch


def test_without_queue_settings_the_queues_are_the_files(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.queues == topology().job_names_by_queue() == DEFAULT_QUEUES
    assert list(settings.queues) == [q.name for q in topology().queues]


def test_a_queue_setting_renames_that_queue_only(env: pytest.MonkeyPatch) -> None:
    first, *others = topology().queues
    env.setenv(first.setting, "resume-analysis-eu")
    queues = load_settings().queues
    assert queues["resume-analysis-eu"] == first.job_names
    assert first.name not in queues
    for queue in others:
        assert queues[queue.name] == queue.job_names


def test_a_given_value_wins_over_the_environment(env: pytest.MonkeyPatch) -> None:
    first = topology().queues[0]
    env.setenv(first.setting, "from-the-environment")
    settings = Settings.model_validate({**LOCAL, first.setting: "given"})
    assert "given" in settings.queues
    assert "from-the-environment" not in settings.queues


def test_a_bad_queue_setting_fails_the_settings_naming_it(env: pytest.MonkeyPatch) -> None:
    first, second = topology().queues[:2]
    env.setenv(first.setting, "no spaces allowed")
    env.setenv(second.setting, "")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"invalid app settings: {first.setting}: not a queue name")
    assert f"{second.setting}: empty" in message
    assert "no spaces allowed" not in message


def test_two_queues_cannot_share_a_name(env: pytest.MonkeyPatch) -> None:
    first, second = topology().queues[:2]
    env.setenv(second.setting, first.name)
    with pytest.raises(SettingsError, match=f"{second.setting}: names the same queue as"):
        load_settings()


def test_the_max_delivery_count_is_the_files_unless_set(env: pytest.MonkeyPatch) -> None:
    derived = [s.SERVICEBUS_MAX_DELIVERY_COUNT for s in (load_settings(), test_settings())]
    assert derived == [topology().max_delivery_count] * 2
    env.setenv("SERVICEBUS_MAX_DELIVERY_COUNT", "3")
    assert [load_settings().SERVICEBUS_MAX_DELIVERY_COUNT] == [3]


def test_the_queue_setting_names_are_no_declared_setting() -> None:
    """A queue's setting must not reuse a setting the app already reads for something else."""
    declared = {name.upper() for name in Settings.model_fields}
    assert not {q.setting for q in topology().queues} & declared
