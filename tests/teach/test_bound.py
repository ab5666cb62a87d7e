"""The numbers behind the teaching pictures: Q + entropy = log-likelihood, and the bound."""

import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from latentmix import EMGaussianMixture, MixtureParams
from latentmix.datasets import house_prices, load
from latentmix.em.estep import log_likelihood
from latentmix.em.fit import ConvergenceWarning
from latentmix.teach.bound import (
    bound_along_step,
    bound_maximiser,
    bound_slice,
    cross_entropy,
    decompose,
    decomposition_path,
    entropy,
    q_function,
    step_params,
    with_mean,
)
from latentmix.teach.examples import poor_start


def _trajectory(X, K, max_iter=60):
    est = EMGaussianMixture(
        K, init=poor_start(X, K), tol=1e-12, max_iter=max_iter, keep_trajectory=True
    )
    with warnings.catch_warnings():
        # A capped run is what we want here: the identities hold at every iterate.
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    return est, [p for p, _ in est.trajectory_]


@pytest.fixture(scope="module")
def houses():
    X = house_prices(n_samples=240, random_state=0).data
    est, path = _trajectory(X, 3)
    return X, est, path


@pytest.fixture(scope="module")
def faithful():
    X = load("faithful").data
    est, path = _trajectory(X, 2, max_iter=30)
    return X, est, path


def _naive_q_and_h(X, params, old_params):
    """Q and the cross-entropy with explicit loops and scipy densities."""
    n, K = X.shape[0], params.n_components
    covs, old_covs = params.full_covariances(), old_params.full_covariances()

    def joint(p, c):
        return np.array(
            [
                [p.weights[k] * multivariate_normal(p.means[k], c[k]).pdf(X[i]) for k in range(K)]
                for i in range(n)
            ]
        )

    old = joint(old_params, old_covs)
    w = old / old.sum(axis=1, keepdims=True)
    new = joint(params, covs)
    post = new / new.sum(axis=1, keepdims=True)
    q = sum(w[i, k] * np.log(new[i, k]) for i in range(n) for k in range(K))
    h = -sum(w[i, k] * np.log(post[i, k]) for i in range(n) for k in range(K))
    return q, h


def test_q_and_cross_entropy_match_a_naive_computation():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 2)) * [1.0, 2.0]
    old = MixtureParams(
        np.array([0.3, 0.7]),
        np.array([[-1.0, 0.0], [1.0, 0.5]]),
        np.array([np.eye(2), [[1.0, 0.3], [0.3, 2.0]]]),
    )
    new = old._replace(weights=np.array([0.5, 0.5]), means=old.means + 0.3)
    q, h = _naive_q_and_h(X, new, old)
    assert q_function(X, new, old) == pytest.approx(q, rel=1e-12)
    assert cross_entropy(X, new, old) == pytest.approx(h, rel=1e-12)
    assert cross_entropy(X, new, old) >= entropy(X, old)  # Gibbs
    assert 0 <= entropy(X, old) <= X.shape[0] * np.log(2)


@pytest.mark.parametrize("data", ["houses", "faithful"])
def test_log_likelihood_is_q_plus_entropy_at_every_iteration(data, request):
    X, est, path = request.getfixturevalue(data)
    dp = decomposition_path(X, path)
    assert len(path) == est.n_iter_ + 1 >= 20
    # The split at the current point, and across each EM step.
    np.testing.assert_allclose(dp.q + dp.entropy, dp.log_likelihood, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        dp.q_next[:-1] + dp.cross_entropy_next[:-1], dp.log_likelihood[1:], rtol=0, atol=1e-10
    )
    # The estimator's objective is the same log-likelihood.
    np.testing.assert_allclose(dp.log_likelihood, est.objective_history_, rtol=1e-12)
    # The M-step raises Q and the cross-entropy never drops below the entropy: both >= 0.
    scale = 1e-12 * np.abs(dp.log_likelihood).max()
    assert np.all(dp.q_gain[:-1] >= -scale)
    assert np.all(dp.kl_gain[:-1] >= -scale)
    assert np.all(np.diff(dp.log_likelihood) >= -scale)


