"""HTML pages as Debian's headless chromium draws them with no network: what a user sees offline."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: apt-get install -y "
                                                             "chromium (.ci/run installs it, so CI runs this)")
# attributes through which a page makes the browser fetch something
FETCHING = {"src", "href", "srcset", "data", "poster", "action", "formaction", "background", "manifest"}


def open_offline(page: Path, *action: str, size: str = "1200,1600") -> str:
    """Chromium's stdout after ``action`` (--dump-dom, --screenshot=...) on ``page``, every host name
    unresolvable, after 10 s of virtual time: a page that needs the network draws nothing."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--virtual-time-budget=10000", f"--window-size={size}", *action, page.as_uri()],
            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"chromium failed ({result.returncode}) on {page}:\n{result.stderr[-3000:]}")
    return result.stdout


def dom(page: Path) -> str:
    """The page's DOM once its scripts have run."""
    return open_offline(page, "--dump-dom")


def drawn_vega_views(page: Path) -> int:
    """How many vega views drew their marks into a canvas of non-zero size."""
    return sum(int(w) > 0 and int(h) > 0
               for w, h in re.findall(r'<canvas width="(\d+)" height="(\d+)" class="marks"', dom(page)))


def coloured_share(page: Path, screenshot: Path) -> float:
    """The share of the screenshot's pixels that are coloured (neither white, grey nor black): lines and
    points, not text or axes."""
    import matplotlib.image

    open_offline(page, f"--screenshot={screenshot}")
    pixels = matplotlib.image.imread(screenshot)[..., :3]
    return float(np.mean(pixels.max(axis=2) - pixels.min(axis=2) > 0.2))


def fetched_urls(html: str) -> list[str]:
    """The http(s) URLs the page's elements and styles would make a browser fetch."""
    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(value for name, value in attrs if name in FETCHING and value and "//" in value)

    Collector().feed(html)
    found += re.findall(r"""(?:url\(|@import)\s*['"]?([a-z]*:?//[^'")\s]+)""", html, re.IGNORECASE)
    return [url for url in found if re.match(r"(https?:)?//", url)]
