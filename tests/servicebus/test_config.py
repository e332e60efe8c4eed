"""Config.json parsing: the official emulator format, and errors that name the field."""

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devstack.servicebus.config import ConfigError, load_config, parse_config, parse_duration
from devstack.servicebus.launcher import PROJECT_ROOT, EmulatorStartError, start_emulator
from function_app.topology import topology
from tests.support.servicebus import project_emulator_config


def _document(**properties: Any) -> dict[str, Any]:
    return {
        "UserConfig": {
            "Namespaces": [
                {"Name": "ns", "Queues": [{"Name": "q", "Properties": properties}]},
            ]
        }
    }


def test_the_project_config_is_the_app_topology_and_the_emulator_loads_it(
    tmp_path: Path,
) -> None:
    """What `python -m devstack` starts the emulator with (devstack/emulator_queues.py)."""
    config = load_config(project_emulator_config(tmp_path))
    assert config.namespace == "sbemulatorns"
    assert [q.name for q in config.queues] == [q.name for q in topology().queues]
    props = topology().queue_properties
    for queue in config.queues:
        assert queue.lock_duration_s == parse_duration(props.lock_duration, "f")
        assert queue.max_delivery_count == props.max_delivery_count


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT1M", 60), ("P1D", 86400), ("PT2S", 2), ("PT0.5S", 0.5), ("P1DT1H", 90000),
     ("00:01:30", 90), ("1.00:00:00", 86400)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "f") == seconds


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"LockDuration": "1 minute"}, "Properties.LockDuration"),
        ({"LockDuration": "PT10M"}, "Properties.LockDuration"),
        ({"MaxDeliveryCount": 0}, "Properties.MaxDeliveryCount"),
        ({"MaxDeliveryCount": "5"}, "Properties.MaxDeliveryCount"),
        ({"DefaultMessageTimeToLive": "PT0S"}, "Properties.DefaultMessageTimeToLive"),
        ({"RequiresDuplicateDetection": "yes"}, "Properties.RequiresDuplicateDetection"),
        ({"RequiresSession": "true"}, "Properties.RequiresSession"),
        ({"ForwardTo": "other"}, "Properties.ForwardTo"),
        ({"Colour": "blue"}, "Properties.Colour"),
    ],
)
def test_bad_queue_property_names_the_field(properties: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"UserConfig\.Namespaces\[0\]\.Queues\[0\]\.{field}"):
        parse_config(_document(**properties))


def test_structural_errors_name_the_field() -> None:
    good = _document()
    missing_name = copy.deepcopy(good)
    del missing_name["UserConfig"]["Namespaces"][0]["Queues"][0]["Name"]
    with pytest.raises(ConfigError, match=r"Queues\[0\]\.Name"):
        parse_config(missing_name)
    topics = copy.deepcopy(good)
    topics["UserConfig"]["Namespaces"][0]["Topics"] = [{"Name": "q"}]  # the queue's name
    with pytest.raises(ConfigError, match=r"Namespaces\[0\]\.Topics\[0\]\.Name"):
        parse_config(topics)
    with pytest.raises(ConfigError, match="UserConfig"):
        parse_config({})
    duplicate = copy.deepcopy(good)
    duplicate["UserConfig"]["Namespaces"][0]["Queues"].append({"Name": "Q"})
    with pytest.raises(ConfigError, match=r"Queues\[1\]\.Name"):
        parse_config(duplicate)


def _valid() -> dict[str, Any]:
    """Every level of the format filled in, as the project's config does."""
    return {
        "UserConfig": {
            "Namespaces": [
                {
                    "Name": "ns",
                    "Queues": [
                        {"Name": "first", "Properties": {"LockDuration": "PT1M"}},
                        {"Name": "second", "Properties": {"MaxDeliveryCount": 3}},
                    ],
                    "Topics": [],
                }
            ],
            "Logging": {"Type": "File"},
        }
    }


def test_every_level_of_a_full_document_is_accepted() -> None:
    config = parse_config(_valid())
    assert [q.name for q in config.queues] == ["first", "second"]
    assert config.queues[1].max_delivery_count == 3


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ((), "Extra"),
        (("UserConfig",), "UserConfig.Extra"),
        (("UserConfig", "Logging"), "UserConfig.Logging.Extra"),
        (("UserConfig", "Namespaces", 0), "UserConfig.Namespaces[0].Extra"),
        (("UserConfig", "Namespaces", 0, "Queues", 1), "UserConfig.Namespaces[0].Queues[1].Extra"),
        (
            ("UserConfig", "Namespaces", 0, "Queues", 1, "Properties"),
            "UserConfig.Namespaces[0].Queues[1].Properties.Extra",
        ),
    ],
)
def test_an_unknown_key_is_refused_at_every_level(where: tuple[str | int, ...], path: str) -> None:
    document = _valid()
    node: Any = document
    for step in where:
        node = node[step]
    node["Extra"] = 1
    with pytest.raises(ConfigError, match=rf"^{re.escape(path)}: unknown field"):
        parse_config(document)


