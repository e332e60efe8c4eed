"""POST v1/upload/presigned-url: a create/write-only URL for one new blob (201)."""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from function_app.bootstrap import app_services
from function_app.entrypoints.auth import caller_of
from function_app.entrypoints.errors import NO_STORE, answers_errors, ok
from function_app.entrypoints.schemas import PresignIn, parse_body, presigned_out, read_body
from function_app.services.uploads import PresignRequest

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="v1/upload/presigned-url", methods=["POST"])
@answers_errors
async def presign_upload(req: Request) -> Response:
    body = parse_body(PresignIn, await read_body(req))
    svc = app_services()
    caller = await caller_of(req)
    svc.limits.presign(caller)
    upload = await svc.uploads.presign(
        caller, PresignRequest(body.file_name, body.content_type, body.size, body.sha256)
    )
    return JSONResponse(ok(presigned_out(upload)), 201, headers=NO_STORE)
