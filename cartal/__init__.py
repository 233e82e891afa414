"""cartal: Cartography Active Learning (Zhang and Plank, 2021) as a reproducible pipeline.

The library (datasets, encoders, models, training dynamics, query strategies,
artifacts) knows nothing about DVC. What drives DVC sits apart: cartal.experiments
(the grid, queues, reproductions), cartal.cli, cartal.launch and cartal.warm
(the command line and its warm worker). The thin stage entry points in the
project's ``stages/`` folder wire the library to ``dvc.yaml``.
"""

__version__ = "0.1.0"
