"""The reproduction's grid, aggregation, significance tests and written outputs, on small hand-made runs.

Every expected number is worked out by hand in the comments; ASO (deepsig) is called only three
times, with few bootstrap iterations, and the written reproduction uses the bootstrap fallback.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dvc.utils.hydra import apply_overrides

from cartal.errors import ParamsError
from cartal.experiments import outputs, results
from cartal.experiments.grid import Grid
from cartal.experiments.significance import compare
from cartal.params import load_params

SQRT2 = math.sqrt(2)
# accuracy at |L| = 10, 15, 20 per (strategy, seed); macro_f1 is accuracy - 0.1
ACCURACY = {("random", 1): [0.5, 0.6, 0.7], ("random", 2): [0.4, 0.6, 0.8],             # mean .45 .60 .75
            ("cartography", 1): [0.5, 0.7, 0.8], ("cartography", 2): [0.5, 0.8, 0.9],   # mean .50 .75 .85
            ("entropy", 1): [0.5, 0.55, 0.6], ("entropy", 2): [0.4, 0.5, 0.7]}          # mean .45 .525 .65
CONFIDENCE = {("random", 1): [0.1, 0.3], ("random", 2): [0.5, 0.5], ("cartography", 1): [0.2, 0.4],
              ("cartography", 2): [0.6, 0.8], ("entropy", 1): [0.0, 0.2], ("entropy", 2): [0.2, 0.2]}
HARD = {("random", 1): {0: 2, 1: 4, 2: 6}, ("random", 2): {0: 4, 1: 4, 2: 4},    # mean 3, 4, 5 of 10, 15, 20
        ("cartography", 1): {0: 1, 1: 0, 2: 0}, ("cartography", 2): {0: 1, 1: 2, 2: 3},
        ("entropy", 1): {}, ("entropy", 2): {}}                                       # not counted: no rows
# what the stopping criteria said after rounds 0, 1, 2 (the curve's stop_<criterion> columns; "kappa": stabilising
# predictions, "change": classification change); entropy ran before the criteria existed: nothing recorded
STOPS = {("random", 1): {"kappa": [0, 1, 1], "change": [0, 0, 0]},
         ("random", 2): {"kappa": [0, 0, 1], "change": [0, 0, 0]},
         ("cartography", 1): {"kappa": [0, 0, 0], "change": [0, 1, 0]},
         ("cartography", 2): {"kappa": [0, 0, 0], "change": [0, 0, 0]}, ("entropy", 1): {}, ("entropy", 2): {}}
SELECTED = {("random", 1): {0: ["a", "b"], 1: ["c", "d"]}, ("random", 2): {0: ["a", "b"], 1: ["c", "d"]},
            ("cartography", 1): {0: ["a", "e"], 1: ["c", "f"]}, ("cartography", 2): {0: ["d", "c"], 1: ["b", "a"]},
            ("entropy", 1): {0: ["x", "y"], 1: ["z", "w"]}, ("entropy", 2): {0: ["a", "y"], 1: ["z", "w"]}}


def make_run(strategy: str, seed: int, name: str | None = None) -> results.Run:
    acc = ACCURACY[strategy, seed]
    curve = pd.DataFrame({"round": [0, 1, 2], "labeled": [10, 15, 20], "accuracy": acc,
                          "macro_f1": [a - 0.1 for a in acc],
                          **{f"stop_{name}": said for name, said in STOPS[strategy, seed].items()}})
    conf = CONFIDENCE[strategy, seed]
    batches = pd.DataFrame({"round": [0, 1], "size": [5, 5], "confidence": conf,
                            "variability": [0.1, 0.3], "correctness": [1 - c for c in conf]})
    data_map = pd.DataFrame({"id": ["a", "b", "c"], "confidence": [0.9, 0.5, 0.1], "variability": [0.05, 0.3, 0.1],
                             "correctness": [1.0, 0.5, 0.0], "region": ["easy-to-learn", "ambiguous", "hard-to-learn"]})
    return results.Run(name=name or f"{strategy}-{seed}", strategy=strategy, seed=seed, curve=curve,
                       batches=batches, selected=SELECTED[strategy, seed], maps={"first": data_map, "last": data_map},
                       hard_to_learn=HARD[strategy, seed], features_computed_on=[MACHINES[seed - 1]],
                       rounds_run_on=[RUN_ON])


# the machines that computed each seed's features (cartal.provenance); seed 2's only by another library
MACHINES = [{"cpu": "AMD EPYC", "arch": "x86_64", "numpy": "2.2.6"},
            {"cpu": "AMD EPYC", "arch": "x86_64", "numpy": "2.3.0"}]
RUN_ON = {"cpu": "Intel Xeon", "arch": "x86_64", "flags": ["avx2", "avx512f"], "instructions": "AVX512",
          "torch": "2.13.0"}  # every run's rounds


@pytest.fixture
def runs() -> list[results.Run]:
    return [make_run(strategy, seed) for strategy, seed in ACCURACY]


@pytest.fixture
def long(runs) -> pd.DataFrame:
    return results.long_curves(runs)


@pytest.fixture
def grid() -> Grid:
    return Grid(dataset="trec", strategies=("random", "cartography"), seeds=(1, 2), seed_size=10, batch_size=5,
                rounds=2)


# ---------------------------------------------------------------- grid

def test_grid_names_are_strategies_times_seeds(grid):
    assert re.fullmatch(r"[0-9a-f]{6}", grid.tag)
    assert [(e.strategy, e.seed, e.name) for e in grid.experiments()] == [
        (s, seed, f"trec-{s}-{seed}-{grid.tag}") for s in ("random", "cartography") for seed in (1, 2)]
    assert grid.labeled_sizes == [10, 15, 20]


def test_tag_follows_budget_and_settings_only(grid):
    def tag(**change):
        return Grid(**{**grid.__dict__, **change}).tag
    assert tag() == grid.tag
    assert tag(strategies=("entropy",), seeds=(7, 8, 9)) == grid.tag
    for change in ({"batch_size": 6}, {"seed_size": 11}, {"rounds": 3}, {"dataset": "agnews"},
                   {"settings": ("model.epochs=3",)}):
        assert tag(**change) != grid.tag, change


def test_overrides_set_the_budget_rounds_strategy_and_seed(grid):
    experiment = grid.experiments()[3]  # cartography, seed 2
    assert set(experiment.overrides) == {
        "dataset=trec", "seed_size=10", "batch_size=5", "rounds=2", "oracle=gold", "strategy=cartography", "seed=2"}


def test_user_strategy_gets_a_git_ref_safe_name():
    grid = Grid(dataset="trec", strategies=("mymod:MyClass",), seeds=(1,), seed_size=10, batch_size=5, rounds=1)
    (experiment,) = grid.experiments()
    assert ":" not in experiment.name and experiment.name == f"trec-mymod-MyClass-1-{grid.tag}"
    assert experiment.strategy == "mymod:MyClass" and "strategy=mymod:MyClass" in experiment.overrides


@pytest.mark.parametrize("change, message", [
    ({"strategies": ("random", "random")}, "strategies are listed twice"),
    ({"seeds": (1, 2, 1)}, "seeds are listed twice"),
    ({"strategies": ()}, "at least one strategy"),
    ({"settings": ("model.epochs",)}, "must look like key=value"),
    ({"settings": ("seed=3",)}, "'seed' is set by the grid"),
    ({"settings": ("rounds=4",)}, "'rounds' is set by the grid"),
    ({"settings": ("oracle=human",)}, "'oracle' is set by the grid"),
])
def test_bad_grid_raises_params_error(grid, change, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        Grid(**{**grid.__dict__, **change})


@pytest.mark.integration  # DVC's own parameter writer
def test_overrides_make_params_that_load(tmp_path):
    grid = Grid(dataset="trec", strategies=("random", "mymod:MyClass"), seeds=(5, 6), seed_size=10, batch_size=5,
                rounds=2, settings=("model.epochs=3",))
    experiment = grid.experiments()[2]  # mymod:MyClass, seed 5
    path = tmp_path / "params.yaml"
    shutil.copy(Path(__file__).resolve().parents[1] / "params.yaml", path)  # the repository's own
    apply_overrides(str(path), list(experiment.overrides))
    params = load_params(path)
    assert (params.dataset, params.strategy, params.seed) == ("trec", "mymod:MyClass", 5)
    assert (params.seed_size, params.batch_size, params.rounds, params.model.epochs) == (10, 5, 2, 3)
    assert params.oracle == "gold" and params.query_rounds == (0, 1)


# ---------------------------------------------------------------- results

def test_long_curves(long):
    assert list(long.columns) == ["strategy", "seed", "round", "labeled", "accuracy", "macro_f1"]
    assert len(long) == 3 * 2 * 3
    assert long.iloc[0].tolist()[:4] == ["cartography", 1, 0, 10]  # sorted by strategy, seed, round
    assert long.iloc[-1].tolist()[:5] == ["random", 2, 2, 20, 0.8]


def test_mean_curves_mean_and_sample_std(long):
    means = results.mean_curves(long).set_index(["strategy", "labeled"])
    point = means.loc[("cartography", 15)]  # accuracies 0.7 and 0.8
    assert point["seeds"] == 2 and point["round"] == 1
    assert point["accuracy_mean"] == pytest.approx(0.75)
    assert point["accuracy_std"] == pytest.approx(0.1 / SQRT2)  # ddof=1: |a - b| / sqrt(2)
    assert point["accuracy_low"] == pytest.approx(0.75 - 0.1 / SQRT2)
    assert point["macro_f1_mean"] == pytest.approx(0.65)


def test_per_seed_summary_aulc_is_the_trapezoid(long):
    summary = results.per_seed_summary(long).set_index(["strategy", "seed"])
    # cartography seed 1: (0.5+0.7)/2*5 + (0.7+0.8)/2*5 = 3 + 3.75 = 6.75 over a range of 10
    assert summary.loc[("cartography", 1), "aulc"] == pytest.approx(0.675)
    assert summary.loc[("cartography", 1), "final_accuracy"] == pytest.approx(0.8)
    assert summary.loc[("random", 2), "aulc"] == pytest.approx((0.5 * 5 + 0.7 * 5) / 10)


def test_budgets():
    assert results.budgets(list(range(500, 2001, 50))) == [500, 1000, 1500, 2000]  # 31 sizes: 0, 10, 20, 30
    assert results.budgets([10, 15]) == [10, 15]


def test_strategy_table(long):
    table = results.strategy_table(long, at=[10, 20]).set_index("strategy")
    assert table.attrs["target"] == pytest.approx(0.75)  # random's final mean accuracy
    assert table.loc["cartography", "acc@20"] == pytest.approx(0.85)
    assert table.loc["cartography", "std@20"] == pytest.approx(0.1 / SQRT2)
    assert table.loc["entropy", "acc@10"] == pytest.approx(0.45)
    assert table.loc["cartography", "aulc"] == pytest.approx((0.675 + 0.75) / 2)  # seed 2: (3.25 + 4.25) / 10
    # the smallest |L| whose mean accuracy reaches 0.75: cartography at 15 (exactly .75), random at its end
    assert table.loc["cartography", "labels_to_random_final"] == 15
    assert table.loc["random", "labels_to_random_final"] == 20
    assert np.isnan(table.loc["entropy", "labels_to_random_final"])  # entropy peaks at 0.65


def test_batch_summary(runs):
    summary = results.batch_summary(runs).set_index("strategy")
    # cartography: seed 1 mean confidence 0.3, seed 2 0.7 -> 0.5, std 0.4 / sqrt(2)
    assert summary.loc["cartography", "confidence"] == pytest.approx(0.5)
    assert summary.loc["cartography", "confidence_std"] == pytest.approx(0.4 / SQRT2)
    assert summary.loc["cartography", "correctness"] == pytest.approx(0.5)
    assert summary.loc["random", "confidence"] == pytest.approx((0.2 + 0.5) / 2)
    assert summary.loc["entropy", "variability"] == pytest.approx(0.2)
    assert summary.loc["entropy", "seeds"] == 2


def test_hard_to_learn_counts_per_strategy_and_round(runs):
    table = results.hard_to_learn_table(runs).set_index(["strategy", "round"])
    assert sorted(table.index) == [(s, k) for s in ("cartography", "random") for k in range(3)]
    assert table.loc[("random", 2)].to_dict() == pytest.approx({
        "labeled": 20, "seeds": 2, "hard_mean": 5, "hard_min": 4, "hard_max": 6, "share_mean": 0.25})
    assert table.loc[("cartography", 1), "hard_mean"] == 1 and table.loc[("cartography", 1), "hard_max"] == 2
    assert results.hard_to_learn_table([make_run("entropy", 1)]).empty


def test_stopping_table_gives_the_first_stop_its_labels_saved_and_accuracy_lost(runs):
    table = results.stopping_table(runs).set_index(["strategy", "criterion"])
    assert sorted(table.index) == [(s, c) for s in ("cartography", "random") for c in ("change", "kappa")]
    # random stops by kappa at round 1 (|L| 15, acc .6 of a final .7) and round 2 (|L| 20, nothing lost)
    assert table.loc[("random", "kappa")].to_dict() == pytest.approx({
        "seeds": 2, "stopped": 2, "round_mean": 1.5, "labeled_mean": 17.5, "saved_mean": 2.5, "lost_mean": 0.05,
        "lost_max": 0.1})
    # cartography seed 1 by classification change at round 1: |L| 15, acc .7 of .8; seed 2 never
    assert table.loc[("cartography", "change"), "stopped"] == 1
    assert table.loc[("cartography", "change"), "lost_max"] == pytest.approx(0.1)
    never = table.loc[("cartography", "kappa")]
    assert never["stopped"] == 0 and np.isnan(never["round_mean"])
    assert results.stopping_table([make_run("entropy", 1)]).empty


def test_overlap_is_jaccard_averaged_over_seeds(runs):
    matrix = results.overlap(runs)
    assert np.allclose(np.diag(matrix.to_numpy()), 1.0)
    assert np.allclose(matrix.to_numpy(), matrix.to_numpy().T)
    # seed 1: {a,b,c,d} & {a,c,e,f} = 2 of 6; seed 2: the same four ids -> (1/3 + 1) / 2
    assert matrix.loc["random", "cartography"] == pytest.approx(2 / 3)
    # seed 1: nothing shared; seed 2: {a} of {a,b,c,d,y,z,w} -> (0 + 1/7) / 2
    assert matrix.loc["random", "entropy"] == pytest.approx(1 / 14)


def test_significance_table_compares_each_pair_once(long, monkeypatch):
    calls = []

    def fake_compare(a, b, seed=0, samples=1000, jobs=1):
        calls.append((list(a), list(b)))
        assert samples == 321 and jobs == 2  # the caller's choices reach the test
        return {"test": "fake", "statistic": 0.1, "reverse": 0.9, "verdict": "better", "mean_difference": 0.0}

    monkeypatch.setattr(results, "compare", fake_compare)
    progress = []
    table = results.significance_table(long, samples=321, jobs=2,
                                       on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(done, 6) for done in range(7)]  # before each test, and once when all are done
    assert list(table.columns) == ["strategy", "against", "metric", "seeds", "test", "statistic", "reverse",
                                   "verdict", "mean_difference"]
    pairs = sorted((frozenset((s, a)), m) for s, a, m in zip(table["strategy"], table["against"], table["metric"]))
    assert len(pairs) == len(set(pairs)) == 6  # 3 pairs x 2 metrics
    assert (table["seeds"] == 2).all() and len(calls) == 6
    row = table[(table["strategy"] == "cartography") & (table["against"] == "random") & (table["metric"] == "aulc")]
    assert len(row) == 1
    a, b = calls[row.index[0]]
    assert a == pytest.approx([0.675, 0.75]) and b == pytest.approx([0.6, 0.6])


# ---------------------------------------------------------------- significance

SCORES = np.array([0.70, 0.72, 0.69, 0.75, 0.71])


def test_aso_dominance_both_ways():
    pytest.importorskip("deepsig")
    better = compare(SCORES + 0.05, SCORES, samples=200)
    assert (better["test"], better["verdict"]) == ("ASO (deepsig)", "better")
    assert better["statistic"] < 0.2 and better["mean_difference"] == pytest.approx(0.05)
    worse = compare(SCORES, SCORES + 0.05, samples=200)
    assert worse["verdict"] == "worse" and worse["reverse"] < 0.2


def test_aso_no_clear_order_on_equal_noisy_scores():
    pytest.importorskip("deepsig")
    result = compare([0.80, 0.82, 0.79, 0.81, 0.80], [0.81, 0.80, 0.80, 0.79, 0.82], samples=200)
    assert result["verdict"] == "no clear order"
    assert min(result["statistic"], result["reverse"]) >= 0.2


def test_aso_gives_the_same_statistics_whatever_the_processes_that_share_its_bootstrap():
    pytest.importorskip("deepsig")
    a, b = [0.80, 0.83, 0.79, 0.81, 0.84], [0.81, 0.80, 0.78, 0.79, 0.82]
    alone, shared = compare(a, b, samples=300, jobs=1), compare(a, b, samples=300, jobs=2)
    assert shared == alone and 0 < alone["statistic"] < 1


@pytest.fixture
def no_deepsig(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepsig", None)  # `from deepsig import aso` now raises ImportError


def test_bootstrap_fallback_verdicts(no_deepsig):
    better = compare(SCORES + 0.05, SCORES)
    assert better["test"] == "paired bootstrap" and better["verdict"] == "better"
    assert better["statistic"] == 0.0 and better["reverse"] == 1.0  # every resampled mean difference is 0.05
    assert compare(SCORES, SCORES + 0.05)["verdict"] == "worse"
    # differences +-0.25 (exact in binary): mean <= 0 when at most 2 of 4 draws are positive, (1 + 4 + 6) / 16
    mixed = compare([0.75, 0.25, 0.75, 0.25], [0.5, 0.5, 0.5, 0.5], samples=2000)
    assert mixed["verdict"] == "no clear order" and 0 <= mixed["statistic"] <= 1
    assert mixed["statistic"] == pytest.approx(11 / 16, abs=0.05)
    assert mixed["reverse"] == pytest.approx(11 / 16, abs=0.05)


@pytest.mark.parametrize("blocked", [True, False])
def test_unpaired_scores_are_refused_before_any_test_runs(blocked, monkeypatch):
    if blocked:
        monkeypatch.setitem(sys.modules, "deepsig", None)
    for a, b in ((np.ones(5), np.ones(4)), (np.ones(5), np.ones(1)), (np.ones((2, 2)), np.ones((2, 2)))):
        with pytest.raises(ValueError, match="paired by seed"):
            compare(a, b)


def test_strategies_that_would_share_experiment_names_are_refused():
    with pytest.raises(ParamsError, match="would share experiment names"):
        Grid("trec", ("least-confidence", "least:confidence"), (1,), 10, 5, 2)


# ---------------------------------------------------------------- outputs

@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One reproduction written with the bootstrap fallback (no ASO calls); tests corrupt copies of it."""
    grid = Grid(dataset="trec", strategies=("random", "cartography"), seeds=(1, 2), seed_size=10, batch_size=5,
                rounds=2)
    runs = [make_run(s, seed, name=f"trec-{s}-{seed}-{grid.tag}") for s in grid.strategies for seed in grid.seeds]
    root = tmp_path_factory.mktemp("reproduction")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "deepsig", None)
        outputs.write_reproduction(runs, grid, root, elapsed_s=90.0, encoder={
            "kind": "static", "vectors": "spacy", "max_tokens": 42, "pooling": "sum"})
    return grid, root


