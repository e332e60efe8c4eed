"""The queue catalog: which queues this deployment serves and the job names each accepts.

`GET v1/queues` answers `{"queues": [{"queueName", "jobNames"}, ...]}` in the order of
function_app/queues.json, each queue under the name its app setting gives it in this
deployment. Clients look a job name's queue up here instead of carrying their own map.

Public, like health: the same answer for every caller, and nothing in it an enqueue does not
name anyway. It reads no token, so no token (a user JWT, a stream token, an expired one) is
ever refused here, and a page can list the job types before anyone signs in. `no-store`: a
deployment renames a queue by changing an app setting, and clients should see it at once.
"""

from collections.abc import Mapping
from typing import Any

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from function_app.bootstrap import app_services
from function_app.entrypoints.errors import NO_STORE, answers_errors, ok
from function_app.entrypoints.openapi import openapi_document
from function_app.entrypoints.response_models import CatalogOut, answer

bp = func.Blueprint()  # type: ignore[no-untyped-call]

# The document changes only with a deployment: a client may keep it five minutes.
OPENAPI_CACHE = {"Cache-Control": "public, max-age=300"}


def catalog_out(queues: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return answer(
        CatalogOut,
        {"queues": [{"queueName": n, "jobNames": list(jobs)} for n, jobs in queues.items()]},
    )


@bp.route(route="v1/queues", methods=["GET"])
@answers_errors
async def list_queues(req: Request) -> Response:
    return JSONResponse(ok(catalog_out(app_services().settings.queues)), headers=NO_STORE)


@bp.route(route="v1/openapi.json", methods=["GET"])
@answers_errors
async def openapi_json(req: Request) -> Response:
    """The OpenAPI 3.1 document (entrypoints/openapi.py). Public like the catalog: the same
    for every caller, and nothing in it that docs/api.md does not say."""
    return JSONResponse(openapi_document(), headers=OPENAPI_CACHE)
