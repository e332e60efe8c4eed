"""The upload sweeper's timer trigger (schedule: the UPLOAD_SWEEP_SCHEDULE app setting,
NCRONTAB).

It calls `UploadSweeper.sweep()` (services/upload_sweeper.py): append and page blobs,
snapshots and old uploads no job claimed are deleted. The local host runs it on its
schedule too (Azurite has no lifecycle rules).
"""

import logging

import azure.functions as func

from function_app.bootstrap import app_services

logger = logging.getLogger(__name__)

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.timer_trigger(schedule="%UPLOAD_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False)
async def sweep_uploads(timer: func.TimerRequest) -> None:
    report = await app_services().upload_sweeper.sweep()
    logger.info(
        "upload sweep%s: %d blobs, %d append/page blobs deleted, %d with snapshots trimmed, "
        "%d unused deleted, %d failed",
        " (past due)" if timer.past_due else "",
        report.seen,
        report.wrong_type,
        report.snapshots,
        report.unused,
        report.failed,
    )
