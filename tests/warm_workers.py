"""Stopping the warm workers (cartal.warm) that tests started."""

from __future__ import annotations

import os
from pathlib import Path


def stop_workers(folder: Path) -> None:
    import signal

    for lock in folder.glob("*.lock"):
        text = lock.read_text().strip()
        if text.isdigit():
            try:
                os.kill(int(text), signal.SIGTERM)
            except ProcessLookupError:
                pass
