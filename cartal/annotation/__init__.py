"""Human labeling rounds: hand a batch to an annotation tool and read its labels back."""
