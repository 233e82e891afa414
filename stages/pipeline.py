"""Not a stage: the per-round pipelines, rounds/<k>/dvc.yaml, that `cartal rounds N` writes.

Why one dvc.yaml per round rather than one `foreach` in the root dvc.yaml: DVC
re-reads and rewrites a stage's whole dvc.lock after every stage it runs. With
one lock for a 30-round experiment (185 stages, 190 KiB) that costs about 1.5 s
a stage and grows with every round; with a small lock per round it stays about
0.3 s (bench/results.md). `dvc repro` at the root still runs every round: the
report depends on their outputs.

Every stage checks the files against params.yaml (`rounds`, `oracle`) before it
runs, so a changed setting that needs other round files fails with the fix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cartal import layout
from cartal.errors import ParamsError
from cartal.io.artifacts import atomic_path
from cartal.params import Params, expected_queries

ROUNDS_DIR = layout.ROUND_PIPELINES

_HEADER = """\
# Round {k} of the active-learning loop: it trains on L_{k}, records the training dynamics, builds the data map
# and is evaluated; {query}.
# Written by `cartal rounds N`: rerun that rather than editing this file (every stage checks that it matches
# params.yaml). Paths are relative to the project root (wdir: ../..).

stages:
"""

_TRAIN = """\
  train-seed:  # a fresh, seeded learner trained on L_{k}; per-epoch probabilities of L_{k}
    wdir: ../..
    cmd: cartal train-seed {k}
    deps:
      - stages/train_seed.py
      - data/prepared/labels.json
      - data/features/train.parquet  # what learner: mlp reads
      - data/prepared/train.parquet  # what learner: transformer reads, the texts
      - data/rounds/{k}/labeled.parquet{previous}
    params:
      - seed
      - learner
      - model
      - transformer
      - cal.dynamics
      - cal.probe_features
    outs:
      - data/rounds/{k}/model.safetensors
      - data/rounds/{k}/training.parquet
      - data/rounds/{k}/first_epoch.parquet  # L's hidden layer in epoch 1, for cal.probe_features: first-epoch

  record-dynamics:  # tidy dynamics of L_{k}; hidden layer and probabilities of L_{k} and U_{k}
    wdir: ../..
    cmd: cartal record-dynamics {k}
    deps:
      - stages/record_dynamics.py
      - data/features/train.parquet
      - data/prepared/train.parquet
      - data/rounds/{k}/model.safetensors
      - data/rounds/{k}/training.parquet
      - data/rounds/{k}/labeled.parquet
      - data/rounds/{k}/pool.parquet
    params:
      - seed
      - model.eval_dropout
    outs:
      - data/rounds/{k}/dynamics.parquet
      - data/rounds/{k}/outputs.parquet

  build-map:  # confidence, variability, correctness and region of every instance in L_{k}
    wdir: ../..
    cmd: cartal build-map {k}
    deps:
      - stages/build_map.py
      - data/rounds/{k}/dynamics.parquet
      - data/rounds/{k}/labeled.parquet
      - data/prepared/train.parquet
    params:
      - map
    outs:
      - data/rounds/{k}/map.parquet
    plots:
      - data/rounds/{k}/map.csv:
          x: variability
          y: confidence
          template: datamap  # .dvc/plots/datamap.json: colour = correctness; hover: text, label, region
"""

_QUERY = """
  select:  # the strategy picks batch_size ids from U_{k}
    wdir: ../..
    cmd: cartal select {k}
    deps:
      - stages/select.py
      - data/rounds/{k}/labeled.parquet
      - data/rounds/{k}/pool.parquet
      - data/rounds/{k}/outputs.parquet
      - data/rounds/{k}/map.parquet
      - data/rounds/{k}/model.safetensors  # MC dropout runs the model
      - data/rounds/{k}/first_epoch.parquet
      - data/features/train.parquet
      - data/prepared/train.parquet  # the texts, for a learner of texts
    params:
      - oracle
      - strategy
      - strategy_args
      - batch_size
      - seed
      - cal
      - dal
      - mc
      - contrastive
    outs:
      - data/rounds/{k}/selected.parquet

  merge-labels:  # the oracle labels the batch: L_{next} = L_{k} + batch, U_{next} = U_{k} - batch
    wdir: ../..
    cmd: cartal merge-labels {k}
    deps:
      - stages/merge_labels.py
      - data/prepared/train.parquet  # {texts_note}
      - data/prepared/labels.json
      - data/rounds/{k}/labeled.parquet
      - data/rounds/{k}/pool.parquet
      - data/rounds/{k}/selected.parquet
      - metrics/rounds/{k}.json  # evaluate first: each round's accuracy is there as soon as its model is{human}
    params:
      - oracle
    outs:  # persist: labels refused as bad leave the last good L and U in place
      - data/rounds/{next}/labeled.parquet: {{persist: true}}
      - data/rounds/{next}/pool.parquet: {{persist: true}}
      - data/rounds/{next}/skipped.parquet: {{persist: true}}  # ids skipped on purpose: out of U, not in L
