"""Artifacts on disk: schemas, atomic writes, checked reads."""
