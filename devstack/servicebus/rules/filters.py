"""A subscription's rules: each a filter (SQL, correlation or true) and an optional action.

A message goes to a subscription when any of its rules matches; each matching rule's action
is applied to the copy that subscription gets (as in Azure)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .sql_filter import Action, Properties


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: Action | None

    def matches(self, properties: Properties) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class TrueRule(Rule):
    """`$Default` on a subscription without rules: every message."""

    def matches(self, properties: Properties) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class SqlRule(Rule):
    expression: str
    predicate: Callable[[Properties], bool]

    def matches(self, properties: Properties) -> bool:
        return self.predicate(properties)


@dataclass(frozen=True, slots=True)
class CorrelationFilter(Rule):
    """Every property named must be equal (strings as strings, others by value)."""

    wanted: dict[str, Any]

    def matches(self, properties: Properties) -> bool:
        for key, value in self.wanted.items():
            have = properties.get(key)
            if have is None or (have != value and str(have) != str(value)):
                return False
        return True
