"""Where every artifact lives. dvc.yaml declares the same paths; this is the one place in Python."""

from pathlib import Path

RAW = Path("data/raw")  # the user's own files (dataset: files); prepare depends on the folder
PREPARED = Path("data/prepared")
FEATURES = Path("data/features")
ROUNDS = Path("data/rounds")
METRICS = Path("metrics")

PARAMS_CHECKED = Path("data/params-checked.json")  # check-params' mark; prepare depends on it to run after
LABELS = PREPARED / "labels.json"
CURVE_CSV = METRICS / "curve.csv"
CURVE_PNG = METRICS / "curve.png"
SUMMARY = METRICS / "summary.json"
BATCH_STATS = METRICS / "batch_stats.csv"
DATA_MAPS_PNG = METRICS / "data_maps.png"


def prepared(split: str) -> Path:
    return PREPARED / f"{split}.parquet"


def features(split: str) -> Path:
    return FEATURES / f"{split}.parquet"


def in_round(k: int, name: str) -> Path:
    """labeled/pool/training/dynamics/outputs/map/selected .parquet, model.safetensors, map.csv."""
    return ROUNDS / str(k) / name


def round_metrics(k: int) -> Path:
    return METRICS / "rounds" / f"{k}.json"
