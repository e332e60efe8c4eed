"""Jobs over HTTP: enqueue (202, also at v1/queue/add), status (also at .../status), cancel
(202)."""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from function_app.bootstrap import app_services
from function_app.domain.jobs import EnqueueRequest
from function_app.entrypoints.auth import caller_of, counted_write
from function_app.entrypoints.errors import NO_STORE, answers_errors, ok
from function_app.entrypoints.routes import at_routes
from function_app.entrypoints.schemas import (
    EnqueueIn,
    accepted_out,
    job_out,
    status_url,
)
from function_app.services.limits import CallerLimits

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@at_routes(bp, ["POST"], {"enqueue_job": "v1/jobs", "queue_add": "v1/queue/add"})
async def enqueue(req: Request) -> Response:
    body, svc, caller = await counted_write(req, EnqueueIn, CallerLimits.enqueue)
    accepted = await svc.jobs.enqueue(
        caller,
        EnqueueRequest(body.queue_name, body.job_name, body.data),
        req.headers.get("idempotency-key"),
    )
    headers = {**NO_STORE, "Location": status_url(accepted.job_id)}
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(ok(accepted_out(accepted)), 202, headers=headers)


# `.../status` is the polling route seed 003's frontend keeps: the same answer.
@at_routes(
    bp, ["GET"], {"job_status": "v1/jobs/{jobId}", "job_status_alias": "v1/jobs/{jobId}/status"}
)
async def job_status(req: Request) -> Response:
    job = await app_services().jobs.status(await caller_of(req), str(req.path_params.get("jobId")))
    return JSONResponse(ok(job_out(job)), headers=NO_STORE)


@bp.route(route="v1/jobs/{jobId}/cancel", methods=["POST"])
@answers_errors
async def cancel_job(req: Request) -> Response:
    job = await app_services().jobs.cancel(await caller_of(req), str(req.path_params.get("jobId")))
    return JSONResponse(ok(job_out(job)), 202, headers=NO_STORE)
