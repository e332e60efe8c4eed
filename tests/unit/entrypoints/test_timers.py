"""The timer triggers log what each sweep did in one line."""

from function_app.services.sweeper import SweepReport
from function_app.services.upload_sweeper import UploadSweepReport


def test_a_job_sweep_report_reads_as_one_line() -> None:
    report = SweepReport(seen=7, resent=1, ended=2, forgotten=3, failed=0)
    assert report.summary() == ("7 listed, 1 resent, 2 ended worker_lost, 3 forgotten, 0 failed")


def test_an_upload_sweep_report_reads_as_one_line() -> None:
    report = UploadSweepReport(seen=9, wrong_type=1, snapshots=2, unused=3, failed=1)
    assert report.summary() == (
        "9 blobs, 1 append/page blobs deleted, 2 with snapshots trimmed, 3 unused deleted, 1 failed"
    )
