"""Clustering: k-means (fused Lloyd and Hamerly steps in C)."""
from fastml.cluster._kmeans import KMeans, kmeans_plusplus

__all__ = ["KMeans", "kmeans_plusplus"]
