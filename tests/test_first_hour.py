"""The README's first-hour flow, as written: after `dvc repro`, keep the result as an experiment, run a
second one, compare them and draw them; both experiments keep their results."""

from __future__ import annotations

import io
import re
import shlex

import pandas as pd
import pytest

from projects import ROOT, new_project, run

pytestmark = pytest.mark.slow


def first_hour_commands() -> list[list[str]]:
    """The commands of README's block marked first-hour, comments stripped."""
    block = re.search(r"<!-- first-hour:[^\n]*-->\n```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md has no first-hour block"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_flow_ends_with_two_comparable_experiments(tmp_path, shared_data):
    repo = new_project(tmp_path, shared_data, rounds=1, epochs=3)
    first = run(["dvc", "repro"], repo)  # the set-up command's job
    log = first.stdout + first.stderr
    assert "round 1 of 1: 150 labeled, test accuracy" in log  # where the run is, round by round
    assert re.search(r"trec, cartography, seed 398048: final test accuracy 0\.\d{4} with 150 labeled, area under "
                     r"the learning curve 0\.\d{4}; figures in metrics/curve\.png", log)  # and the summary, last
    assert log.rindex("final test accuracy") > log.rindex("Running stage")
    params = (repo / "params.yaml").read_bytes()
    outputs = [run(command, repo) for command in first_hour_commands()]
    assert [command[:2] for command in first_hour_commands()][-2:] == [["cartal", "compare"], ["dvc", "plots"]]

    table = pd.read_csv(io.StringIO(run(["cartal", "compare", "--csv"], repo).stdout)).set_index("experiment")
    assert table.loc["cal", "strategy"] == "cartography" and table.loc["random", "strategy"] == "random"
    assert table.loc[["cal", "random"], ["final_accuracy", "aulc_accuracy"]].notna().all().all()
    assert list(table.columns) == ["strategy", "final_accuracy", "final_macro_f1", "final_labeled", "aulc_accuracy"]
    printed = outputs[-2].stdout  # what the README's `cartal compare` printed
    assert re.search(r"^\s*cal\s+cartography\s+0\.\d{4}", printed, re.M)
    assert re.search(r"^\s*random\s+random\s+0\.\d{4}", printed, re.M)
    assert (repo / "dvc_plots" / "index.html").is_file() and "index.html" in outputs[-1].stdout
    run(["dvc", "exp", "apply", "cal"], repo)  # the workspace holds the last experiment's results: CAL's come back
    assert (repo / "params.yaml").read_bytes() == params
