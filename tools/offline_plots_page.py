"""Writes .dvc/plots/offline-page.html: DVC's plot page with vega, vega-lite and vega-embed inlined.

dvc-render's page loads those three from a CDN, so `dvc plots show` and `dvc plots diff` draw a blank
page offline. DVC fills the project's own page instead, since .dvc/config names it
(`plots.html_template`), and that page can carry the libraries inline. The versions are the ones the
installed dvc-render's page loads; npm downloads each package and checks it against the registry's
integrity hash. Rerun this after an upgrade of dvc-render (tests/test_offline_plots.py fails until then):

    python tools/offline_plots_page.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from cartal.errors import CartalError
from cartal.io.artifacts import atomic_path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / ".dvc" / "plots" / "offline-page.html"
LICENSES = PAGE.parent / "licenses"
# what dvc-render replaces in a page (dvc_render.html.HTML.embed): a library that contains one would be mangled
PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")
# an inline script ends at the first "</script"; "<!--" and "<script" inside one change how HTML parses it
UNSAFE_INLINE = re.compile(r"</script|<!--|<script", re.IGNORECASE)
SOURCE_MAP = re.compile(r"\n//# sourceMappingURL=\S+\s*$")  # the maps are not shipped

PAGE_TEMPLATE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- dvc-render's page, with {packages} from npm inlined instead of loaded from a CDN, so that it
         draws with no network. Each package's licence is in licenses/. Written by
         tools/offline_plots_page.py: rerun it rather than editing this file. -->
{scripts}
    <style>
        table {{
            border-spacing: 15px;
        }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def cdn_packages() -> dict[str, str]:
    """The npm packages and exact versions that the installed dvc-render's page loads, in its order."""
    from dvc_render.vega import VegaRenderer

    found = dict(re.findall(r"cdn\.jsdelivr\.net/npm/([\w.-]+)@([\w.-]+)\"", VegaRenderer.SCRIPTS))
    if set(found) != {"vega", "vega-lite", "vega-embed"}:
        raise CartalError(f"dvc-render's page loads {found or 'no npm package'}, not vega, vega-lite and "
                          "vega-embed from jsDelivr; update tools/offline_plots_page.py to the new page")
    return found


def inline_script(name: str, source: str) -> str:
    """A library's code as an inline <script>, or an error if HTML or dvc-render would cut or change it."""
    source = SOURCE_MAP.sub("\n", source)
    unsafe = UNSAFE_INLINE.search(source) or next((p for p in PLACEHOLDERS if p in source), None)
    if unsafe:
        text = unsafe if isinstance(unsafe, str) else unsafe.group()
        raise CartalError(f"{name} contains {text!r}, which would break it inlined in the plot page; "
                          "load that version from a file beside the page instead")
    return f'    <script type="text/javascript">\n{source.rstrip()}\n    </script>'


def build_page(scripts: dict[str, str]) -> str:
    """The page DVC fills, the libraries (label -> code, in loading order) inlined in its head."""
    return PAGE_TEMPLATE.format(packages=", ".join(scripts),
                                scripts="\n".join(inline_script(label, code) for label, code in scripts.items()))


def unpack(name: str, version: str, folder: Path) -> Path:
    """``name@version`` from the npm registry, integrity checked by npm, unpacked into ``folder``."""
    result = subprocess.run(["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise CartalError(f"npm could not fetch {name}@{version}: {result.stderr.strip()[-500:]}")
    tarball = folder / json.loads(result.stdout)[0]["filename"]
    target = folder / name
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


def browser_build(package: Path) -> Path:
    """The file jsDelivr serves for a bare ``npm/name@version`` URL: package.json's "jsdelivr" entry."""
    manifest = json.loads((package / "package.json").read_text())
    if "jsdelivr" not in manifest:
        raise CartalError(f"{manifest['name']}@{manifest['version']} names no jsdelivr file in its package.json; "
                          "tell tools/offline_plots_page.py which build the CDN serves")
    return package / manifest["jsdelivr"]


def main() -> None:
    scripts, licenses = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, version in cdn_packages().items():
            package = unpack(name, version, Path(tmp))
            scripts[f"{name}@{version}"] = browser_build(package).read_text(encoding="utf-8")
            licenses[name] = (package / "LICENSE").read_text(encoding="utf-8")
    page = build_page(scripts)
    LICENSES.mkdir(exist_ok=True)
    for name, text in licenses.items():
        with atomic_path(LICENSES / f"{name}.LICENSE") as tmp:
            tmp.write_text(text, encoding="utf-8")
    with atomic_path(PAGE) as tmp:
        tmp.write_text(page, encoding="utf-8")
    print(f"{PAGE.relative_to(ROOT)}: {', '.join(scripts)}, {len(page.encode()) / 1e6:.2f} MB")


if __name__ == "__main__":
    try:
        main()
    except CartalError as exc:
        sys.exit(f"error: {exc}")
