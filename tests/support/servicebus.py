"""Session fixture: one real Service Bus emulator on free ports, in a temp dir, stopped by pid.

The test topology gives each behaviour its own queue (short locks, a small MaxDeliveryCount,
TTL queues, duplicate detection) so tests never share messages; the project's own queues
are included too, from function_app/queues.json under the file's names, as devstack builds
them (`devstack.emulator_queues.emulator_config`).
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.emulator_queues import emulator_config, write_emulator_config
from devstack.servicebus.launcher import EmulatorProcess, start_emulator

_SHORT_LOCK = {"LockDuration": "PT2S", "MaxDeliveryCount": 10}
# 5 s: the SDK's renewer renews at 0.75 x the whole seconds left; with 2 s locks the async
# renewer (which wakes every second) lets the lock lapse before it looks again, and with 3 s
# ten renewer threads on a loaded two-core machine once renewed too late (a full-suite flake).
_RENEWER_LOCK = {"LockDuration": "PT5S", "MaxDeliveryCount": 10}
_DEDUP = {"RequiresDuplicateDetection": True, "DuplicateDetectionHistoryTimeWindow": "PT10M"}
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
    "bodies": {},
    "sessions": {"RequiresSession": True, "LockDuration": "PT5S"},
    "sessions-lock": {"RequiresSession": True, "LockDuration": "PT5S"},
    "sessions-next": {"RequiresSession": True},
    "sessions-empty": {"RequiresSession": True},
    "async-sessions": {"RequiresSession": True},
    "async-bodies": {},
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
    # concurrency conformance (tests/servicebus/test_concurrency.py): locks short enough that
    # the SDK's AutoLockRenewer really renews while the test holds each message past its lock
    "renewer-sync": _RENEWER_LOCK,
    "renewer-async": _RENEWER_LOCK,
    # Coroutines sharing one sender make azure-servicebus 7.15 re-send the same message many
    # times (send_async + update_pending_deliveries racing on `delivery.sent`: 64 gathered sends
    # put ~4,000 transfers on the wire); Azure would store every copy. Duplicate detection by
    # message_id, as in Azure, makes each message arrive once.
    "gather-one-sender": _DEDUP,
    "gather-many-senders": _DEDUP,
    "gathered-rounds": _DEDUP,
    # auto-forwarding (tests/servicebus/test_forwarding.py)
    "fwd-source": {"ForwardTo": "fwd-target"},
    "fwd-target": {},
    "async-fwd-source": {"ForwardTo": "async-fwd-target"},
    "async-fwd-target": {},
    "fwd-dlq-source": {"MaxDeliveryCount": 1, "ForwardDeadLetteredMessagesTo": "fwd-dlq-target"},
    "fwd-dlq-target": {},
    "fwd-loop-a": {"ForwardTo": "fwd-loop-b"},
    "fwd-loop-b": {"ForwardTo": "fwd-loop-a"},
    "fwd-to-topic": {"ForwardTo": "fwd-topic"},
    "fwd-sub-target": {},
    "fwd-to-session": {"ForwardTo": "fwd-session-target"},
    "fwd-session-target": {"RequiresSession": True},
    "fwd-scheduled": {"ForwardTo": "fwd-scheduled-target"},
    "fwd-scheduled-target": {},
    # listing sessions (tests/servicebus/test_list_sessions.py)
    "sessions-list": {"RequiresSession": True},
    "sessions-list-pages": {"RequiresSession": True},
    "async-sessions-list": {"RequiresSession": True},
}


def _sql(name: str, expression: str, action: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"FilterType": "Sql", "SqlFilter": {"SqlExpression": expression}}
    if action is not None:
        properties["Action"] = {"SqlExpression": action}
    return {"Name": name, "Properties": properties}


# tests/servicebus/test_topics.py: one topic per behaviour
TEST_TOPICS: list[dict[str, Any]] = [
    {
        "Name": "topic-rules",
        "Subscriptions": [
            {"Name": "all"},
            {
                "Name": "red-orders",
                "Rules": [
                    _sql("red", "color = 'red' AND sys.Label LIKE 'order%'", "SET routed = 'red'")
                ],
            },
            {
                "Name": "vip",
                "Rules": [
                    {
                        "Name": "vip",
                        "Properties": {
                            "FilterType": "Correlation",
                            "CorrelationFilter": {
                                "CorrelationId": "vip",
                                "Properties": {"tier": "gold"},
                            },
                        },
                    }
                ],
            },
            {"Name": "big", "Rules": [_sql("big", "size >= 10 OR size IN (3, 4)")]},
        ],
    },
    {
        "Name": "topic-dead-letter",
        "Subscriptions": [
            {"Name": "one", "Properties": {"MaxDeliveryCount": 1, "LockDuration": "PT5S"}},
            {"Name": "two"},
        ],
    },
    {"Name": "async-topic", "Subscriptions": [{"Name": "all"}]},
    {
        "Name": "topic-sessions",
        "Subscriptions": [{"Name": "by-session", "Properties": {"RequiresSession": True}}],
    },
    {
        "Name": "fwd-topic",
        "Subscriptions": [
            {"Name": "all"},
            {"Name": "onward", "Properties": {"ForwardTo": "fwd-sub-target"}},
        ],
    },
    {
        "Name": "topic-sequence",
        "Subscriptions": [{"Name": "all"}, {"Name": "some", "Rules": [_sql("some", "n > 1")]}],
    },
    {
        "Name": "topic-list-sessions",
        "Subscriptions": [{"Name": "by-session", "Properties": {"RequiresSession": True}}],
    },
]


def emulator_test_config() -> dict[str, Any]:
    """The emulator config the session fixture runs: test queues plus the project's."""
    project = emulator_config(environ={})  # no queue-name setting: the file's names
    namespace = project["UserConfig"]["Namespaces"][0]
    queues = [{"Name": name, "Properties": props} for name, props in TEST_QUEUES.items()]
    namespace["Queues"] = queues + namespace["Queues"]
    namespace["Topics"] = TEST_TOPICS + namespace.get("Topics", [])
    return project


def project_emulator_config(workdir: Path) -> Path:
    """The config `python -m devstack` runs the emulator with (the project's queues under the
    file's names), written under `workdir`, for tests that start an emulator of their own."""
    return write_emulator_config(workdir / "servicebus-config.json", environ={})


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
