"""Fixtures of the comparison tests: a known mixture and a direct density loop.

No PyMC here: the posteriors are draws scattered around given parameters (``fake_idata`` and
``saddle_1d`` from tests/conftest.py), so every number can be checked against numpy and scipy.
"""

import numpy as np
import pytest
from scipy import stats

from latentmix.params import MixtureParams

TRUTH = MixtureParams(
    np.array([0.6, 0.4]),
    np.array([[0.0, 0.0], [4.0, 1.0]]),
    np.array([[[1.0, 0.3], [0.3, 0.8]], [[0.6, -0.1], [-0.1, 1.2]]]),
    "full",
)


def _as_type(params: MixtureParams, covariance_type: str) -> MixtureParams:
    full = params.full_covariances()
    cov = {
        "full": full,
        "tied": full.mean(0),
        "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(full, axis1=1, axis2=2).mean(1),
        "tied_diag": np.diagonal(full.mean(0)).copy(),
        "tied_spherical": np.asarray(np.diagonal(full.mean(0)).mean()),
    }[covariance_type]
    return MixtureParams(params.weights, params.means, cov, covariance_type)


@pytest.fixture
def truth():
    """A two-component full-covariance mixture in two dimensions."""
    return TRUTH


@pytest.fixture
def as_type():
    """``as_type(params, covariance_type)``: the same mixture with covariances reduced."""
    return _as_type


@pytest.fixture
def scipy_log_prob():
    """``scipy_log_prob(idata, X)``: log w_k + log N(x_i | mu_k, Sigma_k) of every draw,
    shape (S, n, K), by a plain loop over scipy densities (full covariances)."""

    def log_prob(idata, X):
        post = idata.posterior
        w, m, c = (
            post[v].values.reshape(-1, *post[v].shape[2:])
            for v in ("weights", "means", "covariances")
        )
        out = np.empty((w.shape[0], X.shape[0], w.shape[1]))
        for s in range(w.shape[0]):
            for k in range(w.shape[1]):
                out[s, :, k] = np.log(w[s, k]) + stats.multivariate_normal(
                    m[s, k], c[s, k]
                ).logpdf(X)
        return out

    return log_prob
