"""The terminal client's progress bar."""

import io

from jobstream_client.progress import ProgressBar


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
