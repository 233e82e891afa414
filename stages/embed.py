"""embed: prepared texts -> data/features/{train,test}.parquet with the frozen encoder (params.yaml's encoder).

Each features file records in its metadata the machines that computed its vectors (cartal.provenance).
"""

from __future__ import annotations

from cartal import layout, provenance
from cartal.encoders import embed
from cartal.io import artifacts as art
from cartal.params import Params


def run(params: Params) -> None:
    prepared = {split: art.read_table(layout.prepared(split), art.PREPARED, columns=["id", "text"])
                for split in ("train", "test")}
    features = embed({split: table.column("text").to_pylist() for split, table in prepared.items()}, params.encoder)
    tables = {split: art.table_from_columns(art.FEATURES, {"id": prepared[split].column("id"),
                                                           "vector": features.vectors[split]})
              .replace_schema_metadata({provenance.KEY: provenance.encode(features.computed_on[split])})
              for split in prepared}
    for split, table in tables.items():  # written only once both splits are embedded
        art.write_table(table, layout.features(split), art.FEATURES)
