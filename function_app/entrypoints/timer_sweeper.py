"""The sweeper's timer trigger (schedule: the SWEEP_SCHEDULE app setting, NCRONTAB).

Azure runs a timer function on one instance at a time; the local host runs it on its own
schedule too. It calls `Sweeper.sweep()` (services/sweeper.py) and logs what it did.
"""

import logging

import azure.functions as func

from function_app.bootstrap import app_services

logger = logging.getLogger(__name__)

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.timer_trigger(schedule="%SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False)
async def sweep_jobs(timer: func.TimerRequest) -> None:
    report = await app_services().sweeper.sweep()
    logger.info(
        "sweep%s: %d listed, %d resent, %d ended worker_lost, %d forgotten, %d failed",
        " (past due)" if timer.past_due else "",
        report.seen,
        report.resent,
        report.ended,
        report.forgotten,
        report.failed,
    )
