"""Dense linear algebra on fastml's own GEMM."""
from fastml.linalg._matmul import matmul

__all__ = ["matmul"]
