"""Health: ask every dependency at once, each within a timeout; name the ones that fail.

A result's `detail` is for the log only (it can hold SDK text: host names, request ids);
`problem` is what a client may be told.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from function_app.ports import HealthProbe

NOT_ANSWERING = "not answering"
NO_ANSWER_IN_TIME = "no answer in time"


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    detail: str
    timed_out: bool = False

    @property
    def problem(self) -> str:
        """Fixed text for clients: never the failure's own message."""
        if self.ok:
            return "ok"
        return NO_ANSWER_IN_TIME if self.timed_out else NOT_ANSWERING


@dataclass(frozen=True)
class HealthReport:
    results: tuple[ProbeResult, ...]

    @property
    def healthy(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(sorted({r.name for r in self.results if not r.ok}))

    @property
    def problems(self) -> dict[str, str]:
        """Each failing dependency (sorted) and its problem; with several probes, a plain
        failure says more than a timeout."""
        problems: dict[str, str] = {}
        for r in self.results:
            if not r.ok and problems.get(r.name) != NOT_ANSWERING:
                problems[r.name] = r.problem
        return {name: problems[name] for name in sorted(problems)}


class HealthService:
    def __init__(self, probes: Sequence[HealthProbe], timeout_seconds: float = 5.0) -> None:
        self._probes = tuple(probes)
        self._timeout = timeout_seconds

    async def check(self) -> HealthReport:
        results = await asyncio.gather(*(self._one(p) for p in self._probes))
        return HealthReport(tuple(results))

    async def _one(self, probe: HealthProbe) -> ProbeResult:
        try:
            async with asyncio.timeout(self._timeout):
                await probe.check()
        except TimeoutError:
            return ProbeResult(
                probe.name, False, f"no answer within {self._timeout:g}s", timed_out=True
            )
        except Exception as exc:
            # The domain's DependencyUnavailable carries a readable message; others do not.
            detail = getattr(exc, "message", None) or repr(exc)
            return ProbeResult(probe.name, False, str(detail)[:500])
        return ProbeResult(probe.name, True, "ok")
