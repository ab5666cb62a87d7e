"""Properties that hold on any data (hypothesis): the ELBO never falls, q stays a proper
distribution, and relabelling the start relabels the result, for every covariance type."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentmix import ConjugatePrior
from latentmix.em.init import initial_params
from latentmix.params import COVARIANCE_TYPES
from latentmix.vb.fit import VBOptions, run_vb

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(12, 60))
    d = draw(st.integers(1, 3))
    K = draw(st.integers(1, 4))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=draw(st.floats(0.0, 6.0)), size=(K, d))
    X = centres[rng.integers(K, size=n)] + rng.normal(size=(n, d)) * rng.uniform(0.1, 2.0, d)
    X = X * draw(st.sampled_from([1e-3, 1.0, 1e3])) + draw(st.sampled_from([0.0, 1e4]))
    prior = ConjugatePrior.default(X, K, covariance_type)
    # Concentrations below 1 too: VB needs no mode.
    alpha = draw(st.sampled_from([0.01, 1.0, 5.0]))
    prior = ConjugatePrior(
        alpha, prior.mean, prior.mean_precision, prior.degrees_of_freedom, prior.scale
    )
    # Either responsibilities or (None) one of EM's starting mixtures, drawn in the test.
    start = rng.dirichlet(np.ones(K), size=n) if draw(st.booleans()) else None
    return X, K, covariance_type, prior, rng, start


def a_start(X, K, covariance_type, prior, rng, start):
    if start is not None:
        return start
    flat = ConjugatePrior(
        1.0, prior.mean, prior.mean_precision, prior.degrees_of_freedom, prior.scale
    )
    return initial_params(X, K, covariance_type, rng, prior=flat)


def check_proper(post):
    d = post.n_features
    assert np.all(post.weight_concentration > 0)
    assert np.all(post.mean_precision > 0)
    assert np.all(np.isfinite(post.mean))
    if post.covariance_type in ("full", "tied"):
        assert np.all(post.degrees_of_freedom > d - 1)
        assert np.linalg.eigvalsh(post.scale).min() > 0
    else:
        assert np.all(post.degrees_of_freedom > 0)
        assert np.all(post.scale > 0)


@SETTINGS
@given(problems())
def test_elbo_never_falls_and_q_stays_proper(problem):
    X, K, covariance_type, prior, rng, start = problem
    start = a_start(X, K, covariance_type, prior, rng, start)
    run = run_vb(X, start, VBOptions(prior, covariance_type, tol=0.0, max_iter=40))
    history = run.elbo_history
    assert history.shape == (41,)
    assert np.all(np.isfinite(history))
    assert np.all(np.diff(history) >= -1e-10 * np.maximum(np.abs(history[1:]), 1.0))
    check_proper(run.posterior)
    # Every row counted once: the counts add up to n.
    assert run.state.stats.nk.sum() == pytest.approx(X.shape[0], rel=1e-10)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_permuting_the_start_permutes_the_result(problem, random):
    X, K, covariance_type, prior, rng, start = problem
    resp = rng.dirichlet(np.ones(K), size=X.shape[0]) if start is None else start
    order = list(range(K))
    random.shuffle(order)
    options = VBOptions(prior, covariance_type, tol=0.0, max_iter=15)
    a = run_vb(X, resp, options)
    b = run_vb(X, resp[:, order], options)
    assert b.elbo == pytest.approx(a.elbo, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(
        b.posterior.weight_concentration, a.posterior.weight_concentration[order], rtol=1e-6
    )
    scale = np.abs(X).max()
    np.testing.assert_allclose(
        b.posterior.mean, a.posterior.mean[order], rtol=1e-6, atol=1e-9 * scale
    )
