"""Fixtures of the bayes tests: posterior-like draws without PyMC.

``posterior_like`` gives the functions that build them: ``reference(covariance_type)``,
``draws_near(reference, rng, shift=0.0)``, ``idata(reference, weights, means, covariances,
X=None, diverging=None)``, ``permute(weights, means, covariances, covariance_type, rng)`` and
the run size ``N_CHAINS``, ``N_DRAWS``.
"""

from types import SimpleNamespace

import arviz as az
import numpy as np
import pytest

from latentmix.bayes.spec import covariance_dims
from latentmix.datasets import synthetic_3d
from latentmix.params import SHARED_TYPES, MixtureParams

N_CHAINS, N_DRAWS = 2, 400


def _reference(covariance_type) -> MixtureParams:
    truth = synthetic_3d().truth
    covariances = {
        "full": truth.covariances,
        "tied": truth.covariances.mean(axis=0),
        "diag": np.diagonal(truth.covariances, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(truth.covariances, axis1=1, axis2=2).mean(axis=1),
        "tied_diag": np.diagonal(truth.covariances, axis1=1, axis2=2).mean(axis=0),
        "tied_spherical": np.asarray(np.diagonal(truth.covariances, axis1=1, axis2=2).mean()),
    }[covariance_type]
    return MixtureParams(truth.weights, truth.means, covariances, covariance_type)


def _draws_near(reference: MixtureParams, rng, shift=0.0):
    """Posterior-like draws around ``reference``, in its component order."""
    K, d = reference.n_components, reference.n_features
    shape = (N_CHAINS, N_DRAWS)
    weights = reference.weights * np.exp(0.05 * rng.normal(size=(*shape, K)))
    weights /= weights.sum(-1, keepdims=True)
    means = reference.means + shift + 0.1 * rng.normal(size=(*shape, K, d))
    cov = reference.covariances
    if reference.covariance_type in ("full", "tied"):
        # scale by a random factor near one: stays positive definite
        factor = np.exp(0.05 * rng.normal(size=(*shape, *cov.shape[:-2])))
        covariances = cov * factor[..., None, None]
    else:
        covariances = cov * np.exp(0.05 * rng.normal(size=(*shape, *cov.shape)))
    return weights, means, covariances


def _idata(reference, weights, means, covariances, X=None, diverging=None):
    covariance_type = reference.covariance_type
    d = reference.n_features
    features = [f"x{j + 1}" for j in range(d)]
    coords = {"component": np.arange(reference.n_components), "feature": features}
    coords["feature_bis"] = features
    dims = {
        "weights": ["component"],
        "means": ["component", "feature"],
        "covariances": list(covariance_dims(covariance_type)),
    }
    sample_stats = {
        "diverging": np.zeros((N_CHAINS, N_DRAWS), dtype=bool) if diverging is None else diverging,
        "energy": np.random.default_rng(0).normal(size=(N_CHAINS, N_DRAWS)).cumsum(axis=1) * 0.1
        + np.random.default_rng(1).normal(size=(N_CHAINS, N_DRAWS)),
    }
    observed = None if X is None else {"x": X}
    return az.from_dict(
        posterior={"weights": weights, "means": means, "covariances": covariances},
        sample_stats=sample_stats,
        observed_data=observed,
        coords={**coords, "observation": np.arange(0 if X is None else X.shape[0])},
        dims={**dims, "x": ["observation", "feature"]},
    )


def _permute(weights, means, covariances, covariance_type, rng):
    """Apply an independent random permutation to every draw; return them too."""
    K = weights.shape[-1]
    orders = np.array([rng.permutation(K) for _ in range(N_CHAINS * N_DRAWS)])
    orders = orders.reshape(N_CHAINS, N_DRAWS, K)
    w = np.take_along_axis(weights, orders, axis=2)
    m = np.take_along_axis(means, orders[..., None], axis=2)
    if covariance_type in SHARED_TYPES:
        c = covariances
    else:
        idx = orders.reshape(orders.shape + (1,) * (covariances.ndim - 3))
        c = np.take_along_axis(covariances, idx, axis=2)
    return w, m, c, orders


@pytest.fixture
def posterior_like():
    """Builders of posterior-like draws and InferenceData (see the module docstring)."""
    return SimpleNamespace(
        N_CHAINS=N_CHAINS,
        N_DRAWS=N_DRAWS,
        reference=_reference,
        draws_near=_draws_near,
        idata=_idata,
        permute=_permute,
    )
