"""One EM iteration (em_init, em_step) and the loop over it (run_em, fit_em)."""

import numpy as np
import pytest

from latentmix.em.chunked import data_moments, e_step_stats
from latentmix.em.estep import DegenerateMixtureError, e_step, log_likelihood
from latentmix.em.fit import (
    EMInfo,
    EMOptions,
    EMState,
    em_init,
    em_step,
    fit_em,
    run_em,
)
from latentmix.em.mstep import m_step
from latentmix.matching import align
from latentmix.params import COVARIANCE_TYPES, MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior, log_prior


def problem(random_params, covariance_type, seed=0, n=300):
    rng = np.random.default_rng(seed)
    truth = random_params(rng, covariance_type, K=3, d=2)
    X, _ = sample_mixture(truth, n, rng)
    start = random_params(np.random.default_rng(seed + 100), covariance_type, K=3, d=2)
    return X, start


def step_by_hand(X, start, options):
    """The loop a teacher writes: em_init, then em_step until the change is below tol."""
    state = em_init(X, start, options)
    states, infos = [state], []
    while state.n_iter < options.max_iter:
        state, info = em_step(X, state, options)
        states.append(state)
        infos.append(info)
        if abs(info.change) < options.tol * abs(state.objective):
            break
    return states, infos


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("with_prior", [False, True])
def test_stepping_by_hand_equals_run_em_bit_for_bit(covariance_type, with_prior, random_params):
    X, start = problem(random_params, covariance_type)
    prior = ConjugatePrior.default(X, 3, covariance_type) if with_prior else None
    options = EMOptions(prior=prior, tol=1e-10, max_iter=60)
    states, _ = step_by_hand(X, start, options)
    run = run_em(X, start, options)
    last = states[-1]
    assert run.n_iter == last.n_iter == len(states) - 1
    np.testing.assert_array_equal(run.objective_history, [s.objective for s in states])
    for a, b in zip(run.params[:3], last.params[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert run.objective == last.objective and run.log_likelihood == last.log_likelihood
    assert run.log_prior == last.log_prior


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_objective_never_falls_and_info_is_the_change(covariance_type, random_params):
    X, start = problem(random_params, covariance_type, seed=1)
    prior = ConjugatePrior.default(X, 3, covariance_type)
    for options in (EMOptions(tol=0.0, max_iter=25), EMOptions(prior, tol=0.0, max_iter=25)):
        states, infos = step_by_hand(X, start, options)
        for before, after, info in zip(states[:-1], states[1:], infos, strict=True):
            assert isinstance(info, EMInfo) and not info.degenerate and info.message == ""
            assert info.change == after.objective - before.objective
            assert info.change >= -1e-10 * abs(after.objective)
            assert after.n_iter == before.n_iter + 1


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_state_fields_are_what_they_say(covariance_type, random_params):
    X, start = problem(random_params, covariance_type, seed=2)
    prior = ConjugatePrior.default(X, 3, covariance_type)
    options = EMOptions(prior=prior)
    state = em_init(X, start, options)
    assert isinstance(state, EMState) and state.n_iter == 0
    state, _ = em_step(X, em_init(X, start, options), options)
    params = state.params
    assert state.log_likelihood == pytest.approx(log_likelihood(X, params), rel=1e-12)
    assert state.log_prior == pytest.approx(log_prior(params, prior), rel=1e-12)
    assert state.objective == state.log_likelihood + state.log_prior
    mean, variance = data_moments(X)
    np.testing.assert_array_equal(state.feature_variance, variance)
    # The statistics are the E-step at params: the next M-step is made from them.
    stats, _ = e_step_stats(X, params, mean)
    for a, b in zip(state.stats[:3], stats[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    nxt, _ = em_step(X, state, options)
    for a, b in zip(nxt.params[:3], m_step(state.stats, prior)[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    # MLE: no prior term.
    mle = em_init(X, start)
    assert mle.log_prior is None and mle.objective == mle.log_likelihood


def collapse_problem():
    """Two tight clusters and one lone point: a component collapses onto the lone point."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(8, 1, (40, 2)), [[30.0, -30.0]]])
    start = MixtureParams(
        np.array([0.45, 0.45, 0.10]),
        np.array([[0.0, 0.0], [8.0, 8.0], [30.0, -30.0]]),
        np.stack([np.eye(2), np.eye(2), 0.5 * np.eye(2)]),
    )
    return X, start


def test_a_degenerate_step_returns_the_last_proper_state():
    X, start = collapse_problem()
    options = EMOptions(tol=0.0, max_iter=200)
    state = em_init(X, start, options)
    while True:
        new, info = em_step(X, state, options)
        if info.degenerate:
            break
        state = new
    assert new is state  # unchanged: the teacher keeps the last proper iterate
    assert np.isnan(info.change)
    assert info.message == (
        f"component(s) {', '.join(map(str, info.collapsed))} collapsed after "
        f"{state.n_iter + 1} iteration(s)"
    )
    run = run_em(X, start, options)
    assert run.degenerate and not run.converged and run.message == info.message
    assert run.n_iter == state.n_iter + 1
    np.testing.assert_array_equal(run.params.means, state.params.means)
    assert run.objective_history.size == state.n_iter + 1


def test_a_degenerate_start_is_an_error_for_em_init_and_a_degenerate_run_for_run_em():
    X, _ = collapse_problem()
    start = MixtureParams(
        np.array([0.5, 0.5]),
        np.array([[0.0, 0.0], [8.0, 8.0]]),
        np.stack([np.eye(2), 0 * np.eye(2)]),
    )
    with pytest.raises(DegenerateMixtureError, match=r"component\(s\) 1 collapsed after 0"):
        em_init(X, start)
    run = run_em(X, start)
    assert run.degenerate and run.n_iter == 0 and run.objective == -np.inf
    assert run.objective_history.size == 0


def test_keep_trajectory_holds_every_iterate_of_the_loop(random_params):
    X, start = problem(random_params, "diag", seed=3)
    run = run_em(X, start, EMOptions(tol=0.0, max_iter=6, keep_trajectory=True))
    assert len(run.trajectory) == run.n_iter + 1 == 7
    states, _ = step_by_hand(X, start, EMOptions(tol=0.0, max_iter=6))
    for (params, resp), state in zip(run.trajectory, states, strict=True):
        np.testing.assert_array_equal(params.means, state.params.means)
        np.testing.assert_allclose(resp, np.exp(e_step(X, state.params)[0]))


def test_fit_em_takes_the_options(random_params):
    X, start = problem(random_params, "full", seed=4)
    options = EMOptions(tol=1e-8, max_iter=300)
    result = fit_em(X, 3, "full", options, n_init=2, random_state=0)
    assert len(result.runs) == 2 and result.prior is None
    assert result.best.objective == max(r.objective for r in result.runs)
    again = fit_em(X, 3, "full", options, n_init=2, random_state=0)
    assert again.best.objective == result.best.objective
    # A fixed start is one run: run_em with the same options.
    one = fit_em(X, 3, "full", options, init=start)
    assert one.best.objective == run_em(X, start, options).objective
    # max_iter counts the screening iterations too.
    short = fit_em(X, 3, "full", EMOptions(tol=0.0, max_iter=3), n_init=2, random_state=0)
    assert all(r.n_iter == 3 for r in short.runs)


def test_run_em_checks_that_the_objective_never_falls(monkeypatch, random_params):
    """A step that lowers the objective is a bug, and the loop says so."""
    import latentmix.em.fit as fit

    X, start = problem(random_params, "spherical", seed=5)
    real = fit.em_step

    def falling(X, state, options):
        new, info = real(X, state, options)
        return new._replace(objective=state.objective - 1.0), info._replace(change=-1.0)

    monkeypatch.setattr(fit, "em_step", falling)
    with pytest.raises(RuntimeError, match="EM never lowers it, so this is a bug"):
        fit.run_em(X, start, EMOptions(max_iter=5))
    # With reg_covar the objective may fall slightly, so the check is off.
    fit.run_em(X, start, EMOptions(max_iter=5, reg_covar=1e-6))


@pytest.mark.parametrize("covariance_type", ["tied_diag", "tied_spherical"])
@pytest.mark.parametrize("with_prior", [False, True])
def test_shared_diagonal_types_recover_a_known_truth(covariance_type, with_prior):
    # Three components in three dimensions, 6000 rows: every estimate within four standard
    # errors of the truth, the standard errors of a known-labels fit (a slight
    # underestimate of the mixture's, so the bound is generous only by its factor).
    covariances = {"tied_diag": np.array([0.5, 1.0, 2.0]), "tied_spherical": np.array(0.8)}
    truth = MixtureParams(
        np.array([0.2, 0.3, 0.5]),
        np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 2.0], [0.0, 5.0, -3.0]]),
        covariances[covariance_type],
        covariance_type,
    )
    n = 6000
    X, _ = sample_mixture(truth, n, 42)
    prior = ConjugatePrior.default(X, 3, covariance_type) if with_prior else None
    fit = fit_em(X, 3, covariance_type, EMOptions(prior=prior), n_init=3, random_state=0)
    est = align(fit.best.params, truth)
    nk = n * truth.weights
    w_se = np.sqrt(truth.weights * (1 - truth.weights) / n)
    np.testing.assert_array_less(np.abs(est.weights - truth.weights), 4 * w_se)
    var = np.broadcast_to(np.ravel(truth.covariances), (3, 3))
    np.testing.assert_array_less(np.abs(est.means - truth.means), 4 * np.sqrt(var / nk[:, None]))
    # a shared variance pools all n rows (and all d features for tied_spherical)
    pooled = n * (3 if covariance_type == "tied_spherical" else 1)
    cov_se = np.ravel(truth.covariances) * np.sqrt(2 / pooled)
    np.testing.assert_array_less(
        np.abs(np.ravel(est.covariances) - np.ravel(truth.covariances)), 4 * cov_se
    )
