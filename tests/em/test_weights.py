"""Observation weights: every bad input, the weighted kernel, integer weights == repeated rows."""

import warnings

import numpy as np
import pytest

from latentmix import ConjugatePrior, EMGaussianMixture
from latentmix.em import intervals, kernels
from latentmix.em.estep import e_step
from latentmix.em.fit import ConvergenceWarning
from latentmix.em.mstep import sufficient_statistics
from latentmix.params import COVARIANCE_TYPES, MixtureParams, sample_mixture
from latentmix.validation import check_sample_weight


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (np.ones(4), "has 4 weights but X has 5 rows"),
        (np.ones((5, 1)), "must be 1-D"),
        ([1, 1, -1, 1, 1], "negative value.*row 2"),
        ([1, 1, np.nan, 1, 1], "NaN or infinite.*row 2"),
        ([1, np.inf, 1, 1, 1], "NaN or infinite.*row 1"),
        (np.zeros(5), "zero for every row"),
        (["a", 1, 1, 1, 1], "must be numbers"),
    ],
)
def test_bad_weights_are_refused_with_the_reason(weights, match):
    with pytest.raises(ValueError, match=match):
        check_sample_weight(weights, 5)


def test_good_weights_pass_as_float():
    w = check_sample_weight([0, 1, 2, 0.5, 3], 5)
    assert w.dtype == float
    np.testing.assert_array_equal(w, [0, 1, 2, 0.5, 3])


# --- the weighted fit ---------------------------------------------------------------------------