@pytest.fixture
def reproduction(written, tmp_path):
    grid, root = written
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    return grid, tmp_path, outputs.output_dir(tmp_path, "trec")


NEEDED = ["summary.json", "curves_by_seed.csv", "curves.csv", "strategies.csv", "significance.csv",
          "batch_stats.csv", "hard_to_learn.csv", "stopping.csv", "overlap.csv", "learning_curves.png", "overlap.png",
          "data_maps.png", "results.md"]


def test_written_reproduction_is_whole(reproduction):
    grid, root, out = reproduction
    assert all((out / name).is_file() for name in NEEDED)
    assert (root / "metrics/reproduce/curves/trec.csv").is_file()
    text = (out / "results.md").read_text()
    assert all(strategy in text for strategy in grid.strategies) and "1.5 min" in text
    assert ("Features: static word vectors (spacy), sum of the first 42 tokens, computed on "
            "AMD EPYC (x86_64), numpy 2.2.6; AMD EPYC (x86_64), numpy 2.3.0; "
            "rounds run on Intel Xeon (x86_64 with avx2/avx512f, torch kernels AVX512), torch 2.13.0.") in text
    assert "## CAL's hard-to-learn class" in text and "1.0 (1-1)" in text  # cartography, round 0, |L| = 10
    # random, seed 1 stops by kappa at round 1 (|L| = 15, 0.1 lost), seed 2 at round 2; cartography never
    assert "| random      | kappa       | 2 of 2    | 1.5     | 18      | 2              | +0.050" in text
    assert "| cartography | kappa       | 0 of 2    | never   |   " in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["encoder"]["kind"] == "static" and summary["features_computed_on"] == MACHINES  # each once
    assert summary["rounds_run_on"] == [RUN_ON]
    assert len(pd.read_csv(out / "significance.csv")) == 2  # cartography vs random, on aulc and final accuracy
    assert outputs.check_reproduction(root, grid) == []