def test_a_misspelt_properties_key_is_named_not_ignored() -> None:
    document = _valid()
    queue = document["UserConfig"]["Namespaces"][0]["Queues"][1]
    queue["Propertis"] = queue.pop("Properties")
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    assert str(caught.value).startswith(
        "UserConfig.Namespaces[0].Queues[1].Propertis: unknown field"
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("orders/eu", "contains '/'"),
        ("/orders", "contains '/'"),
        ("orders/$DeadLetterQueue", "contains '/'"),
        ("$management", "not a valid queue name"),
        ("with space", "not a valid queue name"),
        ("-leading", "not a valid queue name"),
        ("trailing.", "not a valid queue name"),
        ("caf\u00e9", "not a valid queue name"),
        ("q" * 261, "longer than 260"),
    ],
)
def test_queue_names_the_emulator_cannot_serve_are_refused(name: str, why: str) -> None:
    document = _valid()
    document["UserConfig"]["Namespaces"][0]["Queues"][1]["Name"] = name
    with pytest.raises(
        ConfigError, match=r"^UserConfig\.Namespaces\[0\]\.Queues\[1\]\.Name: "
    ) as caught:
        parse_config(document)
    assert why in str(caught.value)


@pytest.mark.parametrize("name", ["a", "orders.v2", "resume_analysis", "A-1", "q" * 260])
def test_names_azure_allows_without_a_slash_are_accepted(name: str) -> None:
    document = _valid()
    document["UserConfig"]["Namespaces"][0]["Queues"][1]["Name"] = name
    assert parse_config(document).queues[1].name == name


@pytest.mark.parametrize(
    ("where", "key", "value", "message"),
    [
        (("UserConfig",), "Namespaces", None, "UserConfig.Namespaces: expected a list, got null"),
        (
            ("UserConfig", "Namespaces", 0),
            "Queues",
            {"Name": "q"},
            "UserConfig.Namespaces[0].Queues: expected a list, got object",
        ),
        (
            ("UserConfig", "Namespaces", 0),
            "Name",
            7,
            "UserConfig.Namespaces[0].Name: expected a string, got number 7",
        ),
        (
            ("UserConfig", "Namespaces", 0, "Queues"),
            1,
            "second",
            "UserConfig.Namespaces[0].Queues[1]: expected an object, got string 'second'",
        ),
        (
            ("UserConfig", "Namespaces", 0, "Queues", 1),
            "Properties",
            [],
            "UserConfig.Namespaces[0].Queues[1].Properties: expected an object, got list",
        ),
        (
            ("UserConfig", "Namespaces", 0, "Queues", 1, "Properties"),
            "RequiresSession",
            "false",
            "Queues[1].Properties.RequiresSession: expected true or false, got string 'false'",
        ),
        (
            ("UserConfig", "Logging"),
            "Type",
            "Syslog",
            "UserConfig.Logging.Type: expected one of Console, File, got 'Syslog'",
        ),
    ],
)
def test_a_wrong_type_is_named_with_what_was_expected(
    where: tuple[str | int, ...], key: str | int, value: Any, message: str
) -> None:
    document = _valid()
    node: Any = document
    for step in where:
        node = node[step]
    node[key] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(document)


@pytest.mark.parametrize(
    ("where", "key", "message"),
    [
        ((), "UserConfig", "UserConfig: missing"),
        (("UserConfig",), "Namespaces", "UserConfig.Namespaces: missing"),
        (("UserConfig", "Namespaces", 0), "Name", "UserConfig.Namespaces[0].Name: missing"),
        (("UserConfig", "Namespaces", 0), "Queues", "UserConfig.Namespaces[0].Queues: missing"),
        (
            ("UserConfig", "Namespaces", 0, "Queues", 1),
            "Name",
            "UserConfig.Namespaces[0].Queues[1].Name: missing",
        ),
    ],
)
def test_a_missing_required_field_is_named(
    where: tuple[str | int, ...], key: str, message: str
) -> None:
    document = _valid()
    node: Any = document
    for step in where:
        node = node[step]
    del node[key]
    with pytest.raises(ConfigError, match=rf"^{re.escape(message)}"):
        parse_config(document)


def test_bad_config_stops_start_up_with_the_field_named(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_document(LockDuration="soon")), encoding="utf-8")
    log = tmp_path / "servicebus.log"
    with pytest.raises(EmulatorStartError, match="exit 2"):
        start_emulator(config, log_path=log, timeout=20)
    assert "Queues[0].Properties.LockDuration" in log.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["UserConfig"]["Namespaces"][0]["Queues"][1].update(Propertis={}),
            "bad config: UserConfig.Namespaces[0].Queues[1].Propertis: unknown field",
        ),
        (
            lambda d: d["UserConfig"]["Namespaces"][0]["Queues"][0].update(Name="orders/eu"),
            "bad config: UserConfig.Namespaces[0].Queues[0].Name: 'orders/eu' contains '/'",
        ),
        (
            lambda d: d["UserConfig"]["Namespaces"][0].pop("Queues"),
            "bad config: UserConfig.Namespaces[0].Queues: missing",
        ),
    ],
)
def test_the_process_refuses_each_kind_of_bad_config_with_exit_2(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], object], expected: str
) -> None:
    document = _valid()
    mutate(document)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(document), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "devstack.servicebus", "--port", "0", "--admin-port", "0",
         "--config", str(config)],
        capture_output=True, text=True, timeout=30, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert done.stdout == ""  # never got as far as listening
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback


def test_unreadable_json_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON at line 1"):
        load_config(config)
