"""Every public function and estimator is driven by a fuzz test: a new public
name without one fails here."""
import importlib
import inspect

import fastml
from tests.fuzz import test_fuzz_distances, test_fuzz_estimators, test_fuzz_nn

MODULES = ["fastml", "fastml.linalg", "fastml.cluster", "fastml.metrics", "fastml.neighbors",
           "fastml.nn", "fastml.nn.functional", "fastml.tree", "fastml.ensemble"]
FUZZ_MODULES = [test_fuzz_distances, test_fuzz_estimators, test_fuzz_nn]


def public_callables():
    names = set()
    for modname in MODULES:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            names.add(f"{modname}.{name}")
    return names


def test_every_public_name_is_fuzzed():
    covered = set().union(*(m.COVERS for m in FUZZ_MODULES))
    missing = public_callables() - covered
    assert not missing, f"public names without a fuzz test in tests/fuzz: {sorted(missing)}"


def test_every_covered_name_has_its_test():
    for mod in FUZZ_MODULES:
        for full, test in mod.COVERS.items():
            assert callable(getattr(mod, test, None)), f"{mod.__name__}: {full} -> missing {test}"


def test_fastml_version_is_public():
    assert isinstance(fastml.__version__, str)
