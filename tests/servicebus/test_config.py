"""Config.json parsing: the official emulator format, and errors that name the field."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from devstack.servicebus.config import ConfigError, load_config, parse_config, parse_duration
from devstack.servicebus.launcher import EmulatorStartError, start_emulator

PROJECT_CONFIG = Path(__file__).resolve().parents[2] / "devstack/servicebus/config.json"


def _document(**properties: Any) -> dict[str, Any]:
    return {
        "UserConfig": {
            "Namespaces": [
                {"Name": "ns", "Queues": [{"Name": "q", "Properties": properties}]},
            ]
        }
    }


def test_project_config_declares_the_product_queues() -> None:
    config = load_config(PROJECT_CONFIG)
    assert config.namespace == "sbemulatorns"
    by_name = {q.name: q for q in config.queues}
    assert set(by_name) == {"resume-analysis", "document-analysis"}
    for queue in by_name.values():
        assert queue.lock_duration_s == 60
        assert queue.max_delivery_count == 5
        assert queue.default_ttl_s == 86400
        assert queue.dead_letter_on_expiration is True
        assert queue.requires_duplicate_detection is True
        assert queue.duplicate_window_s == 600


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
        ({"RequiresSession": True}, "Properties.RequiresSession"),
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
    topics["UserConfig"]["Namespaces"][0]["Topics"] = [{"Name": "t"}]
    with pytest.raises(ConfigError, match=r"Namespaces\[0\]\.Topics"):
        parse_config(topics)
    with pytest.raises(ConfigError, match="UserConfig"):
        parse_config({})
    duplicate = copy.deepcopy(good)
    duplicate["UserConfig"]["Namespaces"][0]["Queues"].append({"Name": "Q"})
    with pytest.raises(ConfigError, match=r"Queues\[1\]\.Name"):
        parse_config(duplicate)


def test_bad_config_stops_start_up_with_the_field_named(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_document(LockDuration="soon")), encoding="utf-8")
    log = tmp_path / "servicebus.log"
    with pytest.raises(EmulatorStartError, match="exit 2"):
        start_emulator(config, log_path=log, timeout=20)
    assert "Queues[0].Properties.LockDuration" in log.read_text(encoding="utf-8")


def test_unreadable_json_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON at line 1"):
        load_config(config)
