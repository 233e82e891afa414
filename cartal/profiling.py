"""Where a stage's time goes: start-up and imports, reading and writing artifacts, the work itself.

With CARTAL_PROFILE set to a file, every stage command appends one JSON line
to it: when its process was created, when the stage began and ended, the
seconds spent reading and writing artifacts, and its peak RSS. bench/pipeline.py
puts these beside DVC's own timing. Unset, this costs a clock read per artifact.
"""

from __future__ import annotations

import json
import os
import resource
import time
from contextlib import contextmanager
from functools import wraps

PROFILE_ENV = "CARTAL_PROFILE"
_io = {"seconds": 0.0, "depth": 0}


def counts_as_io(function):
    """Add the time ``function`` takes to the process's artifact I/O (outermost call only)."""

    @wraps(function)
    def wrapper(*args, **kwargs):
        _io["depth"] += 1
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _io["depth"] -= 1
            if _io["depth"] == 0:
                _io["seconds"] += time.perf_counter() - start

    return wrapper


def io_seconds() -> float:
    return _io["seconds"]


@contextmanager
def stage_profile(stage: str):
    """Append this stage's timing to $CARTAL_PROFILE, if set, whether it succeeds or fails."""
    path = os.environ.get(PROFILE_ENV)
    if not path:
        yield
        return
    began, io_before, ok = time.time(), io_seconds(), False
    try:
        yield
        ok = True
    finally:
        ended = time.time()
        client_started = os.environ.get("CARTAL_STARTED_AT")  # set by cartal.warm in the worker's children
        created = float(client_started) if client_started else process_created()
        io = io_seconds() - io_before
        record = {"stage": stage, "ok": ok, "warm": bool(client_started), "clock": "uptime", "created": created,
                  "began": began, "ended": ended, "startup_s": round(began - created, 4), "io_s": round(io, 4),
                  "work_s": round(ended - began - io, 4),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        with open(path, "a", encoding="utf-8") as out:  # one short line per write: appends do not interleave
            out.write(json.dumps(record) + "\n")


def process_created() -> float:
    """When this process began, in time.time()'s clock.

    psutil adds the process's start (in clock ticks since boot) to the boot time from /proc/stat, which
    is whole seconds: every start-up it gives is too long by the boot time's fraction (0.23 s on the
    benchmark's machine). The boot time from /proc/uptime keeps the fraction.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/uptime", encoding="ascii") as uptime:
            booted = time.time() - float(uptime.read().split()[0])
        return booted + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        import psutil  # a DVC dependency; only imported when profiling, off Linux

        return psutil.Process().create_time()
