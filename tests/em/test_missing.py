"""EM with missing cells: patterns, the marginal E-step, the M-step statistics, imputation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from latentmix import EMGaussianMixture
from latentmix.datasets import synthetic_3d
from latentmix.em import chunked, information, missing
from latentmix.em.fit import EMOptions, fit_em, run_em
from latentmix.em.missing import e_step, e_step_stats, impute, missingness_patterns, observed_data
from latentmix.em.parameterisation import from_unconstrained, to_unconstrained
from latentmix.matching import align
from latentmix.params import COVARIANCE_TYPES, MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior


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
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ll, want_ll, rtol=1e-14)


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


# --- the fit ---------------------------------------------------------------------------------

ALL_TYPES = COVARIANCE_TYPES


def make_random_params(rng, covariance_type, K, d):
    """A random well-conditioned mixture of any covariance type (for Hypothesis examples)."""
    A = rng.normal(size=(K, d, d))
    full = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    covariances = {
        "full": full,
        "tied": full[0],
        "diag": rng.uniform(0.3, 3.0, (K, d)),
        "spherical": rng.uniform(0.3, 3.0, K),
        "tied_diag": rng.uniform(0.3, 3.0, d),
        "tied_spherical": np.asarray(rng.uniform(0.3, 3.0)),
    }[covariance_type]
    means = rng.normal(scale=3.0, size=(K, d))
    return MixtureParams(rng.dirichlet(np.full(K, 3.0)), means, covariances, covariance_type)


@pytest.mark.parametrize("prior", [None, "default"])
@pytest.mark.parametrize("covariance_type", ALL_TYPES)
def test_complete_data_through_the_missing_path_give_the_fit_to_round_off(covariance_type, prior):
    X = synthetic_3d(300, 1).data
    prior = None if prior is None else ConjugatePrior.default(X, 3, covariance_type)
    options = EMOptions(prior=prior)
    plain = fit_em(X, 3, covariance_type, options, n_init=2, random_state=0).best
    grouped = fit_em(observed_data(X), 3, covariance_type, options, n_init=2, random_state=0)
    grouped = grouped.best
    for a, b in zip(plain.params[:3], grouped.params[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(plain.objective_history, grouped.objective_history, rtol=1e-12)


@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**16),
    covariance_type=st.sampled_from(ALL_TYPES),
    fraction=st.sampled_from([0.1, 0.3, 0.5]),
    use_prior=st.booleans(),
)
def test_the_observed_data_objective_never_falls(seed, covariance_type, fraction, use_prior):
    rng = np.random.default_rng(seed)
    truth = make_random_params(rng, covariance_type, K=2, d=3)
    X = with_holes(sample_mixture(truth, 120, rng)[0], fraction, rng)
    data = observed_data(X)
    prior = ConjugatePrior.default(np.nan_to_num(X), 2, covariance_type) if use_prior else None
    start = make_random_params(rng, covariance_type, K=2, d=3)
    run = run_em(data, start, EMOptions(prior=prior, tol=0, max_iter=40))
    if run.degenerate:  # an MLE that collapsed stops at its last proper iterate
        assert prior is None
    history = run.objective_history
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))


def test_observed_log_likelihood_at_the_estimate_is_scipy_s_and_stationary():
    truth = synthetic_3d(10, 0).truth
    rng = np.random.default_rng(8)
    X = with_holes(sample_mixture(truth, 400, rng)[0], 0.3, rng)
    gm = EMGaussianMixture(3, missing="ignore", random_state=0).fit(X)
    params = gm.params_
    covs = params.full_covariances()
    total = 0.0
    for x in X:
        o = ~np.isnan(x)
        total += np.logaddexp.reduce(
            [
                np.log(params.weights[k])
                + stats.multivariate_normal(params.means[k, o], covs[k][np.ix_(o, o)]).logpdf(x[o])
                for k in range(3)
            ]
        )
    np.testing.assert_allclose(gm.log_likelihood_, total, rtol=1e-11)
    np.testing.assert_allclose(gm.score(X) * X.shape[0], total, rtol=1e-11)
    # A stationary point: no small step in any direction of theta raises the objective.
    theta = to_unconstrained(params)
    best = missing.objective(X, params)
    for step in rng.normal(size=(20, theta.size)):
        for size in (1e-3, 1e-5):
            moved = from_unconstrained(theta + size * step, 3, 3, "full")
            assert missing.objective(X, moved) <= best + 1e-9 * abs(best)


def _mean_error(X, truth, missing_how="ignore"):
    gm = EMGaussianMixture(2, missing=missing_how, random_state=0, n_init=3).fit(X)
    return np.abs(align(gm.params_, truth).means - truth.means).max()


RECOVERY_TRUTH = MixtureParams(
    np.array([0.4, 0.6]),
    np.array([[0.0, 0.0, 0.0], [4.0, 3.0, -2.0]]),
    np.array([[[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]], np.eye(3) * 0.8]),
    "full",
)


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5])
def test_recovery_with_cells_missing_completely_at_random(fraction):
    rng = np.random.default_rng(9)
    errors = []
    for n in (300, 3000):
        X = with_holes(sample_mixture(RECOVERY_TRUTH, n, rng)[0], fraction, rng)
        errors.append(_mean_error(X, RECOVERY_TRUTH))
    assert errors[1] < errors[0]
    assert errors[1] < 0.15


def test_recovery_with_cells_missing_at_random_given_an_observed_column():
    """x3 is missing more often where x1 is large: the complete rows are a biased sample."""
    rng = np.random.default_rng(10)
    errors, complete_case = [], []
    for n in (300, 3000):
        X = sample_mixture(RECOVERY_TRUTH, n, rng)[0]
        holes = X.copy()
        holes[(X[:, 0] > 2.0) & (rng.random(n) < 0.7), 2] = np.nan
        errors.append(_mean_error(holes, RECOVERY_TRUTH))
        complete_case.append(_mean_error(X[~np.isnan(holes).any(axis=1)], RECOVERY_TRUTH))
    assert errors[1] < errors[0]
    assert errors[1] < 0.1
    # Dropping the incomplete rows biases the weights, and so the means' matching stays off.
    gm = EMGaussianMixture(2, missing="ignore", random_state=0).fit(holes)
    cc = EMGaussianMixture(2, random_state=0).fit(X[~np.isnan(holes).any(axis=1)])
    truth_w = RECOVERY_TRUTH.weights
    assert np.abs(align(gm.params_, RECOVERY_TRUTH).weights - truth_w).max() < 0.03
    assert np.abs(align(cc.params_, RECOVERY_TRUTH).weights - truth_w).max() > 0.1


# --- bad inputs ------------------------------------------------------------------------------


def test_missing_cells_with_missing_error_name_the_option():
    X = synthetic_3d(50, 0).data
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"\(NaN\) at row 3, column 1.*missing='ignore'"):
        EMGaussianMixture(2).fit(X)
    gm = EMGaussianMixture(2, random_state=0).fit(synthetic_3d(50, 0).data)
    with pytest.raises(ValueError, match="missing='ignore'"):
        gm.predict(X)


def test_a_row_with_every_cell_missing_is_an_error():
    X = synthetic_3d(50, 0).data
    X[7] = np.nan
    with pytest.raises(ValueError, match="row 7 of X has every cell missing"):
        EMGaussianMixture(2, missing="ignore").fit(X)


def test_bad_missing_option_and_impute_without_it():
    X = synthetic_3d(50, 0).data
    with pytest.raises(ValueError, match=r"missing must be 'error'.*or 'ignore'.*got 'drop'"):
        EMGaussianMixture(2, missing="drop").fit(X)
    gm = EMGaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="impute needs missing='ignore'"):
        gm.impute(X)


def test_infinite_values_are_refused_even_with_ignore():
    X = synthetic_3d(50, 0).data
    X[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"\(infinite\) at row 2, column 0"):
        EMGaussianMixture(2, missing="ignore").fit(X)


def test_estimator_predictions_use_the_marginal_densities():
    X = synthetic_3d(300, 0).data
    holes = with_holes(X, 0.3, np.random.default_rng(11))
    gm = EMGaussianMixture(3, missing="ignore", random_state=0).fit(holes)
    log_resp, sample_ll = e_step(holes, gm.params_)
    np.testing.assert_allclose(gm.score_samples(holes), sample_ll)
    np.testing.assert_allclose(gm.predict_proba(holes), np.exp(log_resp))
    np.testing.assert_array_equal(gm.predict(holes), log_resp.argmax(axis=1))
    filled, sd = gm.impute(holes, return_std=True)
    assert np.all(sd[np.isnan(holes)] > 0)
    assert not np.isnan(filled).any()
    assert gm.n_missing_ == int(np.isnan(holes).sum())
    # The imputations are closer to the deleted values than the column means are.
    gone = np.isnan(holes)
    err_impute = np.abs(filled[gone] - X[gone]).mean()
    err_mean = np.abs(np.nanmean(holes, axis=0)[np.nonzero(gone)[1]] - X[gone]).mean()
    assert err_impute < 0.8 * err_mean
