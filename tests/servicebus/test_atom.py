"""The management API's pure parts: first-byte classification, ATOM parsing and rendering,
SQL parameters, durations (admin_atom.py, atom.py, admin_entities.py, listener.py)."""

import xml.etree.ElementTree as ET

import pytest
from azure.servicebus.management._generated.models import RuleDescriptionEntry

from devstack.servicebus import atom
from devstack.servicebus.admin_entities import (
    BadEntityError,
    iso_duration,
    parse_rule,
    substitute,
    with_parameters,
)
from devstack.servicebus.config import parse_duration
from devstack.servicebus.listener import classify


def test_the_first_byte_tells_tls_from_amqp() -> None:
    assert classify(b"\x16\x03\x01") == "tls"
    assert classify(b"AMQP\x03\x01\x00\x00") == "amqp"
    assert classify(b"GET ") == "unknown"
    assert classify(b"") == "unknown"


@pytest.mark.parametrize("seconds", [0.5, 1, 59, 60, 61, 3600, 86400, 14 * 86400, 90061.25])
def test_durations_round_trip(seconds: float) -> None:
    assert parse_duration(iso_duration(seconds), "x") == pytest.approx(seconds)


def test_parameters_are_substituted_outside_string_literals() -> None:
    text = "a = @p AND b = '@p it''s' AND c = @Q"
    assert substitute(text, {"@p": "x'y", "@q": 2}) == "a = 'x''y' AND b = '@p it''s' AND c = 2"
    with pytest.raises(BadEntityError, match="@missing"):
        substitute("a = @missing", {"@p": 1})


def test_bodies_with_a_dtd_or_too_large_are_refused() -> None:
    with pytest.raises(BadEntityError, match="DTD"):
        atom.parse_body(b'<!DOCTYPE x [<!ENTITY e "e">]><entry>&e;</entry>')
    with pytest.raises(BadEntityError, match="larger"):
        atom.parse_body(b"<entry>" + b" " * atom.MAX_BODY_BYTES + b"</entry>")
    with pytest.raises(BadEntityError, match="malformed"):
        atom.parse_body(b"<entry>")


def _entry(inner: str) -> ET.Element:
    return atom.parse_body(
        (
            '<entry xmlns="http://www.w3.org/2005/Atom"><content type="application/xml">'
            f"{inner}</content></entry>"
        ).encode()
    )


def test_forwarding_targets_are_read_as_names() -> None:
    sb = 'xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"'
    element = atom.description(
        _entry(
            f"<QueueDescription {sb}><ForwardTo>sb://localhost:5672/elsewhere</ForwardTo>"
            "<ForwardDeadLetteredMessagesTo>parked</ForwardDeadLetteredMessagesTo>"
            "</QueueDescription>"
        )
    )
    assert atom.description_properties(element) == {
        "ForwardTo": "elsewhere",
        "ForwardDeadLetteredMessagesTo": "parked",
    }
    nested = atom.description(
        _entry(f"<QueueDescription {sb}><ForwardTo>sb://h/a/b</ForwardTo></QueueDescription>")
    )
    with pytest.raises(BadEntityError, match="ForwardTo"):
        atom.description_properties(nested)
    plain = atom.description(
        _entry(
            f"<QueueDescription {sb}><MaxDeliveryCount>4</MaxDeliveryCount>"
            "<RequiresSession>true</RequiresSession><ForwardTo/>"
            f"<AutoDeleteOnIdle>{atom.MAX_TIMESPAN}</AutoDeleteOnIdle>"
            f"<DefaultMessageTimeToLive>{atom.MAX_TIMESPAN}</DefaultMessageTimeToLive>"
            "</QueueDescription>"
        )
    )
    assert atom.description_properties(plain) == {"MaxDeliveryCount": 4, "RequiresSession": True}


def test_a_rule_answered_is_what_the_sdk_reads() -> None:
    sb = 'xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"'
    xsi = 'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
    sent = atom.description(
        _entry(
            f'<RuleDescription {sb} {xsi}><Filter i:type="SqlFilter">'
            "<SqlExpression>n = @n</SqlExpression><Parameters><KeyValueOfstringanyType>"
            '<Key>@n</Key><Value xmlns:d6p1="http://www.w3.org/2001/XMLSchema" '
            'i:type="d6p1:int">3</Value></KeyValueOfstringanyType></Parameters></Filter>'
            '<Action i:type="SqlRuleAction"><SqlExpression>SET seen = TRUE</SqlExpression>'
            "</Action><Name>r</Name></RuleDescription>"
        )
    )
    definition, original, parameters = atom.rule_definition(sent)
    rule = with_parameters(parse_rule(definition), original, parameters)
    assert rule.matches({"user.n": 3})
    assert not rule.matches({"user.n": 4})
    import datetime

    answer = atom.entry(
        "https://h/t/subscriptions/s/rules/r",
        "r",
        atom.rule_description(rule, datetime.datetime.now(datetime.UTC)),
        datetime.datetime.now(datetime.UTC),
    )
    parsed = RuleDescriptionEntry.deserialize(atom.parse_body(atom.to_bytes(answer)))
    description = parsed.content.rule_description
    assert description.name == "r"
    assert description.filter.sql_expression == "n = @n"
    assert description.action.sql_expression == "SET [seen] = TRUE"
