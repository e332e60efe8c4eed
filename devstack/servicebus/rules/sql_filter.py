"""A small evaluator for Service Bus SQL filters and actions: the common subset.

Filters: comparisons (`=`, `<>`, `!=`, `<`, `<=`, `>`, `>=`), `AND`, `OR`, `NOT`,
`IS [NOT] NULL`, `[NOT] IN (...)`, `[NOT] LIKE 'pattern' [ESCAPE 'c']`, `EXISTS(name)`,
parentheses, string / integer / decimal / `TRUE` / `FALSE` / `NULL` literals; names are
`sys.Name` (the broker properties: MessageId, CorrelationId, Label or Subject, To, ReplyTo,
SessionId, ReplyToSessionId, ContentType), `user.name` or a bare `name` (an application
property), `[bracketed names]` too. Keywords and `sys.` names are case-insensitive.
A missing property is NULL; comparisons with NULL, or between a number and a string, are
unknown (SQL's three-valued logic), and a message matches only when the filter is TRUE.

Actions: `SET name = literal` and `REMOVE name`, separated by `;`, on application
properties. Anything else is refused with :class:`SqlError` when the config is loaded.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SYSTEM_PROPERTIES = {
    "messageid": "message_id",
    "correlationid": "correlation_id",
    "label": "subject",
    "subject": "subject",
    "to": "to",
    "replyto": "reply_to",
    "sessionid": "session_id",
    "replytosessionid": "reply_to_session_id",
    "contenttype": "content_type",
}
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)|(?P<op><>|!=|<=|>=|[=<>(),;\-])"
    r"|(?P<name>\[[^\]]+\]|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_\-]*)?))"
)
_KEYWORDS = {"AND", "OR", "NOT", "IS", "NULL", "IN", "LIKE", "ESCAPE", "TRUE", "FALSE", "EXISTS"}

Properties = dict[str, Any]  # "sys.<field>" and "user.<name>" keys
Expression = Callable[[Properties], Any]


class SqlError(ValueError):
    """The expression is outside the supported subset or malformed."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, number, op, name, keyword, end
    text: str
    value: Any = None


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise SqlError(f"unexpected {text[pos:].strip()[:20]!r} at {pos}")
        pos = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "string":
            out.append(_Token("string", raw, raw[1:-1].replace("''", "'")))
        elif kind == "number":
            out.append(_Token("number", raw, float(raw) if "." in raw else int(raw)))
        elif kind == "name" and raw.upper() in _KEYWORDS:
            out.append(_Token("keyword", raw.upper()))
        else:
            out.append(_Token(kind, raw))
    out.append(_Token("end", ""))
    return out


