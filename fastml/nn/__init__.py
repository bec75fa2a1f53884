"""Neural-network kernels: ``fastml.nn.functional`` mirrors ``torch.nn.functional``
on NumPy arrays (float32/float64), with flash-style attention and fused
transformer kernels."""
from fastml.nn import functional

__all__ = ["functional"]
