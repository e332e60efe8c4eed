"""Health (200 / 503 naming the failing dependency) and queue statistics.

Health is unauthenticated: a failing probe's own text (SDK messages with host names) is
logged with a correlation id; the answer only names the dependency, a fixed problem and
that id.
"""

import logging

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from function_app.bootstrap import app_services
from function_app.entrypoints.auth import caller_of
from function_app.entrypoints.errors import (
    NO_STORE,
    answers_errors,
    dependency_unavailable_response,
    new_correlation_id,
    ok,
)
from function_app.entrypoints.response_models import HealthOut, QueueStatsOut, answer
from function_app.entrypoints.schemas import iso, queue_counts_out

bp = func.Blueprint()  # type: ignore[no-untyped-call]
logger = logging.getLogger(__name__)


@bp.route(route="v1/health", methods=["GET"])
@answers_errors
async def health(req: Request) -> Response:
    svc = app_services()
    report = await svc.health.check()
    failing = report.failing  # a dependency is failing if any of its probes fails
    checks = {r.name: "failing" if r.name in failing else "ok" for r in report.results}
    if report.healthy:
        healthy = {"status": "healthy", "checks": checks, "timestamp": iso(svc.clock.now())}
        body = ok(answer(HealthOut, healthy))
        return JSONResponse(body, headers=NO_STORE)
    correlation_id = new_correlation_id()
    for r in report.results:
        if not r.ok:
            logger.warning(
                "health: %s failing: %s; correlation id %s", r.name, r.detail, correlation_id
            )
    return dependency_unavailable_response(report.problems, correlation_id)


@bp.route(route="v1/queues/{queueName}/stats", methods=["GET"])
@answers_errors
async def queue_stats(req: Request) -> Response:
    svc = app_services()
    counts = await svc.jobs.queue_stats(await caller_of(req), str(req.path_params.get("queueName")))
    return JSONResponse(
        ok(answer(QueueStatsOut, {**queue_counts_out(counts), "timestamp": iso(svc.clock.now())})),
        headers=NO_STORE,
    )
