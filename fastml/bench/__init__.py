"""Microbenchmarks of fastml against its peers: ``python -m fastml.bench``.

Each case is defined once in ``fastml/bench/cases/<family>.py`` (see
``fastml.bench._case.Case``) and feeds the command line, ``benchmarks/``
(pytest-benchmark) and the smoke test in ``tests/bench/``.  The timing
harness (``_harness``) is separate from printing and files (``_report``).
"""
from fastml.bench._case import Case, Peer
from fastml.bench.cases import all_cases, select

__all__ = ["Case", "Peer", "all_cases", "select"]
