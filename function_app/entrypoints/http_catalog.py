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

bp = func.Blueprint()  # type: ignore[no-untyped-call]


def catalog_out(queues: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return {
        "queues": [{"queueName": name, "jobNames": list(jobs)} for name, jobs in queues.items()]
    }


@bp.route(route="v1/queues", methods=["GET"])
@answers_errors
async def list_queues(req: Request) -> Response:
    return JSONResponse(ok(catalog_out(app_services().settings.queues)), headers=NO_STORE)
