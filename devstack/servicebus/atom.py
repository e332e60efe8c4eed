"""The ATOM XML of Service Bus's management REST API, as azure-servicebus 7.15 reads and writes it
(``azure/servicebus/management/_generated/models``): pure functions, no sockets.

Requests are parsed by local names (the SDK strips its ``ns1:`` prefixes, so the namespaces
vary) with the standard library's expat, after a size bound and a refusal of any DTD (no
entity can be declared, so none can expand). Answers carry the namespaces Azure uses: ATOM for
``entry``/``feed``, ``.../2010/10/servicebus/connect`` for the descriptions and
``.../2011/06/servicebus`` for ``CountDetails``.
"""

import datetime
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote, urlsplit

from .admin_entities import (
    CORRELATION_FIELDS,
    BadEntityError,
    ParameterizedSqlRule,
    is_false_rule,
    is_true_rule,
    substitute,
)
from .rules.filters import CorrelationFilter, Rule, SqlRule
from .topic_config import SUBSCRIPTION_PROPERTIES, TOPIC_PROPERTIES

ATOM = "http://www.w3.org/2005/Atom"
SB = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"
SB2011 = "http://schemas.microsoft.com/netservices/2011/06/servicebus"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
MAX_BODY_BYTES = 256 * 1024
MAX_TIMESPAN = "P10675199DT2H48M5.4775807S"  # TimeSpan.MaxValue: "never", as Azure writes it

ET.register_namespace("", ATOM)
ET.register_namespace("i", XSI)
ET.register_namespace("sb", SB)
ET.register_namespace("d2p1", SB2011)

