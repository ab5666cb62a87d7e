"""EM with missing cells: patterns, the marginal E-step, the M-step statistics, imputation."""

import numpy as np
import pytest
from scipy import stats

from latentmix import EMGaussianMixture
from latentmix.datasets import synthetic_3d
from latentmix.em import chunked, information, missing
from latentmix.em.missing import e_step, e_step_stats, impute, missingness_patterns, observed_data
from latentmix.params import sample_mixture


def test_patterns_group_rows_and_put_complete_first():
    X = np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0], [np.nan] * 3, [4.0, np.nan, 5.0]])
    patterns, index = missingness_patterns(X)
    np.testing.assert_array_equal(
        patterns, [[True, True, True], [True, False, True], [False, False, False]]
    )
    np.testing.assert_array_equal(index, [1, 0, 2, 1])
    np.testing.assert_array_equal(patterns[index], ~np.isnan(X))


def test_patterns_of_complete_data_are_one():
    patterns, index = missingness_patterns(np.ones((4, 2)))
    np.testing.assert_array_equal(patterns, [[True, True]])
    np.testing.assert_array_equal(index, np.zeros(4))


def test_patterns_refuse_1d():
    with pytest.raises(ValueError, match="2-D"):
        missingness_patterns(np.ones(3))


# --- the marginal E-step against naive per-row references --------------------------------------

TYPES = ("full", "tied", "diag", "spherical")


def with_holes(X, fraction, rng):
    """X with a fraction of cells deleted completely at random, every row keeping one cell."""
    X = X.copy()
    holes = rng.random(X.shape) < fraction
    holes[np.arange(X.shape[0]), rng.integers(0, X.shape[1], X.shape[0])] = False
    X[holes] = np.nan
    return X


