"""Classifiers on frozen features: the paper's MLP, linear probes, their training loop and files."""
