"""Ensembles of fastml's histogram trees (scikit-learn compatible).

``GradientBoostingClassifier`` / ``GradientBoostingRegressor`` (XGBoost-style
objective, leaf-wise growth), ``RandomForestClassifier`` /
``RandomForestRegressor`` (trees grown in parallel) and ``AdaBoostClassifier``
(SAMME on stumps).
"""
from fastml.ensemble._gb import GradientBoostingClassifier, GradientBoostingRegressor

__all__ = ["GradientBoostingClassifier", "GradientBoostingRegressor"]
