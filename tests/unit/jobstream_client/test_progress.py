"""The terminal client's progress bar."""

import io

from jobstream_client.progress import ProgressBar, describe


def test_progress_bar_writes_plain_lines_off_a_terminal() -> None:
    out = io.StringIO()
    bar = ProgressBar("job", stream=out, width=10)
    bar.show(50, "half")
    bar.show(50, "half")
    bar.show(150, "over")
    assert out.getvalue().splitlines() == [
        "job     [#####-----]  50.0% half",
        "job     [##########] 100.0% over",
    ]


def test_an_update_reads_as_its_step_phase_detail_message_and_time_left() -> None:
    update = {
        "status": "in_progress",
        "stage": "fetching",
        "currentStep": "Reading the file",
        "phase": "read",
        "detail": "2 of 5 MB",
        "message": "Read 2000000 bytes",
        "etaSeconds": 12,
    }
    assert describe(update) == (
        "in_progress · Reading the file · read (2 of 5 MB): Read 2000000 bytes · about 12 s left"
    )
    # Without the optional fields: the stage stands in for the step, and nothing is made up.
    assert describe({"status": "queued", "stage": "queued", "message": "Job queued"}) == (
        "queued · queued: Job queued"
    )
