"""Progress of a long loop: tqdm's bar on a terminal, a few plain lines in a log.

A bar redraws itself after a carriage return, which a log file or CI's output keeps as one ever longer
line. When the stream is not a terminal, a line is written at the start, then whenever both a tenth of
the total and 30 s have passed since the last one, and at the end: a dozen lines at most however long
the loop. ``CARTAL_PROGRESS=bar`` or ``=lines`` forces either.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import IO

from tqdm import tqdm

from cartal.errors import CartalError

MODE_ENV = "CARTAL_PROGRESS"
MODES = ("bar", "lines")


def meter(iterable: Iterable | None = None, *, desc: str, unit: str, total: int | None = None,
          enabled: bool = True, stream: IO[str] | None = None, every_s: float = 30.0) -> tqdm:
    """A tqdm over ``iterable`` (or one to ``update``) writing to ``stream``, standard error by default.

    The stream is looked up now, not at import: a warm worker's child (cartal.warm) runs with the
    client's standard streams, which may be a terminal or a log file. ``every_s``: the least time
    between two lines of a log.
    """
    stream = stream or sys.stderr
    if not enabled or mode(stream) == "bar":
        return tqdm(iterable, desc=desc, unit=unit, total=total, disable=not enabled, file=stream)
    return LogLines(iterable, desc=desc, unit=unit, total=total, file=stream, every_s=every_s)


def mode(stream: IO[str]) -> str:
    """"bar" or "lines": the one CARTAL_PROGRESS forces, else a bar on a terminal only."""
    forced = os.environ.get(MODE_ENV, "")
    if forced and forced not in MODES:
        raise CartalError(f"{MODE_ENV} is {forced!r}: set it to bar (tqdm's bar) or lines (plain lines, for a "
                          "log), or unset it to have a bar on a terminal and lines elsewhere")
    isatty = getattr(stream, "isatty", None)
    return forced or ("bar" if isatty is not None and isatty() else "lines")


class LogLines(tqdm):
    """tqdm's meter as whole lines, rarely: tqdm's front end for a GUI (``gui=True``, then ``display``
    and ``close`` of its own), which is handed each update and draws nothing of tqdm's."""

    def __init__(self, *args, every_s: float, **kwargs):
        self._every_s = every_s
        # ncols=0: tqdm's meter without the bar; smoothing=0: the rate since the start, which a line that stays
        # should say; checking for a line once a second costs nothing
        super().__init__(*args, gui=True, ncols=0, smoothing=0, mininterval=min(every_s, 1.0), **kwargs)
        if not self.disable:  # TQDM_DISABLE=1 turns every tqdm off, this one too
            self._write_line()

    def display(self, *_, **__) -> None:
        tenth = self.n - self._line_n >= self.total / 10 if self.total else True
        if tenth and self._time() - self._line_t >= self._every_s:
            self._write_line()

    def clear(self, *_, **__) -> None:
        pass  # a written line stays

    def close(self) -> None:
        if self.disable:
            return
        if self.n != self._line_n:
            self._write_line()
        super().close()

    def _write_line(self) -> None:
        self.fp.write(f"{self}\n")
        self.fp.flush()
        self._line_n, self._line_t = self.n, self._time()
