"""Route templates as the Functions host reads them: `v1/jobs/{jobId}`, `{id:int}`,
`{name?}`, `{*rest}`; literals match case-insensitively, literals win over parameters."""

import re
from dataclasses import dataclass

_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$")
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "guid": r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}",
    "alpha": r"[A-Za-z]+",
    "bool": r"(?i:true|false)",
}


class RouteTemplateError(ValueError):
    """A route template the host does not understand."""


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    pattern: re.Pattern[str]
    # Per segment: 0 literal, 1 constrained parameter, 2 parameter, 3 catch-all.
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}


def compile_route(prefix: str, route: str) -> RouteTemplate:
    """Compile `prefix/route` (both without leading or trailing slashes) into a matcher."""
    segments = [s for s in f"{prefix.strip('/')}/{route.strip('/')}".split("/") if s]
    regex = ""
    precedence: list[int] = []
    for index, segment in enumerate(segments):
        param = _PARAM.match(segment)
        if param is None:
            if "{" in segment or "}" in segment:
                raise RouteTemplateError(f"unsupported route segment {segment!r} in {route!r}")
            regex += "/" + re.escape(segment)
            precedence.append(0)
            continue
        catch_all, name, constraint, optional = param.groups()
        if catch_all:
            if index != len(segments) - 1:
                raise RouteTemplateError(f"{{*{name}}} must be the last segment of {route!r}")
            regex += f"(?:/(?P<{name}>.*))?"
            precedence.append(3)
            continue
        if constraint is not None and constraint not in _CONSTRAINTS:
            raise RouteTemplateError(f"unsupported route constraint {constraint!r} in {route!r}")
        body = _CONSTRAINTS[constraint] if constraint else r"[^/]+"
        group = f"/(?P<{name}>{body})"
        regex += f"(?:{group})?" if optional else group
        precedence.append(1 if constraint else 2)
    return RouteTemplate(
        template=route,
        pattern=re.compile(regex + "/?", re.IGNORECASE),
        precedence=tuple(precedence),
    )
