"""report: every declared round -> metrics/curve.csv (+ PNG), summary.json, batch_stats.csv, data_maps.png.

Reads exactly the rounds that params.yaml declares, never whatever a folder holds,
so shrinking `rounds` leaves no stale round in the report.
"""

from __future__ import annotations

import logging

from cartal import layout, provenance, report
from cartal.io import artifacts as art
from cartal.io.artifacts import atomic_path
from cartal.params import Params
from cartal.plots import plot_data_maps, plot_learning_curve
from stages.pipeline import round_stage

log = logging.getLogger(__name__)


def run(params: Params) -> None:
    rounds = params.trained_rounds
    metrics = [art.read_json(layout.round_metrics(k), f"metrics of round {k}", round_stage(k, "evaluate"))
               for k in rounds]
    curve = report.learning_curve(metrics)
    selections = {k: art.ids(art.read_table(layout.in_round(k, "selected.parquet"), art.SELECTED, columns=["id"]))
                  for k in params.query_rounds}
    maps = {k: art.read_table(layout.in_round(k, "map.parquet"), art.DATA_MAP).to_pandas() for k in rounds}
    batches = report.batch_table(selections, {k: maps[k] for k in rounds[1:]})
    summary = report.summarise(curve, batches, dataset=params.dataset, strategy=params.strategy, seed=params.seed)
    # where the vectors came from and where the rounds ran: another CPU's last digits in either can change
    # what the model-driven strategies pick (docs/results.md)
    summary["features_computed_on"] = provenance.distinct(
        machine for split in ("train", "test") for machine in provenance.read(layout.features(split)))
    summary["rounds_run_on"] = provenance.distinct(m.get("machine", provenance.UNRECORDED) for m in metrics)

    with atomic_path(layout.CURVE_CSV) as tmp:
        curve.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(layout.BATCH_STATS) as tmp:
        batches.to_csv(tmp, index=False, float_format="%.6g")
    art.write_json(summary, layout.SUMMARY)
    plot_learning_curve(curve, layout.CURVE_PNG, title=f"{params.dataset}: {params.strategy}, seed {params.seed}",
                        stops=report.first_stops(curve))
    ends = dict.fromkeys((rounds[0], rounds[-1]))
    plot_data_maps({f"round {k}": maps[k] for k in ends}, layout.DATA_MAPS_PNG,
                   title=f"{params.dataset}: {params.strategy}, seed {params.seed}: data maps of L",
                   thresholds=params.map)
    log.info("%s, %s, seed %d: final test accuracy %.4f with %d labeled, area under the learning curve %.4f; "
             "figures in %s and %s, the curve in %s", params.dataset, params.strategy, params.seed,
             summary["final_accuracy"], summary["final_labeled"], summary["aulc_accuracy"], layout.CURVE_PNG,
             layout.DATA_MAPS_PNG, layout.CURVE_CSV)
