"""The `cartal` executable: stage commands go to the warm worker when there is one (see cartal.warm).

Kept to the standard library: this module runs before every DVC stage, and
the point is to start nothing heavy here.
"""

from __future__ import annotations

import os
import sys

# the commands dvc.yaml and rounds/<k>/dvc.yaml call (cartal.cli.STAGES; a test checks they agree)
STAGE_COMMANDS = frozenset({"check-params", "prepare", "embed", "train-seed", "record-dynamics", "build-map",
                            "select", "merge-labels", "evaluate", "report"})
# what DVC runs a stage command through ($SHELL or /bin/sh -c), which stays the command's parent
_SHELLS = frozenset({"sh", "dash", "bash", "zsh", "fish", "ksh", "mksh", "busybox"})


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in STAGE_COMMANDS:
        stop_with_dvc()
        from cartal import warm

        if warm.enabled():
            code = warm.run_in_worker(argv)
            if code is not None:
                sys.exit(code)
    from cartal.cli import app

    app()


def stop_with_dvc() -> None:
    """When DVC runs this stage command (it sets DVC_STAGE) and dies, even by SIGKILL, end with SIGTERM too, as
    a parent-death signal would; a command in the warm worker then stops as well (its client's socket closes).

    A parent-death signal (prctl) would not do: DVC runs the command through `$SHELL -c` or `/bin/sh -c`; bash
    execs the command, but dash (/bin/sh on Debian and Ubuntu) stays its parent and outlives DVC. So this watches
    the nearest ancestor that is not a shell, through a pidfd.
    """
    if "DVC_STAGE" not in os.environ or not hasattr(os, "pidfd_open"):
        return
    try:
        pid = os.getppid()
        for _ in range(8):
            name, parent = _name_and_parent(pid)
            if name not in _SHELLS:
                break
            pid = parent
        if pid <= 1:  # orphaned already: DVC is gone
            import signal

            os.kill(os.getpid(), signal.SIGTERM)
        watched = os.pidfd_open(pid)
    except OSError:
        return
    import threading

    threading.Thread(target=_stop_when_gone, args=(watched,), name="stop-with-dvc", daemon=True).start()


def _name_and_parent(pid: int) -> tuple[str, int]:
    with open(f"/proc/{pid}/stat", "rb") as f:
        text = f.read().decode(errors="replace")
    name, _, rest = text[text.index("(") + 1:].rpartition(")")
    return name, int(rest.split()[1])


def _stop_when_gone(pidfd: int) -> None:
    import select
    import signal

    select.select([pidfd], [], [])  # readable when the process has ended
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    main()