def test_a_named_reproduction_goes_beside_the_dataset_one(written, tmp_path):
    grid, root = written
    runs = [make_run(s, seed, name=f"trec-{s}-{seed}-{grid.tag}") for s in grid.strategies for seed in grid.seeds]
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "deepsig", None)
        out = outputs.write_reproduction(runs, grid, tmp_path, elapsed_s=60.0, name="trec-paper")
    assert out == tmp_path / "metrics/reproduce/trec-paper"
    assert (tmp_path / "metrics/reproduce/curves/trec-paper.csv").is_file()
    assert outputs.check_reproduction(tmp_path, grid, "trec-paper") == []
    own = "metrics/reproduce/trec/results.md"  # the dataset's own reproduction is untouched
    assert (tmp_path / own).read_bytes() == (root / own).read_bytes() and "1.5 min" in (tmp_path / own).read_text()



def _drop_point(out):
    long = pd.read_csv(out / "curves_by_seed.csv")
    long.drop(long[(long["strategy"] == "cartography") & (long["seed"] == 2) & (long["labeled"] == 15)].index) \
        .to_csv(out / "curves_by_seed.csv", index=False)


def _bad_accuracy(out):
    long = pd.read_csv(out / "curves_by_seed.csv")
    long.loc[0, "accuracy"] = 1.3
    long.to_csv(out / "curves_by_seed.csv", index=False)


