"""Hypothesis profiles of the fuzz suite.

ci (default): derandomised, 200 generated cases per test (every fuzz test
drives one public name), so CI runs the same cases every time.
long: `python -m pytest tests/fuzz --hypothesis-profile=long`, a random soak.
"""
from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
          HealthCheck.large_base_example]

settings.register_profile("ci", max_examples=200, derandomize=True, deadline=None,
                          database=None, suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.load_profile("ci")
