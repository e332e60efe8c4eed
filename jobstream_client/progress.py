"""A one-line text progress bar for a terminal (plain lines when not a terminal)."""

import sys
from typing import TextIO


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
