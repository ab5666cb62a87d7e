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
from latentmix.priors import log_prior

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, covariance_types=COVARIANCE_TYPES):
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(12, 60))
    d = draw(st.integers(1, 3))
    K = draw(st.integers(1, 4))
    covariance_type = draw(st.sampled_from(covariance_types))
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


# --- the shared diagonal types (mclust EEI and EII) --------------------------------------------

SHARED_DIAGONAL = ("tied_diag", "tied_spherical")


def expected_complete_objective(X, resp, params, prior):
    """Q: sum_ik r_ik [log w_k + log N(x_i | mu_k, Sigma_k)] (+ log prior), by scipy."""
    from scipy import stats

    from latentmix.priors import log_prior

    covs = params.full_covariances()
    with np.errstate(divide="ignore"):
        log_w = np.log(params.weights)
    q = sum(
        (resp[:, k] * (log_w[k] + stats.multivariate_normal(params.means[k], covs[k]).logpdf(X)))
        .reshape(-1)
        .sum()
        for k in range(params.n_components)
        if resp[:, k].sum() > 0
    )
    return q + (0.0 if prior is None else log_prior(params, prior))


@SETTINGS
@given(problems(SHARED_DIAGONAL))
def test_shared_diagonal_types_every_step_raises_q_and_the_objective(problem):
    # The two halves of EM's monotonicity, step by step: the M-step raises Q (it is its
    # argmax) and the E-step's bound then gives an objective at least as high.
    from latentmix.em.estep import responsibilities
    from latentmix.em.mstep import m_step, sufficient_statistics

    X, K, covariance_type, prior, rng = problem
    # The row-by-row E-step expands the diagonal quadratic; centred data keep it exact (the
    # fitting kernel centres the same way). Prior terms move with the data.
    center = X.mean(axis=0)
    X = X - center
    if prior is not None:
        prior = ConjugatePrior(
            prior.weight_concentration,
            prior.mean - center,
            prior.mean_precision,
            prior.degrees_of_freedom,
            prior.scale,
        )
    params = initial_params(X, K, covariance_type, rng, prior=prior)
    previous = -np.inf
    for _ in range(8):
        resp, sample_ll = responsibilities(X, params)
        objective = sample_ll.sum() + (0.0 if prior is None else log_prior(params, prior))
        assert objective >= previous - 1e-9 * max(abs(objective), 1.0)
        previous = objective
        new = m_step(sufficient_statistics(X, resp, covariance_type), prior)
        try:
            check_proper(new)
        except AssertionError:
            assert prior is None  # only an MLE may collapse
            return
        q_old = expected_complete_objective(X, resp, params, prior)
        q_new = expected_complete_objective(X, resp, new, prior)
        assert q_new >= q_old - 1e-9 * max(abs(q_old), 1.0)
        assert (
            np.shape(new.covariances)
            == {"tied_diag": (X.shape[1],), "tied_spherical": ()}[covariance_type]
        )
        params = new


@SETTINGS
@given(problems(("tied",)))
def test_in_one_dimension_the_three_shared_types_are_one_model(problem):
    X, K, _, prior, rng = problem
    if X.shape[1] != 1:
        X = X[:, :1]
    start = initial_params(X, K, "tied", rng)
    runs = {}
    for covariance_type in ("tied", "tied_diag", "tied_spherical"):
        cov = np.asarray(start.covariances).reshape(
            {"tied": (1, 1), "tied_diag": (1,), "tied_spherical": ()}[covariance_type]
        )
        this_prior = None
        if prior is not None:
            this_prior = ConjugatePrior.default(X, K, covariance_type)
        begin = start._replace(covariances=cov, covariance_type=covariance_type)
        runs[covariance_type] = fit_from(X, begin, this_prior, max_iter=20)
    for covariance_type in ("tied_diag", "tied_spherical"):
        run = runs[covariance_type]
        assert run.objective == pytest.approx(runs["tied"].objective, rel=1e-9, abs=1e-9)
        np.testing.assert_allclose(
            np.ravel(run.params.covariances), np.ravel(runs["tied"].params.covariances), rtol=1e-7
        )