TYPES = COVARIANCE_TYPES


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(0, 1, (n // 2, 2)), rng.normal(4, 1.5, (n - n // 2, 2))])
    return X, rng.integers(0, 4, n)


def _start(X, covariance_type):
    """A fixed start, so that both fits run from the same point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = EMGaussianMixture(2, covariance_type=covariance_type, n_init=1, max_iter=2)
        return gm.set_params(random_state=0).fit(X).params_


@pytest.mark.parametrize("prior", [None, "default"])
@pytest.mark.parametrize("covariance_type", TYPES)
def test_integer_weights_are_rows_repeated(covariance_type, prior):
    X, counts = _data()
    counts[0] = 0  # a zero weight drops the row
    repeated = np.repeat(X, counts, axis=0)
    start = _start(X, covariance_type)
    kwargs = dict(covariance_type=covariance_type, init=start, prior=prior, tol=0, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = EMGaussianMixture(2, **kwargs).fit(X, sample_weight=counts)
        rows = EMGaussianMixture(2, **kwargs).fit(repeated)
    for a, b in zip(weighted.params_[:3], rows.params_[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weighted.objective_history_, rows.objective_history_, rtol=1e-12)


def test_integer_weights_with_missing_cells_are_rows_repeated():
    X, counts = _data(1)
    X[::6, 0] = np.nan
    X[1::6, 1] = np.nan
    repeated = np.repeat(X, counts, axis=0)
    start = _start(np.nan_to_num(X, nan=2.0), "full")
    kwargs = dict(init=start, missing="ignore", prior="default", tol=0, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = EMGaussianMixture(2, **kwargs).fit(X, sample_weight=counts)
        rows = EMGaussianMixture(2, **kwargs).fit(repeated)
    for a, b in zip(weighted.params_[:3], rows.params_[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.prior_.scale, rows.prior_.scale, rtol=1e-9)


def test_unit_weights_are_the_unweighted_fit_bit_for_bit():
    X, _ = _data(2, n=300)
    a = EMGaussianMixture(2, random_state=0, n_init=2).fit(X)
    b = EMGaussianMixture(2, random_state=0, n_init=2).fit(X, sample_weight=np.ones(300))
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)
    np.testing.assert_allclose(a.objective_history_, b.objective_history_, rtol=1e-13)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_weighted_kernel_matches_weighted_sums(covariance_type, random_params):
    rng = np.random.default_rng(5)
    params = random_params(rng, covariance_type, K=3, d=3)
    X = sample_mixture(params, 100, rng)[0]
    w = rng.uniform(0, 3, 100)
    center = X.mean(axis=0)
    plan = kernels.make_plan(params, center)
    stats, ll = kernels.moments_to_stats(
        kernels.moments_over_blocks(X, plan, block_rows=32, sample_weight=w), plan
    )
    log_resp, sample_ll = e_step(X, params)
    resp = np.exp(log_resp) * w[:, None]
    want = sufficient_statistics(X, resp, covariance_type, center)
    np.testing.assert_allclose(ll, w @ sample_ll, rtol=1e-12)
    np.testing.assert_allclose(stats.nk, want.nk, rtol=1e-12)
    np.testing.assert_allclose(stats.sum_x, want.sum_x, rtol=1e-10, atol=1e-10)
    if covariance_type != "tied":  # tied: sufficient_statistics assumes rows of r sum to one
        np.testing.assert_allclose(stats.sum_xx, want.sum_xx, rtol=1e-10, atol=1e-10)
    else:
        Xc = X - center
        np.testing.assert_allclose(stats.sum_xx, (Xc * w[:, None]).T @ Xc, rtol=1e-10)


def test_weights_of_the_wrong_length_in_fit():
    X, _ = _data()
    with pytest.raises(ValueError, match="has 59 weights but X has 60 rows"):
        EMGaussianMixture(2).fit(X, sample_weight=np.ones(59))


def test_weights_scale_the_likelihood_not_the_prior():
    """Doubling every weight doubles the log-likelihood term of the objective only."""
    X, _ = _data(3)
    prior = ConjugatePrior.default(X, 2)
    start = _start(X, "full")
    kwargs = dict(init=start, prior=prior, tol=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        two = EMGaussianMixture(2, **kwargs).fit(X, sample_weight=np.full(60, 2.0))
    from latentmix.em.fit import map_log_prior

    ll = e_step(X, two.params_)[1].sum()
    np.testing.assert_allclose(two.log_likelihood_, 2 * ll, rtol=1e-12)
    np.testing.assert_allclose(two.log_prior_, map_log_prior(two.params_, prior), rtol=1e-12)


# --- uncertainty with weights -------------------------------------------------------------------


def _separated(n=300, seed=0):
    truth = MixtureParams(
        np.array([0.4, 0.6]),
        np.array([[-3.0, 0.0], [3.0, 1.0]]),
        np.array([1.0, 0.7]),
        "spherical",
    )
    return truth, sample_mixture(truth, n, seed)[0]


def test_weighted_bootstrap_agrees_with_wald_on_a_separated_sample():
    _, X = _separated()
    gm = EMGaussianMixture(2, covariance_type="spherical", random_state=0).fit(X)
    boot = intervals.bootstrap(gm.params_, X, resample="weighted", n_boot=150, random_state=1)
    wald = intervals.standard_errors(gm.params_, X)
    assert boot.source == "bootstrap_weighted"
    assert boot.n_failed == 0
    np.testing.assert_allclose(boot.standard_error, wald.standard_error, rtol=0.3)
    again = intervals.bootstrap(gm.params_, X, resample="weighted", n_boot=150, random_state=1)
    np.testing.assert_array_equal(boot.draws, again.draws)


def test_wald_with_integer_weights_is_wald_with_rows_repeated():
    _, X = _separated(120, 1)
    counts = np.random.default_rng(2).integers(1, 4, 120)
    gm = EMGaussianMixture(2, covariance_type="spherical", random_state=0)
    params = gm.fit(X, sample_weight=counts).params_
    weighted = intervals.standard_errors(params, X, sample_weight=counts)
    repeated = intervals.standard_errors(params, np.repeat(X, counts, axis=0))
    np.testing.assert_allclose(weighted.standard_error, repeated.standard_error, rtol=1e-5)
