"""Fixtures and settings shared by the whole suite.

Every random draw in the suite is seeded: tests take ``np.random.default_rng(seed)`` with an
explicit seed, and Hypothesis runs derandomised (its examples are a function of the test, not
of the clock), so two runs of the suite see the same data.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from latentmix.params import MixtureParams

settings.register_profile(
    "latentmix",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("latentmix")


def make_random_params(rng, covariance_type, K=3, d=3, *, offset=0.0) -> MixtureParams:
    """A random mixture: well-conditioned covariances, Dirichlet(3) weights, spread means."""
    means = rng.normal(scale=3.0, size=(K, d)) + offset
    A = rng.normal(size=(K, d, d))
    full = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    covariances = {
        "full": full,
        "tied": full[0],
        "diag": rng.uniform(0.3, 3.0, size=(K, d)),
        "spherical": rng.uniform(0.3, 3.0, size=K),
    }[covariance_type]
    return MixtureParams(rng.dirichlet(np.full(K, 3.0)), means, covariances, covariance_type)


@pytest.fixture
def random_params():
    """``random_params(rng, covariance_type, K=3, d=3, offset=0.0)``: see make_random_params."""
    return make_random_params
