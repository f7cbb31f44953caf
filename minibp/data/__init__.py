"""Data: mini-batch iteration (and, as they land, the MNIST loaders)."""

from .batches import check_mini_batch_size, minibatch_indices

__all__ = ["check_mini_batch_size", "minibatch_indices"]
