"""HTML pages as Debian's headless chromium draws them with no network: what a user sees offline."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
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


# vega-embed keeps the views it makes to itself; this wraps it as the page defines it, so that a test can
# ask a plot's view for its scales and put the mouse on a given point
_KEEP_VIEWS = """
Object.defineProperty(window, "vegaEmbed", {configurable: true,
  get() { return this.__keptEmbed; },
  set(embed) {
    window.vegaViews = {};
    this.__keptEmbed = Object.assign((el, spec, options) => embed(el, spec, options).then(result => {
      window.vegaViews[el] = result.view; return result; }), embed);
  }});
"""


def hover_tooltip(page: Path, plot: str, point_id: str, screenshot: Path | None = None) -> dict[str, str]:
    """The tooltip chromium shows with the mouse on the point whose datum has the id ``point_id`` in the vega
    plot whose div is ``plot`` (field title -> value), the page opened offline (every request that is not a
    file is refused); ``screenshot``: the page with that tooltip, as a PNG. Where points overlap, the tooltip
    is the topmost one's, as a user would see it."""
    with _tab(1000, 700, allowed=r"file:") as tab:
        tab.add_init_script(_KEEP_VIEWS)
        tab.goto(page.as_uri())
        tab.wait_for_function(f"window.vegaViews && window.vegaViews['#{plot}']", timeout=30000)
        tab.locator(f"#{plot}").scroll_into_view_if_needed()
        at = tab.evaluate(_WHERE_IS, [plot, point_id])
        if at is None:
            raise AssertionError(f"no point with id {point_id!r} is drawn in the plot {plot}")
        tab.mouse.move(at[0], at[1])
        tooltip = tab.locator("#vg-tooltip-element.visible")
        tooltip.wait_for(timeout=10000)
        if screenshot is not None:
            tab.screenshot(path=str(screenshot))
        return _fields(tooltip.inner_text())


def label_studio_line(url: str, user: str, password: str, path: str, starts: str,
                      screenshot: Path | None = None) -> str:
    """The line of Label Studio's page ``path`` (a task's labeling view) that starts with ``starts``, as chromium
    shows it to ``user`` logged in through the login form; every request to another host than the server's is
    refused. ``screenshot``: the page, as a PNG."""
    with _tab(1300, 800, allowed=rf"{re.escape(url)}[/?]") as tab:
        tab.goto(f"{url}/user/login/")
        tab.fill("input[name=email]", user)
        tab.fill("input[name=password]", password)
        tab.click("button[type=submit], input[type=submit]")
        tab.wait_for_url(re.compile(r"^(?!.*/user/login).*$"), timeout=60000)
        tab.goto(url + path)
        line = tab.get_by_text(starts).first
        line.wait_for(timeout=60000)  # the labeling view is drawn by scripts after the page loads
        if screenshot is not None:
            tab.screenshot(path=str(screenshot))
        return line.inner_text()


@contextmanager
def _tab(width: int, height: int, allowed: str):
    """A tab of headless chromium (playwright) in which every request whose URL does not start with the
    pattern ``allowed`` is refused."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        try:
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.route(re.compile(rf"^(?!{allowed}).*"), lambda route: route.abort())
            yield tab
        finally:
            browser.close()


def _fields(text: str) -> dict[str, str]:
    """vega-tooltip's table as its text reads ("title:\\t\\nvalue" a row) -> {title: value}."""
    return {title.strip(): value.strip() for title, value in re.findall(r"([^\n]+):\t\n([^\n]*)", text)}


# the page position of a drawn symbol: its x, y within its group, plus every enclosing group's offset, the view's
# origin and padding, and the canvas's place on the page
_WHERE_IS = """([plot, id]) => {
    const view = window.vegaViews['#' + plot];
    const find = (mark, x, y) => {
        for (const item of mark.items || []) {
            if (mark.marktype === 'symbol' && item.datum && item.datum.id === id) return [x + item.x, y + item.y];
            if (mark.marktype === 'group') {
                for (const child of item.items || []) {
                    const found = find(child, x + (item.x || 0), y + (item.y || 0));
                    if (found) return found;
                }
            }
        }
        return null;
    };
    const [left, top] = view.origin(), padding = view.padding();  // the renderer adds the padding to the origin
    const found = find(view.scenegraph().root, left + padding.left, top + padding.top);
    if (!found) return null;
    const box = view.container().querySelector('canvas').getBoundingClientRect();
    return [box.left + found[0], box.top + found[1]];
}"""
