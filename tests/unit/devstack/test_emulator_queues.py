"""The emulator's config is devstack/servicebus/config.json plus function_app/queues.json's queues,
under the names the app settings give them; the emulator's own parser accepts the result."""

import json
from pathlib import Path

import pytest

from devstack.emulator_queues import (
    BASE_CONFIG,
    EmulatorQueuesError,
    emulator_config,
    main,
    write_emulator_config,
)
from devstack.servicebus.config import parse_config
from function_app.topology import duration_seconds, topology


def queues_of(document: dict[str, object]) -> dict[str, dict[str, object]]:
    (namespace,) = document["UserConfig"]["Namespaces"]  # type: ignore[index]
    return {q["Name"]: q["Properties"] for q in namespace["Queues"]}


def test_the_base_config_names_no_queue_the_topology_is_the_only_source() -> None:
    base = json.loads(BASE_CONFIG.read_text(encoding="utf-8"))
    (namespace,) = base["UserConfig"]["Namespaces"]
    assert namespace.get("Queues", []) == []


def test_each_queue_of_the_file_with_the_files_properties_under_the_files_name() -> None:
    document = emulator_config({})
    assert list(queues_of(document)) == [q.name for q in topology().queues]
    for properties in queues_of(document).values():
        assert properties == topology().queue_properties.as_service_bus()


def test_the_emulator_parses_it_into_the_files_values() -> None:
    config = parse_config(emulator_config({}))
    props = topology().queue_properties
    assert config.namespace == "sbemulatorns"
    assert [q.name for q in config.queues] == [q.name for q in topology().queues]
    for queue in config.queues:
        assert queue.lock_duration_s == duration_seconds(props.lock_duration)
        assert queue.max_delivery_count == props.max_delivery_count
        assert queue.default_ttl_s == duration_seconds(props.default_message_time_to_live)
        assert queue.dead_letter_on_expiration is props.dead_lettering_on_message_expiration
        assert queue.requires_duplicate_detection is props.requires_duplicate_detection
        assert queue.duplicate_window_s == duration_seconds(
            props.duplicate_detection_history_time_window
        )


def test_a_queue_renamed_by_its_setting_is_created_under_the_new_name() -> None:
    first, *rest = topology().queues
    names = list(queues_of(emulator_config({first.setting: "resume-analysis-eu"})))
    assert names == ["resume-analysis-eu", *(q.name for q in rest)]


def test_a_bad_or_shared_queue_name_is_refused_naming_the_setting() -> None:
    first, second = topology().queues[:2]
    with pytest.raises(EmulatorQueuesError, match=rf"^invalid app settings: {first.setting}: "):
        emulator_config({first.setting: "no spaces allowed"})
    with pytest.raises(EmulatorQueuesError, match=second.setting):
        emulator_config({first.setting: "same", second.setting: "SAME"})


def test_queues_of_the_base_config_are_kept_before_the_apps(tmp_path: Path) -> None:
    base = json.loads(BASE_CONFIG.read_text(encoding="utf-8"))
    base["UserConfig"]["Namespaces"][0]["Queues"] = [{"Name": "extra", "Properties": {}}]
    (tmp_path / "base.json").write_text(json.dumps(base), encoding="utf-8")
    document = emulator_config({}, base=tmp_path / "base.json")
    assert list(queues_of(document)) == ["extra", *(q.name for q in topology().queues)]


def test_written_for_the_process_environment_and_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = topology().queues[0]
    monkeypatch.setenv(first.setting, "from-the-environment")
    written = write_emulator_config(tmp_path / "a" / "sb.json")
    assert "from-the-environment" in queues_of(json.loads(written.read_text(encoding="utf-8")))
    assert main([str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text(encoding="utf-8")) == json.loads(
        written.read_text(encoding="utf-8")
    )
    monkeypatch.setenv(first.setting, "")
    assert main([str(tmp_path / "c.json")]) == 2
    assert not (tmp_path / "c.json").exists()
