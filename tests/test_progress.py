"""cartal.progress: tqdm's bar on a terminal (a pseudo-terminal here), a few plain lines anywhere else."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import sys
import termios

import pytest

from cartal.errors import CartalError
from cartal.progress import MODE_ENV, meter


def on_a_terminal(write) -> str:
    """What ``write(terminal)`` shows on a pseudo-terminal, the terminal's own "\\r\\n" for "\\n" undone."""
    leader, follower = pty.openpty()
    # a window's size, as a real terminal has (tqdm sizes its bar to it; 0 x 0 would leave no room)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with os.fdopen(follower, "w", encoding="utf-8") as terminal:
        write(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the other end is closed and all of it read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return shown.decode("utf-8").replace("\r\n", "\n")


def loop(n: int, stream=None, **options) -> None:
    for _ in meter(range(n), desc="long loop", unit="step", stream=stream, **options):
        pass


@pytest.fixture(autouse=True)
def no_forced_mode(monkeypatch):
    monkeypatch.delenv(MODE_ENV, raising=False)


def test_a_log_gets_a_line_at_the_start_at_every_tenth_and_at_the_end_and_no_carriage_return():
    log = io.StringIO()
    loop(100_000, log, every_s=0)  # no wait between lines: only the tenths space them
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert [int(re.match(r"long loop: +(\d+)% ", line).group(1)) for line in lines] == list(range(0, 101, 10))
    assert re.fullmatch(r"long loop: 100% 100000/100000 \[\d\d:\d\d<00:00, +[\d.]+step/s\]", lines[-1])


def test_a_long_loop_writes_a_dozen_lines_at_most():
    log = io.StringIO()
    loop(1_000_000, log)
    lines = log.getvalue().splitlines()
    assert 2 <= len(lines) <= 12 and "\r" not in log.getvalue()
    assert " 0% 0/1000000 " in lines[0] and " 100% 1000000/1000000 " in lines[-1]


def test_a_meter_driven_by_updates_ends_with_one_line_of_the_total():
    log = io.StringIO()
    experiments = meter(total=4, desc="experiments", unit="exp", stream=log, every_s=0)
    for _ in range(4):
        experiments.update(1)
    experiments.close()
    assert log.getvalue().splitlines()[-1].startswith("experiments: 100% 4/4 ")
    assert sum(" 100% " in line for line in log.getvalue().splitlines()) == 1


def test_a_terminal_gets_tqdm_s_bar():
    shown = on_a_terminal(lambda terminal: loop(50, terminal))
    assert "\rlong loop:   0%" in shown and "\rlong loop: 100%|" in shown  # drawn, then redrawn in place


def test_the_standard_error_written_to_now_decides(monkeypatch):
    def on_stderr(terminal):
        monkeypatch.setattr(sys, "stderr", terminal)
        loop(50)

    assert "\rlong loop: 100%" in on_a_terminal(on_stderr)
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    loop(50)
    assert "\r" not in log.getvalue() and log.getvalue().count("\n") == 2


def test_the_variable_forces_either_mode(monkeypatch):
    monkeypatch.setenv(MODE_ENV, "lines")
    assert "\r" not in on_a_terminal(lambda terminal: loop(50, terminal))
    monkeypatch.setenv(MODE_ENV, "bar")
    log = io.StringIO()
    loop(50, log)
    assert "\rlong loop: 100%" in log.getvalue()


def test_an_unknown_mode_is_refused_with_the_ones_there_are(monkeypatch):
    monkeypatch.setenv(MODE_ENV, "line")
    with pytest.raises(CartalError, match=r"CARTAL_PROGRESS is 'line': set it to bar .* or lines"):
        loop(5, io.StringIO())


def test_a_disabled_meter_writes_nothing_anywhere():
    log = io.StringIO()
    loop(50, log, enabled=False)
    assert log.getvalue() == ""
    assert on_a_terminal(lambda terminal: loop(50, terminal, enabled=False)) == ""
