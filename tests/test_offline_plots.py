"""`dvc plots show` and `dvc plots diff`, typed as a user types them, give pages that draw with no network:
.dvc/config names .dvc/plots/offline-page.html, which carries vega, vega-lite and vega-embed inline."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from browser import coloured_share, drawn_vega_views, fetched_urls, hover_tooltip, needs_chromium
from cartal.errors import CartalError
from projects import ROOT, new_project, run

SEED_SIZE, BATCH, ROUNDS, EPOCHS = 40, 20, 1, 3
PAGE = ROOT / ".dvc" / "plots" / "offline-page.html"


def generator():
    spec = importlib.util.spec_from_file_location("offline_plots_page", ROOT / "tools" / "offline_plots_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_inlines_what_the_installed_dvc_render_loads_from_its_cdn():
    page = PAGE.read_text(encoding="utf-8")
    packages = generator().cdn_packages()
    inlined = ", ".join(f"{name}@{version}" for name, version in packages.items())
    assert f"with {inlined} from npm inlined" in page, "rerun python tools/offline_plots_page.py"
    assert all((PAGE.parent / "licenses" / f"{name}.LICENSE").is_file() for name in packages)
    assert "{plot_divs}" in page and "{scripts}" not in page  # dvc-render's CDN tags have nowhere to go
    assert PAGE.stat().st_size < 2e6


def test_a_library_that_would_break_inlined_is_refused():
    with pytest.raises(CartalError, match="'</script'"):
        generator().inline_script("x@1", 'var a = "</script>";')
    with pytest.raises(CartalError, match="'{plot_divs}'"):
        generator().inline_script("x@1", 'var a = "{plot_divs}";')


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data) -> Path:
    """A project after `dvc repro` and its commit, then a random-strategy experiment named `random`."""
    repo = new_project(tmp_path_factory.mktemp("plots"), shared_data, ROUNDS, EPOCHS,
                       seed_size=SEED_SIZE, batch_size=BATCH, strategy="cartography")
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "first run"], repo)
    run(["dvc", "exp", "run", "-n", "random", "-S", "strategy=random"], repo)
    return repo


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("command", [["dvc", "plots", "show"], ["dvc", "plots", "diff", "HEAD", "random"]],
                         ids=["show", "diff"])
def test_the_plot_page_draws_every_plot_offline(project, command, tmp_path):
    run(command, project)
    page = project / "dvc_plots" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert fetched_urls(html) == []
    with_data = ["metrics_curve_csv"] + [f"data_rounds_{k}_map_csv" for k in range(ROUNDS + 1)]
    assert set(re.findall(r"vegaEmbed\('#(\w+)'", html)) == {*with_data, "metrics_reproduce_curves"}
    # chromium, every host unresolvable, drew each plot that has data (`cartal reproduce` ran none here)
    assert drawn_vega_views(page) == len(with_data)
    assert coloured_share(page, tmp_path / "page.png") > 0.002  # lines and points, not an empty frame


@pytest.mark.slow
@needs_chromium
def test_a_point_of_the_data_map_tells_its_text_label_region_and_batch_on_hover(project, tmp_path):
    import numpy as np
    import pandas as pd

    run(["dvc", "plots", "show"], project)
    data_map = pd.read_csv(project / f"data/rounds/{ROUNDS}/map.csv", keep_default_na=False)
    labeled = pd.read_parquet(project / f"data/rounds/{ROUNDS}/labeled.parquet").set_index("id")
    prepared = pd.read_parquet(project / "data/prepared/train.parquet").set_index("id")
    newest = data_map[data_map["newest_batch"] == 1]
    # the batch round 0 selected is in round 1's map, marked, with each one's gold label and text
    assert len(newest) == BATCH and (labeled.loc[newest["id"], "round"] == ROUNDS).all()
    assert (data_map["label"].to_numpy() == labeled.loc[data_map["id"], "label"].to_numpy()).all()
    assert all(prepared.loc[i, "text"].startswith(t.rstrip("…")) for i, t in zip(data_map["id"], data_map["text"]))
    # the newest point farthest from the others on the screen (x spans the variabilities, y confidence 0 to 1)
    x, y = data_map["variability"] / data_map["variability"].max(), data_map["confidence"]
    gaps = [((x - x[i]) ** 2 + (y - y[i]) ** 2).drop(i).min() for i in newest.index]
    target = newest.index[int(np.argmax(gaps))]
    shot = tmp_path / "data-map.png"
    shown = hover_tooltip(project / "dvc_plots" / "index.html", f"data_rounds_{ROUNDS}_map_csv",
                          data_map.loc[target, "id"], screenshot=shot)
    # what the tooltip says is the point's own row: its text, gold label, region, round and batch
    row = data_map.set_index("id").loc[shown["id"]]
    assert shown["text"] == row["text"] and shown["gold label"] == row["label"] and shown["region"] == row["region"]
    assert shown["labeled in round (0: seed set)"] == str(row["labeled_in_round"])
    assert shown["newest batch (1: selected by the last query)"] == str(row["newest_batch"])
    assert float(shown["confidence"]) == pytest.approx(row["confidence"], abs=5e-4)
    assert shot.stat().st_size > 10_000