def test_decompose_defaults_to_the_current_point(houses):
    X, _, path = houses
    here = decompose(X, path[4])
    assert here.log_likelihood == pytest.approx(log_likelihood(X, path[4]), abs=1e-10)
    assert here.cross_entropy == pytest.approx(entropy(X, path[4]), abs=1e-10)


@pytest.mark.parametrize("t", [0, 1, 2, 5, 15])
def test_bound_touches_at_the_current_mean_lies_below_and_peaks_at_the_next_em_mean(t, houses):
    X, _, path = houses
    component = 2
    grid = np.linspace(X.min() - 100, X.max() + 100, 801)
    b = bound_slice(X, path[t], component, grid)
    # Below the log-likelihood everywhere on the grid.
    assert np.all(b.lower_bound <= b.log_likelihood + 1e-9)
    # Equal at the current value.
    at = bound_slice(X, path[t], component, [b.current])
    assert abs(at.lower_bound[0] - at.log_likelihood[0]) < 1e-10
    assert at.log_likelihood[0] == pytest.approx(log_likelihood(X, path[t]), abs=1e-10)
    # The closed-form peak is the grid's peak and is EM's next value of that mean.
    spacing = grid[1] - grid[0]
    assert abs(grid[np.argmax(b.lower_bound)] - b.maximiser) <= spacing
    assert b.maximiser == pytest.approx(path[t + 1].means[component, 0], rel=1e-10)
    # The bound is strictly below away from the touching point.
    far = np.abs(grid - b.current) > 5 * spacing
    assert np.all(b.lower_bound[far] < b.log_likelihood[far])


def test_bound_slice_matches_the_naive_evaluation(faithful):
    X, _, path = faithful
    values = np.linspace(1.0, 6.0, 5)
    b = bound_slice(X, path[3], 1, values, feature=0)
    h = entropy(X, path[3])
    for v, ll, lb in zip(values, b.log_likelihood, b.lower_bound, strict=True):
        moved = with_mean(path[3], 1, v, 0)
        assert ll == pytest.approx(log_likelihood(X, moved), abs=1e-9)
        assert lb == pytest.approx(q_function(X, moved, path[3]) + h, abs=1e-9)


@pytest.mark.parametrize("feature", [0, 1])
def test_bound_in_two_dimensions_touches_and_peaks_where_the_formula_says(feature, faithful):
    X, _, path = faithful
    centre = path[2].means[0, feature]
    spread = 3 * X[:, feature].std()
    grid = np.linspace(centre - spread, centre + spread, 2001)
    b = bound_slice(X, path[2], 0, grid, feature=feature)
    assert np.all(b.lower_bound <= b.log_likelihood + 1e-9)
    assert abs(grid[np.argmax(b.lower_bound)] - b.maximiser) <= grid[1] - grid[0]
    assert bound_maximiser(X, path[2], 0, feature) == b.maximiser


