"""cartal: Cartography Active Learning (Zhang and Plank, 2021) as a reproducible pipeline.

The package holds the logic (datasets, encoders, models, training dynamics,
query strategies, artifacts); it knows nothing about DVC. The thin stage
entry points in the project's ``stages/`` folder wire it to ``dvc.yaml``.
"""

__version__ = "0.1.0"