"""

_EVALUATE = """
  evaluate:  # round {k}'s model on the test set, and whether to stop labeling
    wdir: ../..
    cmd: cartal evaluate {k}
    deps:
      - stages/evaluate.py
      - data/prepared/labels.json
      - data/prepared/test.parquet
      - data/features/test.parquet
      - data/rounds/{k}/labeled.parquet
      - data/rounds/{k}/model.safetensors
      # the stopping criteria compare this round's predictions on the train split (L and U) with the round
      # before's; here rather than in a stage of their own, so that a round's scores and advice are one file
      - data/prepared/train.parquet  # the stop set is drawn from its ids
      - data/rounds/{k}/outputs.parquet{previous}
    params:
      - seed
      - model.eval_dropout
      - stopping
    outs:  # not DVC metrics: `dvc exp show` and `dvc metrics diff` compare metrics/summary.json, not every round
      - metrics/rounds/{k}.json:
          cache: false
"""


def round_file(k: int) -> Path:
    return layout.round_pipeline(k)


def round_stage(k: int, name: str) -> str:
    """DVC's name of round k's stage ``name``: rounds/k/dvc.yaml:name."""
    return f"{round_file(k).as_posix()}:{name}"


def round_pipelines(rounds: int, oracle: str) -> dict[Path, str]:
    """Path -> text of rounds/0..rounds/dvc.yaml; round k < rounds also selects and merges the labels."""
    texts = {}
    queries = {q.k: q for q in expected_queries(rounds, oracle)}
    for k in range(rounds + 1):
        query = queries.get(k)
        text = _HEADER.format(k=k, query=f"it also selects a batch from U_{k} and merges its labels into L_{k + 1}"
                              if query else "as the last round, it selects nothing")
        previous = (f"\n      - data/rounds/{k - 1}/model.safetensors  # read only with a warm start" if k else "")
        text += _TRAIN.format(k=k, previous=previous)
        if query:
            text += _QUERY.format(k=k, next=query.next, **_oracle_inputs(k, oracle))
        text += _EVALUATE.format(k=k, previous=(
            f"\n      - data/rounds/{k - 1}/outputs.parquet\n      - metrics/rounds/{k - 1}.json  # the kappas of the "
            "rounds before, for the window" if k else ""))
        texts[round_file(k)] = text
    return texts


def _oracle_inputs(k: int, oracle: str) -> dict[str, str]:
    """What merge-labels@k reads besides L and U: the gold labels, or the batch a person labels and their answers."""
    if oracle != "human":
        return {"texts_note": "gold: the prepared train split's labels", "human": ""}
    return {"texts_note": "the texts of the batch a person labels",
            "human": f"""
      - data/rounds/{k}/outputs.parquet  # the model's suggestion for each instance of the batch
      - {layout.annotation_dir(k).as_posix()}  # the batch file and the labels you give in it"""}


def write_round_pipelines(root: Path, rounds: int, oracle: str) -> None:
    """Replace rounds/ under ``root`` with the files of ``rounds`` rounds; dvc.lock files of kept rounds stay."""
    wanted = round_pipelines(rounds, oracle)
    base = root / ROUNDS_DIR
    if base.is_dir():
        for folder in base.iterdir():
            if folder.name.isdigit() and (ROUNDS_DIR / folder.name / "dvc.yaml") not in wanted:
                shutil.rmtree(folder)
    for path, text in wanted.items():
        target = root / path
        if not target.is_file() or target.read_text() != text:
            with atomic_path(target) as tmp:
                tmp.write_text(text)


def check_round_pipelines(root: Path, params: Params, source: str = "params.yaml") -> None:
    """Raise :class:`ParamsError` unless rounds/ holds exactly the files `cartal rounds` writes for ``params``."""
    wanted = round_pipelines(params.rounds, params.oracle)
    fix = f"run `cartal rounds {params.rounds}` to write them"
    base = root / ROUNDS_DIR
    present = {ROUNDS_DIR / p.parent.name / p.name for p in base.glob("*/dvc.yaml")} if base.is_dir() else set()
    extra = sorted(present - set(wanted), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1)
    missing = [p for p in wanted if p not in present]
    if missing or extra:
        problem = (f"{len(missing)} of them {'is' if len(missing) == 1 else 'are'} missing ({missing[0]} first)" if missing else
                   f"{extra[0]} and {len(extra) - 1} more are beyond them" if len(extra) > 1 else
                   f"{extra[0]} is beyond them")
        raise ParamsError(f"{source}: 'rounds' is {params.rounds}, so rounds/0 to rounds/{params.rounds} should "
                          f"hold the round pipelines, but {problem}; {fix}")
    for path, text in wanted.items():
        if (root / path).read_text() != text:
            raise ParamsError(f"{path} does not match {source} ('rounds' {params.rounds}, 'oracle' "
                              f"{params.oracle}) or was edited; {fix} (edits belong in stages/pipeline.py)")