def property_key(name: str) -> str:
    """`sys.Label` -> `sys.subject`; `user.x`, `x`, `[x]` -> `user.x`."""
    if name.startswith("[") and name.endswith("]"):
        return f"user.{name[1:-1]}"
    scope, dot, rest = name.partition(".")
    if dot and scope.lower() == "sys":
        field = SYSTEM_PROPERTIES.get(rest.lower())
        if field is None:
            raise SqlError(f"unknown system property {name!r}")
        return f"sys.{field}"
    if dot and scope.lower() == "user":
        return f"user.{rest}"
    return f"user.{name}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if _is_number(left) and _is_number(right):
        pass
    elif type(left) is not type(right) or (isinstance(left, bool) and op not in ("=", "<>", "!=")):
        return None
    if op == "=":
        return bool(left == right)
    if op in ("<>", "!="):
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _like(pattern: str, escape: str | None) -> re.Pattern[str]:
    out = []
    chars = iter(pattern)
    for char in chars:
        if escape is not None and char == escape:
            out.append(re.escape(next(chars, "")))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> bool:
        token = self.peek
        if token.kind == kind and (text is None or token.text == text):
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            wanted = text or kind
            raise SqlError(f"expected {wanted}, got {token.text or 'the end'!r}")
        return token

    # filter := or
    def filter(self) -> Expression:
        expression = self.disjunction()
        if self.peek.kind != "end":
            raise SqlError(f"unexpected {self.peek.text!r}")
        return expression

    def disjunction(self) -> Expression:
        left = self.conjunction()
        while self.accept("keyword", "OR"):
            right = self.conjunction()
            left = _or(left, right)
        return left

    def conjunction(self) -> Expression:
        left = self.negation()
        while self.accept("keyword", "AND"):
            right = self.negation()
            left = _and(left, right)
        return left

    def negation(self) -> Expression:
        if self.accept("keyword", "NOT"):
            inner = self.negation()
            return lambda p: None if (v := inner(p)) is None else not v
        return self.predicate()

    def predicate(self) -> Expression:
        if self.accept("keyword", "EXISTS"):
            self.expect("op", "(")
            key = property_key(self.expect("name").text)
            self.expect("op", ")")
            return lambda p: key in p
        if self.peek.kind == "op" and self.peek.text == "(":
            self.take()
            inner = self.disjunction()
            self.expect("op", ")")
            return inner
        left = self.operand()
        token = self.peek
        if token.kind == "op" and token.text in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.take()
            right = self.operand()
            op = token.text
            return lambda p: _compare(op, left(p), right(p))
        if self.accept("keyword", "IS"):
            negated = self.accept("keyword", "NOT")
            self.expect("keyword", "NULL")
            return lambda p: (left(p) is not None) if negated else (left(p) is None)
        negated = self.accept("keyword", "NOT")
        if self.accept("keyword", "IN"):
            values = self.literal_list()
            return _negate(lambda p: _in(left(p), values), negated)
        if self.accept("keyword", "LIKE"):
            pattern = self.expect("string").value
            escape = self.expect("string").value if self.accept("keyword", "ESCAPE") else None
            regex = _like(pattern, escape)
            return _negate(
                lambda p: None if not isinstance(v := left(p), str) else bool(regex.fullmatch(v)),
                negated,
            )
        if negated:
            raise SqlError("NOT here must be followed by IN or LIKE")
        raise SqlError(f"expected a comparison, got {token.text or 'the end'!r}")

    def literal_list(self) -> list[Any]:
        self.expect("op", "(")
        values = [self.literal()]
        while self.accept("op", ","):
            values.append(self.literal())
        self.expect("op", ")")
        return values

    def literal(self) -> Any:
        token = self.take()
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "op" and token.text == "-" and self.peek.kind == "number":
            return -self.take().value
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE"):
            return token.text == "TRUE"
        if token.kind == "keyword" and token.text == "NULL":
            return None
        raise SqlError(f"expected a literal, got {token.text or 'the end'!r}")

    def operand(self) -> Expression:
        token = self.peek
        if token.kind == "name":
            self.take()
            key = property_key(token.text)
            return lambda p: p.get(key)
        value = self.literal()
        return lambda p: value


def _and(left: Expression, right: Expression) -> Expression:
    def both(p: Properties) -> bool | None:
        a = left(p)
        if a is False:
            return False
        b = right(p)
        if b is False:
            return False
        return None if a is None or b is None else True

    return both


def _or(left: Expression, right: Expression) -> Expression:
    def either(p: Properties) -> bool | None:
        a = left(p)
        if a is True:
            return True
        b = right(p)
        if b is True:
            return True
        return None if a is None or b is None else False

    return either


def _negate(inner: Expression, negated: bool) -> Expression:
    if not negated:
        return inner
    return lambda p: None if (v := inner(p)) is None else not v


def _in(value: Any, values: list[Any]) -> bool | None:
    if value is None:
        return None
    return any(_compare("=", value, v) for v in values)


def compile_filter(text: str) -> Callable[[Properties], bool]:
    """A predicate over a message's properties: True only when the filter is TRUE."""
    expression = _Parser(text).filter()
    return lambda p: expression(p) is True


@dataclass(frozen=True, slots=True)
class Action:
    """`SET user.x = literal` / `REMOVE user.x` steps on the application properties."""

    steps: tuple[tuple[str, str, Any], ...]  # (SET|REMOVE, name, value)

    def apply(self, properties: dict[Any, Any]) -> dict[Any, Any]:
        out = dict(properties)
        for verb, name, value in self.steps:
            out = {k: v for k, v in out.items() if str(k) != name}
            if verb == "SET":
                out[name] = value
        return out


def compile_action(text: str) -> Action:
    parser = _Parser(text)
    steps: list[tuple[str, str, Any]] = []
    while parser.peek.kind != "end":
        verb = parser.expect("name").text.upper()
        if verb not in ("SET", "REMOVE"):
            raise SqlError(f"an action is SET or REMOVE, not {verb!r}")
        key = property_key(parser.expect("name").text)
        if not key.startswith("user."):
            raise SqlError("actions may change only application (user) properties here")
        value = None
        if verb == "SET":
            parser.expect("op", "=")
            value = parser.literal()
        steps.append((verb, key[len("user.") :], value))
        if not parser.accept("op", ";"):
            break
    parser.expect("end")
    if not steps:
        raise SqlError("an empty action")
    return Action(tuple(steps))
