"""The SQL filter subset: three-valued logic, operators, names; bad expressions refused."""

import pytest

from devstack.servicebus.rules.sql_filter import SqlError, compile_action, compile_filter

MESSAGE = {
    "sys.message_id": "m-1",
    "sys.subject": "order-created",
    "sys.correlation_id": "c'1",
    "user.color": "red",
    "user.size": 12,
    "user.price": 9.5,
    "user.urgent": True,
    "user.my prop": "x",
}


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        ("color = 'red'", True),
        ("user.color = 'red'", True),
        ("[color] <> 'red'", False),
        ("color != 'blue'", True),
        ("size > 10 AND size <= 12", True),
        ("size < 10 OR price >= 9.5", True),
        ("NOT (size = 12)", False),
        ("size = -3", False),
        ("urgent = TRUE", True),
        ("sys.Label = 'order-created'", True),
        ("sys.label LIKE 'order%'", True),
        ("sys.Subject LIKE 'order_created'", True),
        ("sys.Subject NOT LIKE '%deleted'", True),
        ("sys.CorrelationId = 'c''1'", True),
        ("sys.MessageId LIKE 'm!-%' ESCAPE '!'", True),
        ("color IN ('blue', 'red')", True),
        ("size NOT IN (1, 2)", True),
        ("missing IS NULL", True),
        ("color IS NOT NULL", True),
        ("EXISTS(color) AND NOT EXISTS(missing)", True),
        ("[my prop] = 'x'", True),
        # unknown (NULL, or a string against a number) is not TRUE, and NOT unknown neither
        ("missing = 1", False),
        ("NOT (missing = 1)", False),
        ("missing = 1 OR color = 'red'", True),
        ("color = 12", False),
        ("NOT (color = 12)", False),
        ("missing NOT IN (1)", False),
        ("1 = 1", True),
        ("1 = 0", False),
        ("COLOR = 'red'", False),  # application property names are case-sensitive
    ],
)
def test_filters(expression: str, matches: bool) -> None:
    assert compile_filter(expression)(MESSAGE) is matches


@pytest.mark.parametrize(
    "expression",
    ["", "color =", "color = 'red' AND", "sys.Colour = 'x'", "color LIKE 3", "(color = 'x'",
     "color BETWEEN 1 AND 2", "color = 'red' size = 3", "NOT color"],
)  # fmt: skip
def test_bad_filters_are_refused(expression: str) -> None:
    with pytest.raises(SqlError):
        compile_filter(expression)


def test_actions_set_and_remove_application_properties() -> None:
    action = compile_action("SET routed = 'yes'; REMOVE color; SET user.n = 3")
    assert action.apply({"color": "red", "size": 1}) == {"size": 1, "routed": "yes", "n": 3}
    for bad in ("SET sys.Label = 'x'", "DELETE a", "SET a 'x'", ""):
        with pytest.raises(SqlError):
            compile_action(bad)
