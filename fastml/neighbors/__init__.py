"""Exact nearest neighbours: ``knn``, ``radius_neighbors`` and the scikit-learn
estimators ``NearestNeighbors``, ``KNeighborsClassifier``, ``KNeighborsRegressor``."""
from fastml.neighbors._estimators import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from fastml.neighbors._search import knn, radius_neighbors

__all__ = ["knn", "radius_neighbors", "NearestNeighbors", "KNeighborsClassifier",
           "KNeighborsRegressor"]
