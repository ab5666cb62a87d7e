"""The runs behind the walkthrough, checked without drawing anything."""

import numpy as np
import pytest

from latentmix import EMGaussianMixture
from latentmix.datasets import house_prices, load
from latentmix.em.estep import log_likelihood
from latentmix.teach import examples
from latentmix.teach.hard import hard_em


@pytest.fixture(scope="module")
def houses():
    X = house_prices(n_samples=240, random_state=0).data
    start = examples.poor_start(X, 3)
    return X, start, examples.run_from(X, start)


def test_the_poor_start_bunches_equal_components_at_the_low_end():
    X = load("faithful").data
    start = examples.poor_start(X, 3)
    np.testing.assert_allclose(start.weights, 1 / 3)
    centre = X.mean(axis=0)
    axis = np.linalg.svd(X - centre, full_matrices=False)[2][0]
    proj = (X - centre) @ axis
    start_proj = (start.means - centre) @ axis
    # On the main axis all three means sit at one end, a tenth of its sd apart.
    assert np.all(start_proj * np.sign(start_proj[0]) > 0.5 * proj.std())
    np.testing.assert_allclose(np.abs(np.diff(start_proj)), 0.1 * proj.std(), rtol=1e-10)


def test_the_stepped_run_is_the_estimators_run(houses):
    X, start, run = houses
    est = EMGaussianMixture(
        3, init=start, tol=examples.TOL, max_iter=examples.MAX_ITER, keep_trajectory=True
    ).fit(X)
    assert run.converged
    assert len(run.params) == len(est.trajectory_) == est.n_iter_ + 1
    np.testing.assert_allclose(run.objective, est.objective_history_, rtol=1e-12)
    for (p, r), mine, mine_r in zip(est.trajectory_, run.params, run.resp, strict=True):
        np.testing.assert_allclose(mine.means, p.means, rtol=1e-10)
        np.testing.assert_allclose(mine_r, r, atol=1e-12)
    assert run.objective[-1] == pytest.approx(log_likelihood(X, run.params[-1]), rel=1e-12)


def test_the_bound_checks_hold_along_the_run(houses):
    X, _, run = houses
    component = examples.moving_component(run.params)
    grid = np.linspace(X.min() - 50, X.max() + 50, 300)
    checks = examples.bound_checks(X, run.params, component, grid, [0, 1, 2, 5, 20])
    assert checks.max_gap <= 1e-9
    assert checks.touch < 1e-9
    assert checks.peak_error < 1e-8 * np.abs(X).max()


def test_kmeans_clusters_line_up_with_the_em_components_they_resemble(houses):
    X, start, run = houses
    hs = examples.hard_vs_soft(X, run.params[-1], run.resp[-1], start)
    raw = hard_em(X, start.means)
    # The same clustering, only renumbered: each point keeps its centre.
    np.testing.assert_allclose(hs.kmeans.means[hs.kmeans.labels], raw.means[raw.labels])
    # On these well separated prices the matched centre is the nearest EM mean.
    nearest = np.argmin(np.abs(hs.kmeans.means - hs.params.means[:, 0][None, :]), axis=1)
    np.testing.assert_array_equal(nearest, np.arange(3))
    assert hs.n_disagree == int(np.sum(hs.kmeans.labels != run.resp[-1].argmax(axis=1)))
    assert 0 < hs.n_shared < X.shape[0]


def test_the_mle_collapses_and_the_map_from_the_same_start_does_not():
    result = examples.run_collapse_example(0)
    assert result.X.shape == (31, 1)
    assert result.mle.degenerate and result.map_fit.converged_
    lone = result.lone
    assert result.map_fit.params_.means[lone, 0] > 500
    assert np.sqrt(result.map_fit.params_.full_covariances()[lone, 0, 0]) > 1.0
    # The MLE's component on the lone sale shrinks at every step.
    sds = [np.sqrt(p.full_covariances()[1, 0, 0]) for p, _ in result.mle.trajectory]
    assert np.all(np.diff(sds[1:]) < 0)


def test_restarts_are_seeded_and_each_ends_at_a_local_optimum():
    X, restarts = examples.run_restarts(random_state=2, n_starts=2)
    assert X.shape == (82, 1)
    assert [r.random_state for r in restarts] == [2000, 2001]
    again = examples.run_restarts(random_state=2, n_starts=2)[1]
    for r, s in zip(restarts, again, strict=True):
        assert r.objective == s.objective or (np.isnan(r.objective) and np.isnan(s.objective))
        if r.params is not None:
            assert r.objective == pytest.approx(r.objective_history[-1])
            assert np.all(np.diff(r.objective_history) >= -1e-9 * abs(r.objective))
