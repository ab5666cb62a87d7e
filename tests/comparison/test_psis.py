"""The PSIS-LOO kernel against ArviZ's own smoothing, observation by observation."""

import warnings

import arviz as az
import numpy as np
import pytest
from scipy.special import logsumexp as scipy_logsumexp

from latentmix.comparison.psis import logsumexp, psis_loo, tail_length


def _arviz(log_lik, reff):
    """``arviz.psislw`` and the leave-one-out terms ``arviz.loo`` computes from it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        log_weights, k = az.psislw(-log_lik, reff)
    lppd = scipy_logsumexp(log_lik, axis=1) - np.log(log_lik.shape[1])
    return scipy_logsumexp(log_weights + log_lik, axis=1), np.asarray(k), lppd


def _log_lik(n, draws, seed):
    """Rows from light to heavy tails (Pareto k from about 0 to above 1)."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.1, 5, (n, 1))
    heavy = rng.uniform(0, 2, (n, 1))
    return scale * rng.standard_normal((n, draws)) + heavy * rng.standard_t(2, (n, draws))


@pytest.mark.parametrize(
    ("n", "draws", "reff"), [(300, 4000, 0.9), (200, 400, 0.5), (600, 1000, 1.4)]
)
def test_psis_loo_is_arviz_loo_point_by_point(n, draws, reff):
    log_lik = _log_lik(n, draws, seed=n)
    loo_i, k, lppd = psis_loo(log_lik, reff)
    expected_loo, expected_k, expected_lppd = _arviz(log_lik, reff)
    np.testing.assert_allclose(lppd, expected_lppd, rtol=0, atol=1e-10)
    # The kernel sums in another order than NumPy: agreement to round-off.
    np.testing.assert_allclose(loo_i, expected_loo, rtol=0, atol=1e-10)
    np.testing.assert_allclose(k, expected_k, rtol=0, atol=1e-10)
    assert (k > 0.7).any() and (k < 0.5).any()  # both regimes were exercised


def test_rows_the_kernel_leaves_to_arviz_are_arviz_s():
    rng = np.random.default_rng(1)
    # Ties at the cutoff (rounded values), and tails of 4 values or fewer (20 draws: M = 4).
    tied = np.round(rng.standard_normal((50, 400)), 1)
    short = rng.standard_normal((30, 20))
    for log_lik in (tied, short):
        loo_i, k, _ = psis_loo(log_lik, 1.0)
        expected_loo, expected_k, _ = _arviz(log_lik, 1.0)
        np.testing.assert_allclose(loo_i, expected_loo, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(np.isinf(k), np.isinf(expected_k))
        np.testing.assert_allclose(k[np.isfinite(k)], expected_k[np.isfinite(k)], atol=1e-12)
    assert np.isinf(psis_loo(short, 1.0)[1]).all() and tail_length(20, 1.0) == 4


def test_any_layout_and_block_gives_the_same_terms():
    log_lik = _log_lik(700, 500, seed=2)
    loo_i, k, _ = psis_loo(log_lik, 1.0)
    transposed = np.ascontiguousarray(log_lik.T).T  # (n, S) read across strides
    np.testing.assert_array_equal(psis_loo(transposed, 1.0)[0], loo_i)
    np.testing.assert_array_equal(psis_loo(log_lik[:300], 1.0)[1], k[:300])
    # Likelihoods 1e300 apart within a row: no overflow in the in-sample density.
    spread = 300 * log_lik[:50]
    expected = scipy_logsumexp(spread, axis=1) - np.log(spread.shape[1])
    np.testing.assert_allclose(psis_loo(spread, 1.0)[2], expected, rtol=1e-13)
    with pytest.raises(ValueError, match=r"log_lik must be \(n, S\)"):
        psis_loo(log_lik[0], 1.0)


def test_logsumexp_is_scipy_s_with_infinities():
    rng = np.random.default_rng(3)
    a = 50 * rng.standard_normal((40, 30))
    a[0] = -np.inf
    a[1, 3] = np.inf
    for axis in (0, 1):
        np.testing.assert_allclose(
            logsumexp(a, axis=axis), scipy_logsumexp(a, axis=axis), rtol=1e-14, atol=1e-12
        )
