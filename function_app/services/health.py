"""Health: ask every dependency at once, each within a timeout; name the ones that fail."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from function_app.ports import HealthProbe

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    results: tuple[ProbeResult, ...]

    @property
    def healthy(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(sorted({r.name for r in self.results if not r.ok}))


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
            return ProbeResult(probe.name, False, f"no answer within {self._timeout:g}s")
        except Exception as exc:
            logger.warning("health probe %s failed: %r", probe.name, exc)
            # The domain's DependencyUnavailable carries a readable message; others do not.
            detail = getattr(exc, "message", None) or type(exc).__name__
            return ProbeResult(probe.name, False, str(detail)[:200])
        return ProbeResult(probe.name, True, "ok")
