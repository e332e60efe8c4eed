import azure.functions as func
import pytest

from devstack.host.host_json import ServiceBusOptions
from devstack.host.servicebus_trigger import (
    TriggerConfigError,
    queue_triggers,
    resolve_setting_expressions,
)

app = func.FunctionApp()


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%JOBS_QUEUE%", connection="SB")
async def on_job(msg: func.ServiceBusMessage) -> None:
    return None


@app.service_bus_queue_trigger(
    arg_name="dead",
    queue_name="%JOBS_QUEUE%/$DeadLetterQueue",
    connection="SB",
    auto_complete_messages=False,
)
def on_dead(dead: func.ServiceBusMessage) -> None:
    return None


FUNCTIONS = app.get_functions()


def test_setting_expressions_are_resolved_and_the_dead_letter_suffix_is_split() -> None:
    triggers = {
        t.function_name: t
        for t in queue_triggers(FUNCTIONS, ServiceBusOptions(), {"JOBS_QUEUE": "work"})
    }

    assert triggers["on_job"].queue_name == "work"
    assert triggers["on_job"].dead_letter is False
    assert triggers["on_job"].arg_name == "msg"
    assert triggers["on_dead"].queue_name == "work"
    assert triggers["on_dead"].dead_letter is True
    assert triggers["on_dead"].entity == "work/$DeadLetterQueue"


def test_the_function_setting_overrides_host_json_auto_complete() -> None:
    triggers = {
        t.function_name: t
        for t in queue_triggers(
            FUNCTIONS, ServiceBusOptions(auto_complete_messages=True), {"JOBS_QUEUE": "q"}
        )
    }

    assert triggers["on_job"].auto_complete is True
    assert triggers["on_dead"].auto_complete is False


def test_a_missing_setting_is_named() -> None:
    with pytest.raises(TriggerConfigError, match="JOBS_QUEUE"):
        queue_triggers(FUNCTIONS, ServiceBusOptions(), {})


def test_text_without_expressions_is_kept() -> None:
    assert resolve_setting_expressions("plain-queue", {}) == "plain-queue"
    assert resolve_setting_expressions("%A%-%B%", {"A": "x", "B": "y"}) == "x-y"
