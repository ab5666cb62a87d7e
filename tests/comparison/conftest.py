"""Fixtures of the comparison tests: a known mixture and posterior-like draws around it.

No PyMC here: the posteriors are draws scattered around given parameters, shaped like
PyMCGaussianMixture's InferenceData, so every number can be checked against numpy and scipy.
"""

import arviz as az
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

COVARIANCE_DIMS = {
    "full": ["component", "feature", "feature_bis"],
    "tied": ["feature", "feature_bis"],
    "diag": ["component", "feature"],
    "spherical": ["component"],
}


def _as_type(params: MixtureParams, covariance_type: str) -> MixtureParams:
    full = params.full_covariances()
    cov = {
        "full": full,
        "tied": full.mean(0),
        "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(full, axis1=1, axis2=2).mean(1),
    }[covariance_type]
    return MixtureParams(params.weights, params.means, cov, covariance_type)


def _fake_idata(params: MixtureParams, chains=2, draws=200, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    C, S = chains, draws
    K, d = params.means.shape
    weights = rng.dirichlet(params.weights * 400, size=(C, S))
    means = params.means + spread * rng.standard_normal((C, S, K, d))
    covariance_type = params.covariance_type
    cov = np.asarray(params.covariances)
    if covariance_type in ("full", "tied"):
        stack = cov if covariance_type == "full" else cov[None]
        df = 300
        out = np.stack(
            [
                stats.invwishart(df, c * (df - d - 1))
                .rvs(C * S, random_state=rng)
                .reshape(C, S, d, d)
                for c in stack
            ],
            axis=2,
        )
        covariances = out if covariance_type == "full" else out[:, :, 0]
    else:
        covariances = cov * np.exp(spread * rng.standard_normal((C, S, *cov.shape)))
    return az.from_dict(
        posterior={"weights": weights, "means": means, "covariances": covariances},
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": COVARIANCE_DIMS[covariance_type],
        },
    )


@pytest.fixture
def truth():
    """A two-component full-covariance mixture in two dimensions."""
    return TRUTH


@pytest.fixture
def as_type():
    """``as_type(params, covariance_type)``: the same mixture with covariances reduced."""
    return _as_type


@pytest.fixture
def fake_idata():
    """``fake_idata(params, chains=2, draws=200, spread=0.05, seed=0)``: an InferenceData
    shaped like PyMCGaussianMixture's, with draws scattered around ``params``."""
    return _fake_idata


@pytest.fixture
def saddle_1d():
    """Bimodal 1-D data and two identical, too narrow components at its mean.

    Splitting the two means raises the likelihood and the posterior, so the information
    matrix there (likelihood or posterior) has negative eigenvalues.
    """
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3, 1, (100, 1)), rng.normal(3, 1, (100, 1))])
    v = X.var() / 4
    saddle = MixtureParams(
        np.array([0.5, 0.5]), np.full((2, 1), X.mean()), np.full((2, 1, 1), v), "full"
    )
    return X, saddle


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
