"""embed: prepared texts -> data/features/{train,test}.parquet with the frozen encoder."""

from __future__ import annotations

from cartal.encoders import encode
from cartal.io import artifacts as art
from cartal.params import Params
from stages import layout


def run(params: Params) -> None:
    tables = {}
    for split in ("train", "test"):
        prepared = art.read_table(layout.prepared(split), art.PREPARED, columns=["id", "text"])
        vectors = encode(prepared.column("text").to_pylist(), params.encoder.name,
                         max_length=params.encoder.max_length, batch_size=params.encoder.batch_size,
                         desc=f"embedding {split} ({len(prepared)} texts)", device=params.encoder.device)
        tables[split] = art.table_from_columns(art.FEATURES, {"id": prepared.column("id"), "vector": vectors})
    for split, table in tables.items():
        art.write_table(table, layout.features(split), art.FEATURES)
