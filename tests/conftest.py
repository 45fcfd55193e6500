"""Suite-wide settings.

Hypothesis: no per-example deadline. The suite runs on shared, noisy 2-core machines, where a
scheduling stall can exceed any fixed deadline; correctness, not wall-clock time, is what the
tests assert (timeouts are still enforced by pytest-timeout).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# The fake broker's fixtures (`fake`, `make_fake`) for any test directory.
pytest_plugins = ["support.fake_broker.fixtures"]

settings.register_profile("pulsarload", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pulsarload")
