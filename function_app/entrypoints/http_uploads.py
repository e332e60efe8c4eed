"""POST v1/upload/presigned-url: a create/write-only URL for one new blob (201)."""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from function_app.entrypoints.auth import counted_write
from function_app.entrypoints.errors import NO_STORE, answers_errors, ok
from function_app.entrypoints.schemas import PresignIn, presigned_out
from function_app.services.limits import CallerLimits
from function_app.services.uploads import PresignRequest

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="v1/upload/presigned-url", methods=["POST"])
@answers_errors
async def presign_upload(req: Request) -> Response:
    body, svc, caller = await counted_write(req, PresignIn, CallerLimits.presign)
    upload = await svc.uploads.presign(
        caller, PresignRequest(body.file_name, body.content_type, body.size, body.sha256)
    )
    return JSONResponse(ok(presigned_out(upload)), 201, headers=NO_STORE)
