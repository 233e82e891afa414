"""Many experiments at once: the grid of strategies x seeds, and what they add up to.

``grid`` names the experiments, ``results`` aggregates their curves, batch
statistics and selections, ``significance`` compares strategies over seeds.
``dvc_queue`` is the one module here that drives DVC (it queues and reads
experiments); everything else works on plain frames.
"""
