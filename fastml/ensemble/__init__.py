"""Ensembles of fastml's histogram trees (scikit-learn compatible).

``GradientBoostingClassifier`` / ``GradientBoostingRegressor`` (XGBoost-style
objective, leaf-wise growth), ``RandomForestClassifier`` /
``RandomForestRegressor`` (trees grown in parallel) and ``AdaBoostClassifier``
(SAMME on stumps).
"""
from fastml.ensemble._forest import RandomForestClassifier, RandomForestRegressor
from fastml.ensemble._gb import GradientBoostingClassifier, GradientBoostingRegressor
from fastml.ensemble._weight_boosting import AdaBoostClassifier

__all__ = ["AdaBoostClassifier", "GradientBoostingClassifier", "GradientBoostingRegressor",
           "RandomForestClassifier", "RandomForestRegressor"]
