"""Where every artifact of a project lives, relative to its root: the one place in Python that names them.

dvc.yaml and the round pipelines (stages/pipeline.py's templates) declare the same paths for DVC. The
library reads it too (the queue reads finished experiments' files, a reproduction writes under metrics/),
so it lives here rather than in stages/, which imports it.
"""

from pathlib import Path

RAW = Path("data/raw")  # the user's own files (dataset: files); prepare depends on the folder
PREPARED = Path("data/prepared")
FEATURES = Path("data/features")
ROUNDS = Path("data/rounds")
METRICS = Path("metrics")
ANNOTATIONS = Path("annotations")  # a human round's batch and the labels given for it
ROUND_PIPELINES = Path("rounds")  # rounds/<k>/dvc.yaml, written by `cartal rounds N`

PARAMS_CHECKED = Path("data/params-checked.json")  # check-params' mark; prepare depends on it to run after
LABELS = PREPARED / "labels.json"
CURVE_CSV = METRICS / "curve.csv"
CURVE_PNG = METRICS / "curve.png"
SUMMARY = METRICS / "summary.json"
BATCH_STATS = METRICS / "batch_stats.csv"
DATA_MAPS_PNG = METRICS / "data_maps.png"
REPRODUCTIONS = METRICS / "reproduce"  # `cartal reproduce`: an aggregate per name
REPRODUCTION_CURVES = REPRODUCTIONS / "curves"  # one CSV per dataset: dvc.yaml's top-level plot reads the folder


def prepared(split: str) -> Path:
    return PREPARED / f"{split}.parquet"


def features(split: str) -> Path:
    return FEATURES / f"{split}.parquet"


def in_round(k: int, name: str) -> Path:
    """labeled/pool/training/dynamics/outputs/map/selected .parquet, model.safetensors, map.csv."""
    return ROUNDS / str(k) / name


def round_metrics(k: int) -> Path:
    return METRICS / "rounds" / f"{k}.json"


def annotation_dir(k: int) -> Path:
    """The folder where a human round k's batch waits for its labels."""
    return ANNOTATIONS / f"round-{k}"


def round_pipeline(k: int) -> Path:
    """Round k's pipeline file."""
    return ROUND_PIPELINES / str(k) / "dvc.yaml"


def reproduction(name: str) -> Path:
    """metrics/reproduce/<name>/: name is the dataset unless `cartal reproduce --name` says otherwise."""
    return REPRODUCTIONS / name
