"""Shared test configuration: hypothesis profiles.

`ci` (the default here): derandomized, so a run is repeatable, and no deadline, because the
machine is shared and timing is noisy. `dev`: random, more examples; select it with
`pytest --hypothesis-profile=dev`.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=1000)
settings.load_profile("ci")
