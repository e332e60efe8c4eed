"""Topics, subscriptions and rules in the official Config.json shape; errors name the field."""

from typing import Any

import pytest

from devstack.servicebus.config import ConfigError, parse_config
from devstack.servicebus.rules.filters import CorrelationFilter, SqlRule, TrueRule


def _document(topics: list[dict[str, Any]]) -> dict[str, Any]:
    namespace = {"Name": "ns", "Queues": [{"Name": "q"}], "Topics": topics}
    return {"UserConfig": {"Namespaces": [namespace]}}


OFFICIAL_SAMPLE = [
    {
        "Name": "topic.1",
        "Properties": {
            "DefaultMessageTimeToLive": "PT1H",
            "DuplicateDetectionHistoryTimeWindow": "PT20S",
            "RequiresDuplicateDetection": False,
        },
        "Subscriptions": [
            {
                "Name": "subscription.1",
                "Properties": {
                    "DeadLetteringOnMessageExpiration": False,
                    "DefaultMessageTimeToLive": "PT1H",
                    "LockDuration": "PT1M",
                    "MaxDeliveryCount": 3,
                    "ForwardDeadLetteredMessagesTo": "",
                    "ForwardTo": "",
                    "RequiresSession": False,
                },
                "Rules": [
                    {
                        "Name": "app-prop-filter-1",
                        "Properties": {
                            "FilterType": "Correlation",
                            "CorrelationFilter": {
                                "ContentType": "application/text",
                                "CorrelationId": "id1",
                                "Label": "subject1",
                                "MessageId": "msgid1",
                                "ReplyTo": "someQueue",
                                "ReplyToSessionId": "sessionId",
                                "SessionId": "session1",
                                "To": "xyz",
                                "Properties": {"prop1": "value1"},
                            },
                        },
                    }
                ],
            },
            {
                "Name": "subscription.2",
                "Properties": {"RequiresSession": True},
                "Rules": [
                    {
                        "Name": "sql-filter-1",
                        "Properties": {
                            "FilterType": "Sql",
                            "SqlFilter": {
                                "SqlExpression": "sys.MessageId = '123456' AND userProp1 = 'value1'"
                            },
                            "Action": {"SqlExpression": "SET userProp2 = 'value2'"},
                        },
                    }
                ],
            },
            {"Name": "subscription.3"},
        ],
    }
]


def test_the_official_emulators_topic_example_loads() -> None:
    config = parse_config(_document(OFFICIAL_SAMPLE))
    (topic,) = config.topics
    assert topic.name == "topic.1"
    assert topic.queue.default_ttl_s == 3600
    one, two, three = topic.subscriptions
    assert one.queue.max_delivery_count == 3
    assert isinstance(one.rules[0], CorrelationFilter)
    assert one.rules[0].wanted["sys.subject"] == "subject1"
    assert one.rules[0].wanted["user.prop1"] == "value1"
    assert two.queue.requires_session
    assert isinstance(two.rules[0], SqlRule)
    assert two.rules[0].matches({"sys.message_id": "123456", "user.userProp1": "value1"})
    assert two.rules[0].action is not None
    assert two.rules[0].action.apply({"a": 1}) == {"a": 1, "userProp2": "value2"}
    assert isinstance(three.rules[0], TrueRule)


def _sub(**entry: Any) -> list[dict[str, Any]]:
    return [{"Name": "t", "Subscriptions": [{"Name": "s", **entry}]}]


def _rule(**properties: Any) -> list[dict[str, Any]]:
    return _sub(Rules=[{"Name": "r", "Properties": properties}])


def _sql(expression: str, **more: Any) -> list[dict[str, Any]]:
    return _rule(FilterType="Sql", SqlFilter={"SqlExpression": expression}, **more)


@pytest.mark.parametrize(
    ("topics", "field"),
    [
        ([{"Name": "t", "Colour": 1}], r"\[0\]\.Colour"),
        ([{"Name": "t", "Properties": {"LockDuration": "PT1M"}}], r"Properties\.LockDuration"),
        ([{"Name": "t", "Subscriptions": [{"Name": "s"}, {"Name": "S"}]}], r"\[1\]\.Name"),
        ([{"Name": "t", "Subscriptions": [{"Name": "s" * 51}]}], r"Subscriptions\[0\]\.Name"),
        (_sub(Properties={"RequiresDuplicateDetection": True}), r"RequiresDuplicateDetection"),
        (_rule(FilterType="Regex"), r"Rules\[0\]\.Properties\.FilterType"),
        (_sql("a = = 1"), r"Rules\[0\]\.Properties\.SqlFilter\.SqlExpression"),
        (_sql("1=1", Action={"SqlExpression": "DROP a"}), r"Action\.SqlExpression"),
        (_rule(FilterType="Correlation", CorrelationFilter={}), r"CorrelationFilter"),
        ([{"Name": "t"}, {"Name": "T"}], r"\[1\]\.Name"),
    ],
)  # fmt: skip
def test_bad_topics_name_the_field(topics: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^UserConfig\.Namespaces\[0\]\.Topics.*{field}:"):
        parse_config(_document(topics))
