"""Pairwise distances and kernels (``fastml.metrics.pairwise``)."""
from fastml.metrics import pairwise
from fastml.metrics.pairwise import (linear_kernel, pairwise_distances, polynomial_kernel,
                                     rbf_kernel, sigmoid_kernel)

__all__ = ["pairwise", "pairwise_distances", "linear_kernel", "polynomial_kernel", "rbf_kernel",
           "sigmoid_kernel"]
