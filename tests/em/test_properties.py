"""Properties that hold on any data (hypothesis): EM never lowers its objective, weights sum
to one, covariances stay positive definite, and relabelling the start relabels the result."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentmix import ConjugatePrior
from latentmix.em.estep import DegenerateMixtureError
from latentmix.em.fit import EMOptions, run_em
from latentmix.em.init import initial_params
from latentmix.params import COVARIANCE_TYPES

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(12, 60))
    d = draw(st.integers(1, 3))
    K = draw(st.integers(1, 4))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    use_prior = draw(st.booleans())
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=draw(st.floats(0.0, 6.0)), size=(K, d))
    X = centres[rng.integers(K, size=n)] + rng.normal(size=(n, d)) * rng.uniform(0.1, 2.0, d)
    X = X * draw(st.sampled_from([1e-3, 1.0, 1e3])) + draw(st.sampled_from([0.0, 1e4]))
    prior = ConjugatePrior.default(X, K, covariance_type) if use_prior else None
    return X, K, covariance_type, prior, rng


def fit_from(X, start, prior, max_iter=60):
    return run_em(X, start, EMOptions(prior=prior, tol=0.0, max_iter=max_iter))


def check_proper(params):
    assert np.isclose(params.weights.sum(), 1.0, rtol=1e-12)
    assert np.all(params.weights >= 0)
    assert np.linalg.eigvalsh(params.full_covariances()).min() > 0


@SETTINGS
@given(problems())
def test_objective_never_falls_and_parameters_stay_proper(problem):
    X, K, covariance_type, prior, rng = problem
    start = initial_params(X, K, covariance_type, rng, prior=prior)
    run = fit_from(X, start, prior)
    history = run.objective_history
    assert np.all(np.diff(history) >= -1e-10 * np.maximum(np.abs(history[1:]), 1.0))
    check_proper(run.params)
    if prior is not None:
        assert not run.degenerate


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_permuting_the_start_permutes_the_result(problem, random):
    X, K, covariance_type, prior, rng = problem
    start = initial_params(X, K, covariance_type, rng, prior=prior)
    order = list(range(K))
    random.shuffle(order)
    a = fit_from(X, start, prior, max_iter=25)
    b = fit_from(X, start.permute(order), prior, max_iter=25)
    assert a.degenerate == b.degenerate
    if a.degenerate:
        return
    assert b.objective == pytest.approx(a.objective, rel=1e-9, abs=1e-9)
    expected = a.params.permute(order)
    np.testing.assert_allclose(b.params.weights, expected.weights, rtol=1e-6, atol=1e-12)
    scale = np.abs(X).max()
    np.testing.assert_allclose(b.params.means, expected.means, rtol=1e-6, atol=1e-9 * scale)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_estimator_history_never_falls_over_many_seeds(covariance_type):
    from latentmix import EMGaussianMixture
    from latentmix.em.fit import DegenerateRestartWarning

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) * 0.3 + 2])
    for seed in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateRestartWarning)
            try:
                gm = EMGaussianMixture(3, covariance_type=covariance_type, random_state=seed).fit(
                    X
                )
            except DegenerateMixtureError:
                continue
        for restart in gm.restarts_:
            h = restart["objective_history"]
            assert np.all(np.diff(h) >= -1e-10 * np.abs(h[1:]))
