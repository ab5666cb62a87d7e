"""BIC, ICL and AIC on mclust's scale against naive sums and the estimator's own methods."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from latentmix.estimator import EMGaussianMixture
from latentmix.params import MixtureParams
from latentmix.selection import criteria


def _naive(X, params: MixtureParams):
    """Log-likelihood and responsibilities by scipy, one component at a time."""
    full = params.full_covariances()
    dens = np.column_stack(
        [
            params.weights[k] * multivariate_normal(params.means[k], full[k]).pdf(X)
            for k in range(params.n_components)
        ]
    )
    return np.log(dens.sum(1)).sum(), dens / dens.sum(1, keepdims=True)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_criteria_equal_naive_sums_and_minus_the_estimators(covariance_type):
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(-2, 1, (60, 2)), rng.normal(2, 0.7, (40, 2))])
    em = EMGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    ll, resp = _naive(X, em.params_)
    p, n = em.n_parameters(), X.shape[0]
    assert criteria.bic(ll, p, n) == pytest.approx(2 * ll - p * np.log(n), rel=1e-12)
    # The estimator's bic/icl/aic keep scikit-learn's sign: ours are their negatives.
    assert criteria.bic(ll, p, n) == pytest.approx(-em.bic(X), rel=1e-9)
    assert criteria.aic(ll, p) == pytest.approx(-em.aic(X), rel=1e-9)
    icl = criteria.icl(ll, p, np.log(resp))
    hard = resp.argmax(1)
    naive_icl = 2 * ll - p * np.log(n) + 2 * np.log(resp[np.arange(n), hard]).sum()
    assert icl == pytest.approx(naive_icl, rel=1e-9)
    assert icl == pytest.approx(-em.icl(X), rel=1e-9)


@given(st.integers(2, 40), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_icl_never_exceeds_bic_and_equals_it_for_hard_assignments(n, K, seed):
    rng = np.random.default_rng(seed)
    log_resp = np.log(rng.dirichlet(np.ones(K), size=n))
    assert criteria.icl(-50.0, 7, log_resp) <= criteria.bic(-50.0, 7, n) + 1e-12
    hard = np.full((n, K), -np.inf)
    hard[np.arange(n), rng.integers(0, K, n)] = 0.0
    assert criteria.icl(-50.0, 7, hard) == criteria.bic(-50.0, 7, n)


def test_kass_raftery_bands_and_words():
    values = {"a": -100.0, "b": -101.5, "c": -105.0, "d": -109.9, "e": -130.0, "f": None}
    ranked = criteria.within(values)
    assert ranked["best"] == "a"
    assert ranked["within"] == {2.0: ["a", "b"], 6.0: ["a", "b", "c"], 10.0: ["a", "b", "c", "d"]}
    assert [criteria.evidence(d) for d in (0.0, 1.5, 5.0, 9.9, 30.0)] == [
        "not worth more than a bare mention",
        "not worth more than a bare mention",
        "positive",
        "strong",
        "very strong",
    ]
    assert criteria.within({"x": None, "y": float("nan")})["best"] is None
