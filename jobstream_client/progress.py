"""A one-line text progress bar for a terminal (plain lines when not a terminal)."""

import sys
from collections.abc import Mapping
from typing import Any, TextIO


def describe(update: Mapping[str, Any]) -> str:
    """A job_update as one line: status, current step, phase and detail, message, time left.

    `running · Reading the file · read (2 of 5 MB): Read 2000000 bytes · about 12 s left`
    """
    where = " · ".join(
        str(part)
        for part in (update.get("currentStep") or update.get("stage"), update.get("phase"))
        if part
    )
    if update.get("detail"):
        where += f" ({update['detail']})"
    line = f"{update.get('status')} · {where}: {update.get('message')}"
    eta = update.get("etaSeconds")
    if isinstance(eta, int | float) and not isinstance(eta, bool):
        line += f" · about {round(eta)} s left"
    return line


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.interactive = self.stream.isatty()
        self._last = ""

    def show(self, percent: float, text: str = "") -> None:
        percent = max(0.0, min(100.0, percent))
        filled = round(self.width * percent / 100)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"{self.label:<7} [{bar}] {percent:5.1f}% {text}".rstrip()
        if line == self._last:
            return
        self._last = line
        if self.interactive:
            self.stream.write("\r\x1b[2K" + line[:200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
