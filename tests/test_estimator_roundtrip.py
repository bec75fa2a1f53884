"""Every estimator survives pickle, copy.deepcopy and sklearn.base.clone,
unfitted and fitted, and predicts the same bits after the round trip."""
import copy
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from fastml import cluster, ensemble, neighbors, tree
from tests.fuzz.test_fuzz_estimators import ESTIMATORS

SMALL = {"n_estimators": 3, "max_iter": 3}


def _make(name):
    cls = ESTIMATORS[name][0]
    params = {k: v for k, v in SMALL.items() if k in cls().get_params()}
    return cls(**params), ESTIMATORS[name][1]


def _outputs(est, X):
    outs = []
    for method in ("predict", "predict_proba", "transform", "kneighbors"):
        if hasattr(est, method):
            r = getattr(est, method)(X)
            outs.extend(r if isinstance(r, tuple) else [r])
    return outs


def test_every_estimator_is_listed():
    exported = {f"fastml.{m.__name__.split('.')[-1]}.{n}" for m in (cluster, ensemble, neighbors, tree)
                for n in m.__all__ if n[0].isupper()}
    assert exported == set(ESTIMATORS)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_roundtrip(name, rng):
    est, kind = _make(name)
    X = rng.standard_normal((60, 4))
    y = None if kind in ("cluster", "unsupervised") else \
        (rng.integers(0, 3, 60) if kind == "classifier" else rng.standard_normal(60))
    for unfitted in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est), clone(est)):
        assert unfitted.get_params() == est.get_params()
    est.fit(X) if y is None else est.fit(X, y)
    ref = _outputs(est, X)
    assert ref
    for other in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est)):
        for a, b in zip(ref, _outputs(other, X)):
            np.testing.assert_array_equal(a, b)
    refit = clone(est)
    refit.fit(X) if y is None else refit.fit(X, y)
    if "random_state" not in est.get_params() or est.get_params()["random_state"] is not None:
        for a, b in zip(ref, _outputs(refit, X)):
            np.testing.assert_array_equal(a, b)
