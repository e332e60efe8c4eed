"""function_app/queues.json and its loader: the shipped file is valid, and every kind of bad
file is refused with one line naming the file and the field."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from function_app.topology import (
    TOPOLOGY_FILE,
    TopologyError,
    duration_seconds,
    load_topology,
    topology,
)

SHIPPED: dict[str, Any] = json.loads(TOPOLOGY_FILE.read_text(encoding="utf-8"))


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "queues.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), "utf-8")
    return path


def changed(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    document = copy.deepcopy(SHIPPED)
    change(document)
    return document


def test_the_shipped_file_loads_and_is_what_the_loader_caches() -> None:
    loaded = load_topology()
    assert loaded == topology()
    assert [q.name for q in loaded.queues] == [q["name"] for q in SHIPPED["queues"]]
    assert loaded.job_names_by_queue() == {
        q["name"]: tuple(q["jobNames"]) for q in SHIPPED["queues"]
    }
    assert loaded.queue_properties.as_service_bus() == SHIPPED["queueProperties"]
    assert loaded.max_delivery_count == SHIPPED["queueProperties"]["MaxDeliveryCount"]


def test_the_shipped_file_is_inside_the_package_that_is_deployed() -> None:
    assert TOPOLOGY_FILE.parent.name == "function_app"
    assert TOPOLOGY_FILE.name == "queues.json"


def test_a_queue_binds_its_setting_as_a_binding_expression() -> None:
    queue = topology().queues[0]
    assert queue.binding == f"%{queue.setting}%"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set `a.b[1].c` in the document to `value`."""

    def change(document: dict[str, Any]) -> None:
        *parents, last = path.replace("[", ".").replace("]", "").split(".")
        node: Any = document
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    section, key = path.split(".")
    return lambda document: document[section].pop(key)


BAD_FILES: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "unknown top-level key": (_set("queue", []), "queue: unknown field (known: $comment,"),
    "unknown queue key": (_set("queues[1].jobs", ["x"]), "queues[1].jobs: unknown field"),
    "unknown property": (
        _set("queueProperties.MaxDeliveries", 3),
        "queueProperties.MaxDeliveries: unknown field (known: LockDuration,",
    ),
    "missing property": (
        _drop("queueProperties.LockDuration"),
        "queueProperties.LockDuration: missing",
    ),
    "no queues": (_set("queues", []), "queues: empty: the app needs at least one queue"),
    "empty job list": (
        _set("queues[1].jobNames", []),
        "queues[1].jobNames: empty: a queue accepts at least one job name",
    ),
    "queue named twice": (
        _set("queues[1].name", SHIPPED["queues"][0]["name"]),
        f"queues[1].name: {SHIPPED['queues'][0]['name']!r} is listed twice (queues[0])",
    ),
    "setting on two queues": (
        _set("queues[1].setting", SHIPPED["queues"][0]["setting"]),
        "queues[1].setting: ",
    ),
    "job name on two queues": (
        _set("queues[1].jobNames", SHIPPED["queues"][0]["jobNames"]),
        f"queues[1].jobNames: {SHIPPED['queues'][0]['jobNames'][0]!r} is accepted by queues[0]",
    ),
    "job name twice on one queue": (
        _set("queues[0].jobNames", ["a-job", "a-job"]),
        "queues[0].jobNames: 'a-job' listed twice",
    ),
    "queue name with capitals": (
        _set("queues[0].name", "Resume_Analysis"),
        "queues[0].name: 'Resume_Analysis' is not a queue name here: lowercase letters,",
    ),
    "setting in lowercase": (
        _set("queues[0].setting", "resume"),
        "queues[0].setting: 'resume' is not an app setting name here: capital letters,",
    ),
    "job name with a space": (
        _set("queues[0].jobNames", ["a job"]),
        "queues[0].jobNames: 'a job' is not a job name (lowercase letters, digits and '-')",
    ),
    "count as a string": (
        _set("queueProperties.MaxDeliveryCount", "5"),
        "queueProperties.MaxDeliveryCount: Input should be a valid integer",
    ),
    "count of zero": (_set("queueProperties.MaxDeliveryCount", 0), "MaxDeliveryCount: "),
    "flag as a string": (
        _set("queueProperties.RequiresDuplicateDetection", "true"),
        "queueProperties.RequiresDuplicateDetection: ",
    ),
    "lock over five minutes": (
        _set("queueProperties.LockDuration", "PT6M"),
        "queueProperties.LockDuration: 'PT6M' is out of range",
    ),
    "not a duration": (
        _set("queueProperties.DefaultMessageTimeToLive", "a day"),
        "queueProperties.DefaultMessageTimeToLive: 'a day' is not an ISO 8601 duration",
    ),
    "duplicate window too short": (
        _set("queueProperties.DuplicateDetectionHistoryTimeWindow", "PT5S"),
        "DuplicateDetectionHistoryTimeWindow: 'PT5S' is out of range: from PT20S to P7D",
    ),
    "sessions": (
        _set("queueProperties.RequiresSession", True),
        "queueProperties.RequiresSession: must be false",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_naming_the_file_and_the_field(tmp_path: Path, case: str) -> None:
    change, expected = BAD_FILES[case]
    path = write(tmp_path, changed(change))
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "not JSON: Expecting property name"),
        ('{"queues": [], "queues": []}', "'queues' appears twice in one object"),
        ("[]", "expected one JSON object"),
    ],
)
def test_text_that_is_no_topology_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TopologyError, match=r"queues\.json: ") as caught:
        load_topology(path)
    assert expected in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match=r"nowhere\.json: cannot be read"):
        load_topology(tmp_path / "nowhere.json")


def test_the_shipped_file_is_named_relative_to_the_app_root(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology(TOPOLOGY_FILE.with_name("no-such-topology.json"))
    assert str(caught.value).startswith("function_app/no-such-topology.json: ")


def test_names_in_use_follow_the_settings_and_default_to_the_file() -> None:
    first, second = topology().queues[:2]
    assert topology().names_in_use(lambda setting: None) == {
        q.name: q.name for q in topology().queues
    }
    renamed = topology().names_in_use({first.setting: "team.jobs/resume"}.get)
    assert renamed[first.name] == "team.jobs/resume"
    assert renamed[second.name] == second.name


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty: set it to a queue name, or leave it unset for"),
        ("  ", "empty:"),
        ("has space", "not a queue name"),
        ("-leading", "not a queue name"),
        ("x" * 261, "not a queue name"),
        (7, "empty:"),
    ],
)
def test_a_setting_that_names_no_queue_is_refused_naming_it(value: object, problem: str) -> None:
    queue = topology().queues[0]
    with pytest.raises(ValueError, match="^" + queue.setting + ": ") as caught:
        topology().names_in_use({queue.setting: value}.get)
    assert problem in str(caught.value)
    if isinstance(value, str) and value.strip():
        assert value not in str(caught.value)  # app settings are not echoed


def test_two_queues_given_one_name_are_refused() -> None:
    first, second = topology().queues[:2]
    with pytest.raises(ValueError) as caught:
        topology().names_in_use({second.setting: first.name.upper()}.get)
    assert str(caught.value).startswith(
        f"{second.setting}: names the same queue as {first.setting}"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT1M", 60), ("P1D", 86400), ("PT10M", 600), ("PT0.5S", 0.5), ("P1DT1H", 90000)],
)
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["P", "PT", "P1DT", "1M", "PT1H30", "pt1m", ""])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 duration"):
        duration_seconds(text)