# XML element -> Config.json property (and its kind), for each description
_DURATION, _BOOL, _INT, _ENTITY = "duration", "bool", "int", "entity"
_QUEUE_FIELDS = {
    "LockDuration": _DURATION,
    "MaxDeliveryCount": _INT,
    "DefaultMessageTimeToLive": _DURATION,
    "DeadLetteringOnMessageExpiration": _BOOL,
    "RequiresDuplicateDetection": _BOOL,
    "DuplicateDetectionHistoryTimeWindow": _DURATION,
    "RequiresSession": _BOOL,
    "ForwardTo": _ENTITY,
    "ForwardDeadLetteredMessagesTo": _ENTITY,
}
# a topic's and a subscription's: the properties their Config.json entries take
_TOPIC_FIELDS = {k: kind for k, kind in _QUEUE_FIELDS.items() if k in TOPIC_PROPERTIES}
_SUBSCRIPTION_FIELDS = {
    k: kind for k, kind in _QUEUE_FIELDS.items() if k in SUBSCRIPTION_PROPERTIES
}
FIELDS = {
    "QueueDescription": _QUEUE_FIELDS,
    "TopicDescription": _TOPIC_FIELDS,
    "SubscriptionDescription": _SUBSCRIPTION_FIELDS,
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _xsi_type(element: ET.Element) -> str:
    for key, value in element.attrib.items():
        if _local(key) == "type":
            return value.rsplit(":", 1)[-1]
    return ""


def parse_body(body: bytes) -> ET.Element:
    """The request's root element; BadEntityError when it is not small, DTD-free XML."""
    if len(body) > MAX_BODY_BYTES:
        raise BadEntityError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if b"<!" in body:  # DOCTYPE / ENTITY (CDATA is never sent by the SDK)
        raise BadEntityError("XML with a DTD or CDATA is not accepted")
    try:
        # bounded above, no DTD (so no entity to expand), expat 2.6 as the parser
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise BadEntityError(f"malformed XML: {exc}") from exc


def description(entry: ET.Element) -> ET.Element:
    """``entry/content/<XDescription>``."""
    content = _child(entry, "content") if _local(entry.tag) == "entry" else None
    inner = next(iter(content), None) if content is not None else None
    if inner is None:
        raise BadEntityError("expected an ATOM entry with a description in its content")
    return inner


def description_properties(element: ET.Element) -> dict[str, Any]:
    """A Queue/Topic/SubscriptionDescription as Config.json properties."""
    fields = FIELDS.get(_local(element.tag))
    if fields is None:
        raise BadEntityError(f"unexpected {_local(element.tag)}")
    out: dict[str, Any] = {}
    for name, kind in fields.items():
        child = _child(element, name)
        text = (child.text or "").strip() if child is not None else ""
        if not text:
            continue
        if kind == _BOOL:
            if text.lower() not in ("true", "false"):
                raise BadEntityError(f"{name}: expected true or false, got {text!r}")
            out[name] = text.lower() == "true"
        elif kind == _ENTITY:
            out[name] = entity_name(text, name)
        elif kind == _INT:
            try:
                out[name] = int(text)
            except ValueError:
                raise BadEntityError(f"{name}: expected an integer, got {text!r}") from None
        elif text != MAX_TIMESPAN:  # "never": the emulator's own default instead
            out[name] = text
    return out


def entity_name(text: str, field: str) -> str:
    """A forwarding target as the SDK sends it, ``sb://{namespace}/{name}`` (it prefixes a
    plain name), or a plain name: the entity's name. Any host is taken as this namespace."""
    name = unquote(urlsplit(text).path).strip("/") if "://" in text else text
    if not name or "/" in name:
        raise BadEntityError(f"{field}: expected a queue or topic name, got {text!r}")
    return name


def forward_address(base: str, name: str) -> str:
    """A forwarding target as Azure answers it: ``sb://{host}/{name}``."""
    return f"sb://{urlsplit(base).netloc}/{name}"


def _forwarding(element: ET.Element, properties: dict[str, Any], key: str, base: str) -> None:
    name = properties.get(key)
    if name:
        _sub(element, key, forward_address(base, name))


# ---- rules -----------------------------------------------------------------------------------
def _key_values(element: ET.Element | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if element is None:
        return out
    for pair in element:
        key, value = _child(pair, "Key"), _child(pair, "Value")
        if key is None or value is None or not key.text:
            continue
        kind, text = _xsi_type(value), value.text or ""
        if kind in ("int", "long"):
            out[key.text] = int(text)
        elif kind == "double":
            out[key.text] = float(text)
        elif kind == "boolean":
            out[key.text] = text.lower() == "true"
        else:
            out[key.text] = text
    return out


def rule_definition(
    element: ET.Element, name: str | None = None
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A RuleDescription as a Config.json rule (TrueFilter/FalseFilter as SQL 1=1/1=0, as
    Azure stores them; parameters substituted), with the SQL filter's own text and parameters
    (empty for other filters), which Azure answers as they were sent."""
    original, parameters = "", {}
    rule_name = name
    name_element = _child(element, "Name")
    if name_element is not None and name_element.text:
        rule_name = rule_name or name_element.text
    props: dict[str, Any]
    filter_element = _child(element, "Filter")
    kind = _xsi_type(filter_element) if filter_element is not None else "TrueFilter"
    if kind in ("TrueFilter", "FalseFilter"):
        sql = "1=1" if kind == "TrueFilter" else "1=0"
        props = {"FilterType": "Sql", "SqlFilter": {"SqlExpression": sql}}
    elif kind == "SqlFilter":
        assert filter_element is not None
        expression = _child(filter_element, "SqlExpression")
        text = (expression.text or "") if expression is not None else ""
        original, parameters = text, _key_values(_child(filter_element, "Parameters"))
        props = {"FilterType": "Sql", "SqlFilter": {"SqlExpression": substitute(text, parameters)}}
    elif kind == "CorrelationFilter":
        assert filter_element is not None
        fields: dict[str, Any] = {}
        for field, _key in CORRELATION_FIELDS:
            child = _child(filter_element, field)
            if child is not None and child.text:
                fields[field] = child.text
        user = _key_values(_child(filter_element, "Properties"))
        if user:
            fields["Properties"] = user
        props = {"FilterType": "Correlation", "CorrelationFilter": fields}
    else:
        raise BadEntityError(f"filter type {kind!r} is not supported")
    action = _child(element, "Action")
    if action is not None and _xsi_type(action) == "SqlRuleAction":
        expression = _child(action, "SqlExpression")
        text = (expression.text or "") if expression is not None else ""
        action_parameters = _key_values(_child(action, "Parameters"))
        if text.strip():
            props["Action"] = {"SqlExpression": substitute(text, action_parameters)}
    return {"Name": rule_name, "Properties": props}, original, parameters


# ---- answers ---------------------------------------------------------------------------------
def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sub(parent: ET.Element, name: str, text: Any = None, ns: str = SB) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        element.text = ("true" if text else "false") if isinstance(text, bool) else str(text)
    return element


def _count_details(parent: ET.Element, runtime: dict[str, int]) -> None:
    details = _sub(parent, "CountDetails")
    _sub(details, "ActiveMessageCount", runtime.get("activeMessageCount", 0), SB2011)
    _sub(details, "DeadLetterMessageCount", runtime.get("deadLetterMessageCount", 0), SB2011)
    _sub(details, "ScheduledMessageCount", runtime.get("scheduledMessageCount", 0), SB2011)
    _sub(details, "TransferMessageCount", 0, SB2011)
    _sub(details, "TransferDeadLetterMessageCount", 0, SB2011)


def queue_description(
    properties: dict[str, Any],
    runtime: dict[str, int],
    times: tuple[datetime.datetime, ...],
    base: str = "https://localhost",
) -> ET.Element:
    """Element order as Azure's (the SDK reads by name, other clients by position)."""
    created, updated, accessed = (_stamp(t) for t in times)
    element = ET.Element(f"{{{SB}}}QueueDescription")
    _sub(element, "LockDuration", properties["LockDuration"])
    _sub(element, "MaxSizeInMegabytes", 1024)
    _sub(element, "RequiresDuplicateDetection", properties["RequiresDuplicateDetection"])
    _sub(element, "RequiresSession", properties["RequiresSession"])
    _sub(element, "DefaultMessageTimeToLive", properties["DefaultMessageTimeToLive"])
    _sub(
        element,
        "DeadLetteringOnMessageExpiration",
        properties["DeadLetteringOnMessageExpiration"],
    )
    _sub(
        element,
        "DuplicateDetectionHistoryTimeWindow",
        properties["DuplicateDetectionHistoryTimeWindow"],
    )
    _sub(element, "MaxDeliveryCount", properties["MaxDeliveryCount"])
    _sub(element, "EnableBatchedOperations", True)
    _sub(element, "SizeInBytes", runtime.get("sizeInBytes", 0))
    _sub(element, "MessageCount", runtime.get("totalMessageCount", 0))
    _sub(element, "IsAnonymousAccessible", False)
    _sub(element, "AuthorizationRules")
    _sub(element, "Status", "Active")
    _forwarding(element, properties, "ForwardTo", base)
    _sub(element, "CreatedAt", created)
    _sub(element, "UpdatedAt", updated)
    _sub(element, "AccessedAt", accessed)
    _sub(element, "SupportOrdering", True)
    _count_details(element, runtime)
    _sub(element, "AutoDeleteOnIdle", MAX_TIMESPAN)
    _sub(element, "EnablePartitioning", False)
    _sub(element, "EntityAvailabilityStatus", "Available")
    _forwarding(element, properties, "ForwardDeadLetteredMessagesTo", base)
    _sub(element, "EnableExpress", False)
    _sub(element, "MaxMessageSizeInKilobytes", 256)
    return element


def topic_description(
    properties: dict[str, Any],
    runtime: dict[str, int],
    times: tuple[datetime.datetime, ...],
    subscription_count: int,
) -> ET.Element:
    created, updated, accessed = (_stamp(t) for t in times)
    element = ET.Element(f"{{{SB}}}TopicDescription")
    _sub(element, "DefaultMessageTimeToLive", properties["DefaultMessageTimeToLive"])
    _sub(element, "MaxSizeInMegabytes", 1024)
    _sub(element, "RequiresDuplicateDetection", properties["RequiresDuplicateDetection"])
    _sub(
        element,
        "DuplicateDetectionHistoryTimeWindow",
        properties["DuplicateDetectionHistoryTimeWindow"],
    )
    _sub(element, "EnableBatchedOperations", True)
    _sub(element, "SizeInBytes", runtime.get("sizeInBytes", 0))
    _sub(element, "FilteringMessagesBeforePublishing", False)
    _sub(element, "IsAnonymousAccessible", False)
    _sub(element, "AuthorizationRules")
    _sub(element, "Status", "Active")
    _sub(element, "CreatedAt", created)
    _sub(element, "UpdatedAt", updated)
    _sub(element, "AccessedAt", accessed)
    _sub(element, "SupportOrdering", True)
    _count_details(element, runtime)
    _sub(element, "SubscriptionCount", subscription_count)
    _sub(element, "AutoDeleteOnIdle", MAX_TIMESPAN)
    _sub(element, "EnablePartitioning", False)
    _sub(element, "EntityAvailabilityStatus", "Available")
    _sub(element, "EnableSubscriptionPartitioning", False)
    _sub(element, "EnableExpress", False)
    _sub(element, "MaxMessageSizeInKilobytes", 256)
    return element


def subscription_description(
    properties: dict[str, Any],
    runtime: dict[str, int],
    times: tuple[datetime.datetime, ...],
    base: str = "https://localhost",
) -> ET.Element:
    created, updated, accessed = (_stamp(t) for t in times)
    element = ET.Element(f"{{{SB}}}SubscriptionDescription")
    _sub(element, "LockDuration", properties["LockDuration"])
    _sub(element, "RequiresSession", properties["RequiresSession"])
    _sub(element, "DefaultMessageTimeToLive", properties["DefaultMessageTimeToLive"])
    _sub(
        element,
        "DeadLetteringOnMessageExpiration",
        properties["DeadLetteringOnMessageExpiration"],
    )
    _sub(element, "DeadLetteringOnFilterEvaluationExceptions", True)
    _sub(element, "MessageCount", runtime.get("totalMessageCount", 0))
    _sub(element, "MaxDeliveryCount", properties["MaxDeliveryCount"])
    _sub(element, "EnableBatchedOperations", True)
    _sub(element, "Status", "Active")
    _forwarding(element, properties, "ForwardTo", base)
    _sub(element, "CreatedAt", created)
    _sub(element, "UpdatedAt", updated)
    _sub(element, "AccessedAt", accessed)
    _count_details(element, runtime)
    _forwarding(element, properties, "ForwardDeadLetteredMessagesTo", base)
    _sub(element, "AutoDeleteOnIdle", MAX_TIMESPAN)
    _sub(element, "EntityAvailabilityStatus", "Available")
    return element


def _value(parent: ET.Element, key: str, value: Any) -> None:
    pair = _sub(parent, "KeyValueOfstringanyType")
    _sub(pair, "Key", key)
    if isinstance(value, bool):
        kind, text = "boolean", "true" if value else "false"
    elif isinstance(value, int):
        kind, text = "int" if -(2**31) <= value < 2**31 else "long", str(value)
    elif isinstance(value, float):
        kind, text = "double", repr(value)
    else:
        kind, text = "string", str(value)
    element = _sub(pair, "Value", text)
    element.set(f"{{{XSI}}}type", f"d6p1:{kind}")
    element.set("xmlns:d6p1", XSD)


def rule_description(rule: Rule, created: datetime.datetime) -> ET.Element:
    element = ET.Element(f"{{{SB}}}RuleDescription")
    filter_element = _sub(element, "Filter")
    if isinstance(rule, CorrelationFilter):
        filter_element.set(f"{{{XSI}}}type", "CorrelationFilter")
        for field, key in CORRELATION_FIELDS:
            if key in rule.wanted:
                _sub(filter_element, field, rule.wanted[key])
        properties = _sub(filter_element, "Properties")
        for key, value in rule.wanted.items():
            if key.startswith("user."):
                _value(properties, key[len("user.") :], value)
    else:
        kind = (
            "TrueFilter"
            if is_true_rule(rule)
            else "FalseFilter"
            if is_false_rule(rule)
            else "SqlFilter"
        )
        filter_element.set(f"{{{XSI}}}type", kind)
        text = rule.expression if isinstance(rule, SqlRule) else "1=1"
        _sub(filter_element, "SqlExpression", text)
        _sub(filter_element, "CompatibilityLevel", 20)
        if isinstance(rule, ParameterizedSqlRule):
            parameters = _sub(filter_element, "Parameters")
            for key, value in rule.parameters.items():
                _value(parameters, key, value)
    action = _sub(element, "Action")
    if rule.action is None:
        action.set(f"{{{XSI}}}type", "EmptyRuleAction")
    else:
        from .admin_entities import rule_definition as described

        action.set(f"{{{XSI}}}type", "SqlRuleAction")
        _sub(action, "SqlExpression", described(rule)["Properties"]["Action"]["SqlExpression"])
        _sub(action, "CompatibilityLevel", 20)
    _sub(element, "CreatedAt", _stamp(created))
    _sub(element, "Name", rule.name)
    return element


def namespace_info(name: str, created: datetime.datetime) -> ET.Element:
    element = ET.Element(f"{{{SB}}}NamespaceInfo")
    _sub(element, "CreatedTime", _stamp(created))
    _sub(element, "MessagingSKU", "Standard")
    _sub(element, "ModifiedTime", _stamp(created))
    _sub(element, "Name", name)
    _sub(element, "NamespaceType", "Messaging")
    return element


def entry(url: str, title: str, content: ET.Element, updated: datetime.datetime) -> ET.Element:
    element = ET.Element(f"{{{ATOM}}}entry")
    _sub(element, "id", url, ATOM)
    _sub(element, "title", title, ATOM).set("type", "text")
    _sub(element, "published", _stamp(updated), ATOM)
    _sub(element, "updated", _stamp(updated), ATOM)
    author = _sub(element, "author", None, ATOM)
    _sub(author, "name", "sbemulatorns", ATOM)
    link = _sub(element, "link", None, ATOM)
    link.set("rel", "self")
    link.set("href", url)
    holder = _sub(element, "content", None, ATOM)
    holder.set("type", "application/xml")
    holder.append(content)
    return element


def feed(url: str, title: str, entries: list[ET.Element], next_url: str | None) -> ET.Element:
    element = ET.Element(f"{{{ATOM}}}feed")
    _sub(element, "title", title, ATOM).set("type", "text")
    _sub(element, "id", url, ATOM)
    _sub(element, "updated", _stamp(datetime.datetime.now(datetime.UTC)), ATOM)
    self_link = _sub(element, "link", None, ATOM)
    self_link.set("rel", "self")
    self_link.set("href", url)
    if next_url is not None:  # the SDK pages on while a feed has two links
        next_link = _sub(element, "link", None, ATOM)
        next_link.set("rel", "next")
        next_link.set("href", next_url)
    element.extend(entries)
    return element


def error(code: int, detail: str) -> ET.Element:
    element = ET.Element("Error")
    ET.SubElement(element, "Code").text = str(code)
    ET.SubElement(element, "Detail").text = detail
    return element


def to_bytes(element: ET.Element) -> bytes:
    data: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return data
