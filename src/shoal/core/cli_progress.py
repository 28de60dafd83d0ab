"""The progress line of a long ``shoal`` command on stderr: rewritten in place on a terminal, one line per
report otherwise (logs)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


class ProgressLine:
    def __init__(self, stream, render: Callable[[int, int, float], str], *, verbose: bool = True):
        self.stream = stream
        self.render = render
        self.verbose = verbose
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if not self.verbose:
            return
        line = self.render(done, total, time.monotonic() - self.started)
        if self.tty:
            self.stream.write("\r" + line, ending="")
            self.stream.flush()
        else:
            self.stream.write(line)

    def end(self) -> None:
        if self.verbose and self.tty:
            self.stream.write("")