@pytest.mark.parametrize("covariance_type", ["tied_diag", "tied_spherical"])
def test_shared_diagonal_types_decompose_and_peak_at_the_weighted_mean(covariance_type, faithful):
    # With a shared diagonal covariance the coordinates decouple: the bound along one mean
    # coordinate peaks at that coordinate's weighted mean, whatever the others.
    X, _, path = faithful
    variances = np.diagonal(path[2].full_covariances(), axis1=1, axis2=2).mean(axis=0)
    shared = variances if covariance_type == "tied_diag" else np.asarray(variances.mean())
    old = MixtureParams(path[2].weights, path[2].means, shared, covariance_type)
    est = EMGaussianMixture(2, covariance_type=covariance_type, init=old, max_iter=1, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        new = est.fit(X).params_
    parts = decompose(X, new, old)
    assert parts.q + parts.cross_entropy == pytest.approx(log_likelihood(X, new), abs=1e-9)
    assert q_function(X, new, old) >= q_function(X, old, old)
    for feature in (0, 1):
        spread = 3 * X[:, feature].std()
        centre = old.means[0, feature]
        grid = np.linspace(centre - spread, centre + spread, 2001)
        b = bound_slice(X, old, 0, grid, feature=feature)
        assert np.all(b.lower_bound <= b.log_likelihood + 1e-9)
        assert abs(grid[np.argmax(b.lower_bound)] - b.maximiser) <= grid[1] - grid[0]
        assert b.maximiser == pytest.approx(new.means[0, feature], rel=1e-10)


# --- the bound along EM's whole step (the 2-D page's figure) ---------------------------------

STEPS = np.round(np.linspace(-0.6, 1.8, 49), 12)  # holds 0 and 1 exactly


@pytest.mark.parametrize("t", [0, 1, 5, 20])
def test_along_the_step_the_bound_touches_at_s0_lies_below_and_peaks_at_s1(faithful, t):
    X, _, path = faithful
    line = bound_along_step(X, path[t], path[t + 1], STEPS)
    i0, i1 = np.flatnonzero(STEPS == 0.0)[0], np.flatnonzero(STEPS == 1.0)[0]
    scale = abs(line.log_likelihood[i0])
    assert abs(line.lower_bound[i0] - line.log_likelihood[i0]) < 1e-10 * scale
    assert np.nanmax(line.lower_bound - line.log_likelihood) < 1e-10 * scale
    # The M-step maximises the bound over every parameter, so on any line through its
    # result the bound peaks there; and the log-likelihood at the next point is above it.
    assert np.nanargmax(line.lower_bound) == i1
    assert line.log_likelihood[i1] >= line.lower_bound[i1] >= line.lower_bound[i0]
    # Both ends are the run's own iterates.
    np.testing.assert_allclose(line.log_likelihood[i0], log_likelihood(X, path[t]), rtol=1e-12)
    np.testing.assert_allclose(line.log_likelihood[i1], log_likelihood(X, path[t + 1]), rtol=1e-12)


def test_the_bound_along_the_step_equals_q_plus_h_from_the_definitions(faithful):
    X, _, path = faithful
    line = bound_along_step(X, path[2], path[3], [-0.3, 0.4, 1.3])
    for s, ll, b in zip(line.steps, line.log_likelihood, line.lower_bound, strict=True):
        theta = step_params(path[2], path[3], s)
        assert np.isclose(b, q_function(X, theta, path[2]) + entropy(X, path[2]), rtol=1e-12)
        assert np.isclose(ll, decompose(X, theta).log_likelihood, rtol=1e-12)


def test_the_step_line_moves_covariances_through_their_cholesky_factors(faithful):
    _, _, path = faithful
    a, b = path[0], path[1]
    np.testing.assert_allclose(step_params(a, b, 0.0).covariances, a.full_covariances())
    np.testing.assert_allclose(step_params(a, b, 1.0).covariances, b.full_covariances())
    half = step_params(a, b, 0.5)
    L = 0.5 * (np.linalg.cholesky(a.full_covariances()) + np.linalg.cholesky(b.full_covariances()))
    np.testing.assert_allclose(half.covariances, L @ np.swapaxes(L, -1, -2))
    np.testing.assert_allclose(half.weights.sum(), 1.0)
    # Far past the step a weight turns negative: no mixture there, and NaN on the line.
    s_out = np.array([-50.0, 50.0])
    outside = [step_params(a, b, s) for s in s_out]
    assert any(params is None for params in outside)
    line = bound_along_step(load("faithful").data, a, b, s_out)
    for params, ll in zip(outside, line.log_likelihood, strict=True):
        assert (params is None) == np.isnan(ll)
