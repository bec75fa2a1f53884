"""Plain NumPy references, written for clarity, not speed."""
import numpy as np


def matmul(a, b):
    """(..., m, k) @ (..., k, n) in float64 by explicit sums over k."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.einsum("...ik,...kj->...ij", a, b)
