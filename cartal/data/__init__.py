"""Datasets: loading, validation, splits and the seed set."""