def naive_stats(X, params, center, weights=None):
    """Expected complete-data statistics row by row, from scipy densities and conditionals."""
    n, d = X.shape
    K = params.n_components
    covs = params.full_covariances()
    w = np.ones(n) if weights is None else weights
    nk, s, T, log_lik = np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d)), 0.0
    for i in range(n):
        o = ~np.isnan(X[i])
        m = ~o
        logp = np.array(
            [
                np.log(params.weights[k])
                + stats.multivariate_normal(params.means[k, o], covs[k][np.ix_(o, o)]).logpdf(
                    X[i, o]
                )
                for k in range(K)
            ]
        )
        total = np.logaddexp.reduce(logp)
        log_lik += w[i] * total
        r = np.exp(logp - total)
        for k in range(K):
            S = covs[k]
            xhat = X[i].copy()
            C = np.zeros((d, d))
            if m.any():
                B = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
                xhat[m] = params.means[k, m] + B @ (X[i, o] - params.means[k, o])
                C[np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
            y = xhat - center
            nk[k] += w[i] * r[k]
            s[k] += w[i] * r[k] * y
            T[k] += w[i] * r[k] * (np.outer(y, y) + C)
    return nk, s, T, log_lik


def layout(T, covariance_type):
    return {
        "full": T,
        "tied": T.sum(axis=0),
        "diag": np.diagonal(T, axis1=1, axis2=2),
        "spherical": np.trace(T, axis1=1, axis2=2),
    }[covariance_type]


@pytest.mark.parametrize("covariance_type", TYPES)
def test_expected_statistics_match_a_naive_per_row_computation(covariance_type, random_params):
    rng = np.random.default_rng(1)
    params = random_params(rng, covariance_type, K=3, d=4)
    X = with_holes(sample_mixture(params, 80, rng)[0], 0.3, rng)
    center = np.nanmean(X, axis=0)
    data = observed_data(X)
    assert data.patterns.shape[0] > 3
    got, log_lik = e_step_stats(data, params, center, block_rows=16)
    nk, s, T, ll = naive_stats(X, params, center)
    np.testing.assert_allclose(got.nk, nk, rtol=1e-10)
    np.testing.assert_allclose(got.sum_x, s, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.sum_xx, layout(T, covariance_type), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(log_lik, ll, rtol=1e-11)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_row_log_likelihood_is_the_scipy_marginal_density(covariance_type, random_params):
    rng = np.random.default_rng(2)
    params = random_params(rng, covariance_type, K=2, d=3)
    X = with_holes(sample_mixture(params, 40, rng)[0], 0.4, rng)
    log_resp, sample_ll = e_step(X, params)
    covs = params.full_covariances()
    for i in range(X.shape[0]):
        o = ~np.isnan(X[i])
        logp = [
            np.log(params.weights[k])
            + stats.multivariate_normal(params.means[k, o], covs[k][np.ix_(o, o)]).logpdf(X[i, o])
            for k in range(2)
        ]
        np.testing.assert_allclose(sample_ll[i], np.logaddexp.reduce(logp), rtol=1e-12)
        np.testing.assert_allclose(log_resp[i], logp - np.logaddexp.reduce(logp), atol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_complete_data_give_the_complete_data_statistics(covariance_type, random_params):
    rng = np.random.default_rng(3)
    params = random_params(rng, covariance_type, K=3, d=3)
    X = sample_mixture(params, 200, rng)[0]
    center = X.mean(axis=0)
    got, ll = e_step_stats(observed_data(X), params, center)
    want, want_ll = chunked.e_step_stats(X, params, center)
    for a, b in zip(got[:3], want[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert ll == want_ll


def test_all_missing_row_is_refused():
    X = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, np.nan]])
    with pytest.raises(ValueError, match="row 1 of X has every cell missing"):
        observed_data(X)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_impute_is_the_conditional_mean_and_sd(covariance_type, random_params):
    rng = np.random.default_rng(4)
    params = random_params(rng, covariance_type, K=2, d=3)
    X = with_holes(sample_mixture(params, 30, rng)[0], 0.4, rng)
    filled, sd = impute(X, params, return_std=True)
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(filled[observed], X[observed])
    assert np.all(sd[observed] == 0)
    # Monte Carlo reference: draw the missing cells from the exact conditional mixture.
    covs = params.full_covariances()
    i = int(np.flatnonzero((~observed).any(axis=1))[0])
    o, m = observed[i], ~observed[i]
    resp = np.exp(e_step(X[i : i + 1], params)[0][0])
    n_draws = 40_000
    labels = rng.choice(2, size=n_draws, p=resp)
    draws = np.empty((n_draws, int(m.sum())))
    for k in range(2):
        S = covs[k]
        B = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
        mean = params.means[k, m] + B @ (X[i, o] - params.means[k, o])
        cov = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
        draws[labels == k] = rng.multivariate_normal(mean, cov, size=int((labels == k).sum()))
    np.testing.assert_allclose(filled[i, m], draws.mean(axis=0), atol=4 * sd[i, m].max() / 200)
    np.testing.assert_allclose(sd[i, m], draws.std(axis=0), rtol=0.03)


# --- curvature of the observed-data objective -------------------------------------------------


def test_central_difference_information_matches_the_exact_one_on_complete_data(random_params):
    rng = np.random.default_rng(6)
    params = random_params(rng, "full", K=2, d=2)
    X = sample_mixture(params, 200, rng)[0]
    gm = EMGaussianMixture(2, random_state=0).fit(X)
    exact = information.observed_information(X, gm.params_)
    approx = missing.observed_information(X, gm.params_)
    np.testing.assert_allclose(approx, exact, rtol=1e-5, atol=1e-5 * np.abs(exact).max())


def test_wald_intervals_on_missing_cells_are_wider_than_on_complete_data():
    X = synthetic_3d(400, 0).data
    holes = with_holes(X, 0.3, np.random.default_rng(7))
    full = EMGaussianMixture(3, random_state=0).fit(X)
    part = EMGaussianMixture(3, random_state=0, missing="ignore").fit(holes)
    se_full = full.standard_errors(X).standard_error
    se_part = part.standard_errors(holes).standard_error
    # Deleting 30% of the cells loses information about every parameter group.
    assert np.median(se_part / se_full) > 1.05
    assert np.all(np.isfinite(se_part))
