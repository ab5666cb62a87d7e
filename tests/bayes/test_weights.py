"""Observation weights in the PyMC model: a weighted row is that row repeated.

The EM side here is EMGaussianMixture on the data with each row repeated by its (integer)
weight, under the same fixed prior: the weighted model's log-density without Jacobian at
that fit is its objective, and find_MAP on the weighted model reaches it. Fractional weights
are checked against a direct computation with scipy.stats.multivariate_normal.
One model compiled per covariance type (C backend, compile_logp), one find_MAP.
"""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from latentmix import ConjugatePrior, EMGaussianMixture, PyMCGaussianMixture
from latentmix.bayes.model import build_model, params_to_point
from latentmix.datasets import load
from latentmix.matching import match_components
from latentmix.params import COVARIANCE_TYPES, PARAMETER_NAMES
from latentmix.priors import log_prior
from latentmix.threads import single_threaded_blas

X = load("faithful").data
K = 2
# Integer weights 0..3: zero weights (rows left out) and repeats both occur.
WEIGHTS = np.random.default_rng(7).integers(0, 4, size=X.shape[0])
X_REPEATED = np.repeat(X, WEIGHTS, axis=0)


def _prior(covariance_type):
    # Fixed, from the unweighted rows: the two fits must share one prior.
    return ConjugatePrior.default(X, K, covariance_type)


@pytest.fixture(scope="module")
def em_repeated():
    """The EM MAP of the repeated rows, one per covariance type."""
    return {
        covariance_type: EMGaussianMixture(
            K, covariance_type=covariance_type, prior=_prior(covariance_type), random_state=0
        ).fit(X_REPEATED)
        for covariance_type in COVARIANCE_TYPES
    }


def _logp(model, params):
    with single_threaded_blas():
        return float(model.compile_logp(jacobian=False)(params_to_point(model, params)))


@pytest.mark.compiles
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weighted_logp_is_the_em_objective_of_the_repeated_rows(em_repeated, covariance_type):
    em = em_repeated[covariance_type]
    model = build_model(X, K, covariance_type, _prior(covariance_type), sample_weight=WEIGHTS)
    np.testing.assert_allclose(_logp(model, em.params_), em.objective_, rtol=1e-9)


@pytest.mark.compiles
def test_fractional_weights_match_a_direct_computation(em_repeated):
    params = em_repeated["full"].params_
    w = np.random.default_rng(3).uniform(0.0, 2.5, size=X.shape[0])
    w[:5] = 0.0
    model = build_model(X, K, "full", _prior("full"), sample_weight=w)
    comp = np.column_stack(
        [
            np.log(params.weights[k])
            + multivariate_normal(params.means[k], params.covariances[k]).logpdf(X)
            for k in range(K)
        ]
    )
    expected = (w * logsumexp(comp, axis=1)).sum() + log_prior(params, _prior("full"))
    np.testing.assert_allclose(_logp(model, params), expected, rtol=1e-10)


@pytest.mark.compiles
def test_find_map_on_weighted_data_reaches_the_em_map_of_the_repeated_rows(em_repeated):
    em = em_repeated["full"]
    # Start at the unweighted fit: a different point, in the same basin.
    start = EMGaussianMixture(K, prior=_prior("full"), random_state=0).fit(X).params_
    start = start.permute(match_components(start, em.params_))  # EM's labels are arbitrary
    assert np.abs(start.means - em.means_).max() > 1e-2
    found = PyMCGaussianMixture(K, prior=_prior("full")).find_map(
        X, start=start, sample_weight=WEIGHTS
    )
    for name in PARAMETER_NAMES:
        expected = getattr(em.params_, name)
        np.testing.assert_allclose(
            getattr(found, name),
            expected,
            rtol=1e-4,
            atol=1e-4 * np.abs(expected).max(),
            err_msg=name,
        )


@pytest.mark.parametrize(
    ("sample_weight", "match"),
    [
        (np.ones(X.shape[0] - 1), "has 271 weights but X has 272 rows"),
        (np.ones((X.shape[0], 1)), r"must be 1-D.*shape \(272, 1\)"),
        (np.r_[1.0, -0.5, np.ones(X.shape[0] - 2)], r"negative.*row 1 \(-0.5\)"),
        (np.r_[np.nan, np.ones(X.shape[0] - 1)], "NaN or infinite.*row 0"),
        (np.r_[np.inf, np.ones(X.shape[0] - 1)], "NaN or infinite.*row 0"),
        (np.zeros(X.shape[0]), "zero for every row"),
        (["a"] * X.shape[0], "must be numbers"),
    ],
)
def test_bad_weights_are_refused_naming_the_problem(sample_weight, match):
    with pytest.raises(ValueError, match=match):
        build_model(X, K, sample_weight=sample_weight)
    with pytest.raises(ValueError, match=match):
        PyMCGaussianMixture(K).fit(X, sample_weight=sample_weight, draws=100, chains=2)
    with pytest.raises(ValueError, match=match):
        PyMCGaussianMixture(K).find_map(X, sample_weight=sample_weight)
