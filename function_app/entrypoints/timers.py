"""The timer triggers: the job sweeper and the upload sweeper (schedules: the SWEEP_SCHEDULE
and UPLOAD_SWEEP_SCHEDULE app settings, NCRONTAB).

Azure runs a timer function on one instance at a time; the local host runs each on its own
schedule too (Azurite has no lifecycle rules). Each calls its service's `sweep()`
(services/sweeper.py, services/upload_sweeper.py) and logs what it did in one line.
"""

import logging

import azure.functions as func

from function_app.bootstrap import app_services

logger = logging.getLogger(__name__)

bp = func.Blueprint()  # type: ignore[no-untyped-call]


def _past_due(timer: func.TimerRequest) -> str:
    return " (past due)" if timer.past_due else ""


@bp.timer_trigger(schedule="%SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False)
async def sweep_jobs(timer: func.TimerRequest) -> None:
    report = await app_services().sweeper.sweep()
    logger.info("sweep%s: %s", _past_due(timer), report.summary())


@bp.timer_trigger(schedule="%UPLOAD_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False)
async def sweep_uploads(timer: func.TimerRequest) -> None:
    report = await app_services().upload_sweeper.sweep()
    logger.info("upload sweep%s: %s", _past_due(timer), report.summary())
