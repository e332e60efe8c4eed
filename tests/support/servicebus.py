"""Session fixture: one real Service Bus emulator on free ports, in a temp dir, stopped by pid.

The test topology gives each behaviour its own queue (short locks, a small MaxDeliveryCount,
TTL queues, duplicate detection) so tests never share messages; the project's own queues
from devstack/servicebus/config.json are included too.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.servicebus.launcher import EmulatorProcess, start_emulator

PROJECT_CONFIG = Path(__file__).resolve().parents[2] / "devstack/servicebus/config.json"

_SHORT_LOCK = {"LockDuration": "PT2S", "MaxDeliveryCount": 10}
TEST_QUEUES: dict[str, dict[str, Any]] = {
    "roundtrip": {},
    "batch": {},
    "scheduled": {},
    "receive-and-delete": {},
    "complete": {},
    "abandon": {},
    "dead-letter": {},
    "defer": {},
    "deferred-ttl": {"DeadLetteringOnMessageExpiration": True},
    "scheduled-past": {"DefaultMessageTimeToLive": "PT1M"},
    "renew": _SHORT_LOCK,
    "lock-expiry": _SHORT_LOCK,
    "receiver-dies": _SHORT_LOCK,
    "max-delivery": {"LockDuration": "PT2S", "MaxDeliveryCount": 2},
    "ttl-dead-letter": {
        "DefaultMessageTimeToLive": "PT1S",
        "DeadLetteringOnMessageExpiration": True,
    },
    "ttl-drop": {"DefaultMessageTimeToLive": "PT1S", "DeadLetteringOnMessageExpiration": False},
    "duplicates": {
        "RequiresDuplicateDetection": True,
        "DuplicateDetectionHistoryTimeWindow": "PT1M",
    },
    "peek": {},
    "sessions-refused": {},
    "stats": {},
    "async-roundtrip": {},
    "async-settle": _SHORT_LOCK,
    "async-schedule": {},
    "async-dead-letter": {},
    "async-fields": {},
    "async-renew": _SHORT_LOCK,
    "async-max-delivery": {"LockDuration": "PT2S", "MaxDeliveryCount": 2},
    "async-ttl-dead-letter": {
        "DefaultMessageTimeToLive": "PT1S",
        "DeadLetteringOnMessageExpiration": True,
    },
    "async-receive-and-delete": {},
    "async-scheduled-arrival": {},
    "async-duplicates": {
        "RequiresDuplicateDetection": True,
        "DuplicateDetectionHistoryTimeWindow": "PT1M",
    },
    "bench": {},
}


def emulator_test_config() -> dict[str, Any]:
    """The emulator config the session fixture runs: test queues plus the project's."""
    project = json.loads(PROJECT_CONFIG.read_text(encoding="utf-8"))
    namespace = project["UserConfig"]["Namespaces"][0]
    queues = [{"Name": name, "Properties": props} for name, props in TEST_QUEUES.items()]
    namespace["Queues"] = queues + namespace["Queues"]
    return project


@pytest.fixture(scope="session")
def servicebus_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    workdir: Path = tmp_path_factory.mktemp("servicebus")
    config = workdir / "config.json"
    config.write_text(json.dumps(emulator_test_config(), indent=2), encoding="utf-8")
    process = start_emulator(config, log_path=workdir / "servicebus.log")
    try:
        yield process
    finally:
        process.stop()
