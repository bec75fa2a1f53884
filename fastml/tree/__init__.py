"""Decision trees on histograms (scikit-learn compatible).

``DecisionTreeClassifier`` (Gini / entropy) and ``DecisionTreeRegressor``
(squared error), grown by fastml's C grower: binned features, histogram
subtraction, one prefix scan per feature, NaN routed by a learned direction.
"""
from fastml.tree._classes import DecisionTreeClassifier, DecisionTreeRegressor

__all__ = ["DecisionTreeClassifier", "DecisionTreeRegressor"]
