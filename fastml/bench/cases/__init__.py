"""The registry: each module here is a family and lists its cases in ``CASES``.

A new kernel family adds ``fastml/bench/cases/<family>.py``; nothing else
changes.  Modules are imported in name order, so the suite's order is stable.
"""
import importlib
import pkgutil


def all_cases():
    """Every registered case, family by family."""
    cases, seen = [], set()
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        for case in importlib.import_module(f"{__name__}.{info.name}").CASES:
            if case.name in seen:
                raise RuntimeError(f"two bench cases are named {case.name!r}")
            seen.add(case.name)
            cases.append(case)
    return cases


def select(cases, only=None):
    """The cases whose name or family is one of the words in ``only`` (all if empty).

    Raises ValueError naming the words that match nothing."""
    if not only:
        return list(cases)
    words = set(only)
    known = {c.name for c in cases} | {c.family for c in cases}
    unknown = sorted(words - known)
    if unknown:
        raise ValueError(f"unknown case or family {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [c for c in cases if c.name in words or c.family in words]
