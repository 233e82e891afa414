"""The `cartal` executable: stage commands go to the warm worker when there is one (see cartal.warm).

Kept to the standard library: this module runs before every DVC stage, and
the point is to start nothing heavy here.
"""

from __future__ import annotations

import sys

# the commands dvc.yaml and rounds/<k>/dvc.yaml call (cartal.cli.STAGES; a test checks they agree)
STAGE_COMMANDS = frozenset({"check-params", "prepare", "embed", "train-seed", "record-dynamics", "build-map",
                            "select", "merge-labels", "evaluate", "report"})


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in STAGE_COMMANDS:
        from cartal import warm

        if warm.enabled():
            code = warm.run_in_worker(argv)
            if code is not None:
                sys.exit(code)
    from cartal.cli import app

    app()


if __name__ == "__main__":
    main()