@pytest.mark.parametrize("corrupt, problem", [
    (_drop_point, "cartography, seed 2: curve has |L| = [10, 20]"),
    (_bad_accuracy, "curves_by_seed.csv: 'accuracy' has values outside [0, 1]"),
    (lambda out: (out / "overlap.png").unlink(), "missing overlap.png"),
])
def test_check_reproduction_reports_a_corruption(reproduction, corrupt, problem):
    grid, root, out = reproduction
    corrupt(out)
    problems = outputs.check_reproduction(root, grid)
    assert len(problems) == 1 and problem in problems[0], problems


def test_queue_workers_share_the_cores_out_but_keep_a_limit_the_user_set(monkeypatch):
    from cartal.experiments.dvc_queue import THREAD_VARIABLES, worker_threads

    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert worker_threads(2, cores=2) == dict.fromkeys(THREAD_VARIABLES, "1")
    assert worker_threads(2, cores=8) == dict.fromkeys(THREAD_VARIABLES, "4")
    assert worker_threads(4, cores=2) == dict.fromkeys(THREAD_VARIABLES, "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert worker_threads(1, cores=2)["OMP_NUM_THREADS"] == "3"
    assert worker_threads(1, cores=2)["MKL_NUM_THREADS"] == "2"


STATUS = """Task     Name                                 Created    Status
cac54a4  trec-random-259479-0d4cd4            12:21 AM   Running
a862593  trec-random-869323-0d4cd4            12:21 AM   {second}
298d289  trec-random-398048-0d4cd4            12:21 AM   Success

Worker status: {workers} active, 0 idle
"""


def test_queue_status_is_read_with_its_worker_count():
    from cartal.experiments.dvc_queue import parse_queue_status

    status, workers = parse_queue_status(STATUS.format(second="Queued", workers=1))
    assert status == {"trec-random-259479-0d4cd4": "Running", "trec-random-869323-0d4cd4": "Queued",
                      "trec-random-398048-0d4cd4": "Success"}
    assert workers == 1
    assert parse_queue_status("Task     Name     Created    Status\n\nWorker status: 0 active, 2 idle\n")[1] == 2


def test_a_queue_worker_that_died_is_started_again_while_experiments_wait(monkeypatch, tmp_path):
    """kombu's filesystem broker can kill one of two workers with experiments still queued (seen in a full
    grid); the queue must not go on at half speed."""
    from cartal.experiments import dvc_queue

    names = ["trec-random-259479-0d4cd4", "trec-random-869323-0d4cd4"]
    # what `dvc queue status` says on each poll: both workers; one gone while an experiment waits (twice,
    # so for longer than restart_after_s); both again; everything done
    replies = iter([STATUS.format(second="Queued", workers=2), STATUS.format(second="Queued", workers=1),
                    STATUS.format(second="Queued", workers=1), STATUS.format(second="Running", workers=2),
                    STATUS.format(second="Success", workers=2)])
    commands = []

    def fake_run(args, repo, check=True, env=None, to_file=False):
        commands.append(" ".join(args[1:]))
        stdout = next(replies) if args[1:3] == ["queue", "status"] else ""
        return subprocess.CompletedProcess(args, 0, stdout, "")

    monkeypatch.setattr(dvc_queue, "_run", fake_run)
    monkeypatch.setattr(dvc_queue, "finished",
                        lambda repo: {names[0]: "abc"} if commands.count("queue status") > 4 else {})
    outcome = dvc_queue.run_queue(tmp_path, names, jobs=2, poll_seconds=0, restart_after_s=0)
    assert outcome == {names[0]: "Success", names[1]: "Success"}
    starts = [i for i, command in enumerate(commands) if command == "queue start -j 2"]
    # each start after DVC's clean of the broker, so that no stale shutdown stops the new worker
    assert len(starts) == 2 and all(commands[i - 1] == "exp clean" for i in starts)
    assert commands[starts[1] - 3:starts[1] - 1] == ["queue status", "queue status"]
    assert commands[-1] == "queue stop"


# ---------------------------------------------------------------- findings

FINDINGS = """
claims:
  - says: CAL's AULC is above random's
    higher: aulc
    strategy: cartography
    than: random
  - says: CAL's batches are more confident than random's
    batch: confidence
    strategy: cartography
    above: random
  - says: CAL's probe had one hard-to-learn instance in L0
    hard_to_learn: cartography
    round: 0
    at_least: 1
    at_most: 1
"""


def test_findings_that_the_aggregate_shows_hold(reproduction, tmp_path):
    from cartal.experiments.findings import judge, read_findings

    _, _, out = reproduction
    (tmp_path / "findings.yaml").write_text(FINDINGS)
    assert judge(read_findings(tmp_path / "findings.yaml"), out) == []


@pytest.mark.parametrize("old, new, failure", [
    ("than: random", "than: random\n    by: 0.5",
     '"CAL\'s AULC is above random\'s" no longer holds: aulc cartography 0.7125'),
    ("above: random", "below: random", "batch confidence cartography 0.500, random 0.350"),
    ("at_least: 1", "at_least: 2", "cartography had 1.0 hard-to-learn instances in round 0 (bounds 2 to 1)"),
    ("round: 0", "round: 7", "the aggregate has no 'hard-to-learn count of cartography in round 7'"),
])
def test_a_finding_the_aggregate_no_longer_shows_is_named_with_its_numbers(reproduction, tmp_path, old, new, failure):
    from cartal.experiments.findings import judge, read_findings

    _, _, out = reproduction
    (tmp_path / "findings.yaml").write_text(FINDINGS.replace(old, new))
    failures = judge(read_findings(tmp_path / "findings.yaml"), out)
    assert len(failures) == 1 and failure in failures[0], failures


@pytest.mark.parametrize("text, message", [
    ("claims: []", "non-empty list under 'claims:'"),
    ("claims: [{says: x, higher: accuracy, strategy: a, than: b}]", "'higher:' takes one of aulc, final_accuracy"),
    ("claims: [{says: x, hard_to_learn: cal, round: 0}]", "needs 'round:' and 'at_least:' or 'at_most:'"),
    ("claims: [{says: x, batch: confidence, strategy: a, below: b, above: c}]", "one of 'below:' / 'above:'"),
    ("claims: [{says: x}]", "a claim is one of"),
    ("claims: [{higher: aulc}]", "'says:' sentence"),
    ("claims: [a", "not valid YAML"),
])
def test_a_malformed_findings_file_is_refused_with_what_it_needs(tmp_path, text, message):
    from cartal.experiments.findings import read_findings

    (tmp_path / "findings.yaml").write_text(text)
    with pytest.raises(ParamsError, match=re.escape(message)):
        read_findings(tmp_path / "findings.yaml")
    with pytest.raises(ParamsError, match="does not exist"):
        read_findings(tmp_path / "absent.yaml")
