"""fit_em's restarts: a collapsing candidate is set aside, and more restarts never do worse."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentmix import EMGaussianMixture
from latentmix.em.estep import DegenerateMixtureError
from latentmix.em.fit import (
    DegenerateRestartWarning,
    EMOptions,
    candidate_seeds,
    fit_em,
    run_em,
)
from latentmix.em.init import START_TYPES, initial_params
from latentmix.params import COVARIANCE_TYPES


@pytest.fixture(scope="module")
def noise():
    # Issue 12's data: 50 rows of 5-D standard normal noise, where 2-component full and
    # spherical fits often collapse.
    return np.random.RandomState(0).randn(50, 5)


@pytest.mark.parametrize(
    ("covariance_type", "seed"), [("spherical", 4), ("full", 11), ("full", 59)]
)
def test_one_restart_does_not_fail_while_healthy_candidates_exist(noise, covariance_type, seed):
    # These raised DegenerateMixtureError: the only continued candidate collapsed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateRestartWarning)
        gm = EMGaussianMixture(2, covariance_type=covariance_type, n_init=1, random_state=seed)
        gm.fit(noise)
    assert np.isfinite(gm.objective_) and not gm.restarts_[gm.best_restart_]["degenerate"]
    assert sum(not r["degenerate"] for r in gm.restarts_) == 1


def test_a_candidate_collapsing_after_screening_is_set_aside_for_the_next(noise):
    # With this seed the best-screened candidate collapses once continued.
    with pytest.warns(DegenerateRestartWarning, match="1 of 2 EM restarts collapsed"):
        gm = EMGaussianMixture(2, covariance_type="full", n_init=1, random_state=50).fit(noise)
    first, second = gm.restarts_
    assert first["degenerate"] and np.isnan(first["objective"])
    assert not second["degenerate"] and gm.best_restart_ == 1
    assert np.linalg.eigvalsh(gm.covariances_).min() > 0


def test_more_restarts_never_lower_the_objective_on_the_issue_case(noise):
    # Was -6.7863 at n_init=1 and -6.7969 at n_init=5.
    scores = [
        EMGaussianMixture(2, covariance_type="diag", n_init=k, random_state=15)
        .fit(noise)
        .score(noise)
        for k in range(1, 6)
    ]
    assert np.all(np.diff(scores) >= 0)


def test_without_screening_round_j_runs_the_jth_start():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(size=(30, 2)), rng.normal(3.0, 0.5, size=(30, 2))])
    options = EMOptions(tol=1e-8, max_iter=200)
    result = fit_em(X, 2, "diag", options, n_init=3, random_state=7, screen_factor=1)
    _, candidate = candidate_seeds(7)
    for j, run in enumerate(result.runs):
        start = initial_params(X, 2, "diag", candidate(j), start=START_TYPES[j % 2])
        alone = run_em(X, start, options)
        assert run.objective == alone.objective and run.n_iter == alone.n_iter


def fit_or_none(X, K, covariance_type, n_init, seed):
    options = EMOptions(tol=1e-8, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateRestartWarning)
        try:
            return fit_em(X, K, covariance_type, options, n_init=n_init, random_state=seed)
        except DegenerateMixtureError:
            return None


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    data_seed=st.integers(0, 20),
    n_init=st.integers(1, 3),
    K=st.integers(2, 3),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
)
def test_the_runs_of_k_restarts_are_the_first_runs_of_k_plus_one(
    seed, data_seed, n_init, K, covariance_type
):
    X = np.random.default_rng(data_seed).normal(size=(24, 2))
    fewer = fit_or_none(X, K, covariance_type, n_init, seed)
    more = fit_or_none(X, K, covariance_type, n_init + 1, seed)
    if more is None:
        assert fewer is None  # more restarts never turn a fit into a failure
        return
    if fewer is None:
        return
    assert more.best.objective >= fewer.best.objective
    assert len(more.runs) >= len(fewer.runs)
    for a, b in zip(fewer.runs, more.runs, strict=False):
        np.testing.assert_array_equal(a.objective_history, b.objective_history)
