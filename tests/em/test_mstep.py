"""The M-step: MLE and MAP updates from sufficient statistics.

The MAP update must be the argmax of the expected complete-data log-posterior
Q(theta) = sum_ik r_ik [log w_k + log N(x_i | mu_k, Sigma_k)] + log p(theta); here Q is
computed naively with scipy.stats and the update is perturbed in every parameter group.
"""

import numpy as np
import pytest
from scipy import stats

from latentmix.datasets import synthetic_3d
from latentmix.em.chunked import e_step_stats
from latentmix.em.mstep import m_step, sufficient_statistics
from latentmix.params import COVARIANCE_TYPES, MixtureParams
from latentmix.priors import ConjugatePrior, log_prior


def m_step_from_resp(X, resp, covariance_type, prior=None):
    """The M-step from responsibilities in memory, statistics centred at the data mean."""
    return m_step(sufficient_statistics(X, resp, covariance_type, X.mean(axis=0)), prior)


def expected_log_posterior(X, resp, params, prior):
    covs = params.full_covariances()
    total = 0.0
    for k in range(params.n_components):
        logpdf = stats.multivariate_normal(params.means[k], covs[k]).logpdf(X).reshape(-1)
        total += (resp[:, k] * (np.log(params.weights[k]) + logpdf)).sum()
    return total + (0.0 if prior is None else log_prior(params, prior))


def problem(covariance_type, seed=0, n=60, d=2, K=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 3.0][:d] + 5.0
    resp = rng.dirichlet(np.ones(K) * 0.7, size=n)
    prior = ConjugatePrior.default(X, K, covariance_type)
    # A more informative prior than the default, so that every prior term matters.
    prior = ConjugatePrior(
        np.array([1.0, 2.5, 4.0])[:K],
        prior.mean + 1.0,
        3.0,
        prior.degrees_of_freedom + 2.0,
        prior.scale * 4.0,
    )
    return X, resp, prior


def perturbations(params, rng, size):
    """Random nearby parameters, one parameter group changed at a time."""
    covariance_type = params.covariance_type
    K, d = params.means.shape
    w = params.weights * np.exp(size * rng.normal(size=K))
    yield params._replace(weights=w / w.sum())
    yield params._replace(means=params.means + size * rng.normal(size=(K, d)))
    cov = params.covariances
    if covariance_type in ("full", "tied"):
        A = np.eye(d) + size * rng.normal(size=np.shape(cov))
        new = A @ cov @ np.swapaxes(A, -1, -2)
    else:
        new = cov * np.exp(size * rng.normal(size=np.shape(cov)))
    yield params._replace(covariances=new)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("with_prior", [False, True])
def test_m_step_is_the_argmax_of_the_expected_complete_data_objective(covariance_type, with_prior):
    X, resp, prior = problem(covariance_type, seed=COVARIANCE_TYPES.index(covariance_type))
    prior = prior if with_prior else None
    best = m_step_from_resp(X, resp, covariance_type, prior)
    q_best = expected_log_posterior(X, resp, best, prior)
    rng = np.random.default_rng(1)
    n_tried = 0
    for size in (0.3, 3e-2, 3e-3, 3e-4):
        for _ in range(8):
            for other in perturbations(best, rng, size):
                q = expected_log_posterior(X, resp, other, prior)
                assert q <= q_best + 1e-9 * abs(q_best), (size, other)
                n_tried += 1
    assert n_tried == 4 * 8 * 3


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_map_formulas_written_out(covariance_type):
    # The MAP update against the formulas in the mstep docstring, computed directly.
    X, resp, prior = problem(covariance_type, seed=5)
    got = m_step_from_resp(X, resp, covariance_type, prior)
    n, d = X.shape
    K = resp.shape[1]
    nk = resp.sum(0)
    alpha = prior.concentration(K)
    xbar = resp.T @ X / nk[:, None]
    kappa, nu, m0 = prior.mean_precision, prior.degrees_of_freedom, prior.mean
    np.testing.assert_allclose(got.weights, (nk + alpha - 1) / (n + alpha.sum() - K))
    np.testing.assert_allclose(
        got.means, (nk[:, None] * xbar + kappa * m0) / (nk + kappa)[:, None]
    )
    S = np.stack([(resp[:, k, None] * (X - xbar[k])).T @ (X - xbar[k]) for k in range(K)])
    b = kappa * nk / (kappa + nk)
    D = np.stack([np.outer(xbar[k] - m0, xbar[k] - m0) for k in range(K)])
    if covariance_type == "full":
        expected = (prior.scale + S + b[:, None, None] * D) / (nu + nk + d + 2)[:, None, None]
    elif covariance_type == "tied":
        expected = (prior.scale + (S + b[:, None, None] * D).sum(0)) / (nu + n + d + 1 + K)
    elif covariance_type == "diag":
        diag = np.diagonal(S + b[:, None, None] * D, axis1=1, axis2=2)
        expected = (prior.scale + diag) / (nu + nk + 3)[:, None]
    elif covariance_type == "spherical":
        tr = np.trace(S + b[:, None, None] * D, axis1=1, axis2=2)
        expected = (prior.scale + tr) / (nu + nk * d + d + 2)
    elif covariance_type == "tied_diag":
        diag = np.diagonal(S + b[:, None, None] * D, axis1=1, axis2=2).sum(0)
        expected = (prior.scale + diag) / (nu + n + K + 2)
    else:
        tr = np.trace(S + b[:, None, None] * D, axis1=1, axis2=2).sum()
        expected = (prior.scale + tr) / (nu + (n + K) * d + 2)
    assert np.shape(got.covariances) == np.shape(expected)
    np.testing.assert_allclose(got.covariances, expected, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_mle_formulas_written_out(covariance_type):
    X, resp, _ = problem(covariance_type, seed=6)
    got = m_step_from_resp(X, resp, covariance_type)
    nk = resp.sum(0)
    xbar = resp.T @ X / nk[:, None]
    S = np.stack([(resp[:, k, None] * (X - xbar[k])).T @ (X - xbar[k]) for k in range(3)])
    expected = {
        "full": S / nk[:, None, None],
        "tied": S.sum(0) / len(X),
        "diag": np.diagonal(S, axis1=1, axis2=2) / nk[:, None],
        "spherical": np.trace(S, axis1=1, axis2=2) / (2 * nk),
        "tied_diag": np.diagonal(S.sum(0)) / len(X),
        "tied_spherical": np.trace(S.sum(0)) / (2 * len(X)),
    }[covariance_type]
    assert np.shape(got.covariances) == np.shape(expected)
    np.testing.assert_allclose(got.weights, nk / len(X), rtol=1e-13)
    np.testing.assert_allclose(got.means, xbar, rtol=1e-12)
    np.testing.assert_allclose(got.covariances, expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_very_weak_prior_gives_the_mle_update(covariance_type):
    # kappa and the scale -> 0, alpha = 1: weights and means are the MLE's; each covariance is
    # the MLE's times N_k / (denominator of the MAP update), which -> 1 as N_k grows.
    X, resp, _ = problem(covariance_type, seed=7)
    d, K = X.shape[1], 3
    tiny = 1e-12
    scale = {"full": tiny * np.eye(d), "tied": tiny * np.eye(d), "diag": np.full(d, tiny)}
    scale["tied_diag"] = scale["diag"]
    weak = ConjugatePrior(1.0, np.zeros(d), tiny, d - 0.5, scale.get(covariance_type, tiny))
    mle = m_step_from_resp(X, resp, covariance_type)
    got = m_step_from_resp(X, resp, covariance_type, weak)
    np.testing.assert_allclose(got.weights, mle.weights, rtol=1e-12)
    np.testing.assert_allclose(got.means, mle.means, rtol=1e-9)
    nk, n, nu = resp.sum(0), len(X), weak.degrees_of_freedom
    factor = {
        "full": (nk / (nu + nk + d + 2))[:, None, None],
        "tied": n / (nu + n + d + 1 + K),
        "diag": (nk / (nu + nk + 3))[:, None],
        "spherical": nk * d / (nu + nk * d + d + 2),
        "tied_diag": n / (nu + n + K + 2),
        "tied_spherical": n * d / (nu + (n + K) * d + 2),
    }[covariance_type]
    np.testing.assert_allclose(got.covariances, mle.covariances * factor, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_very_weak_prior_fit_approaches_the_mle(covariance_type):
    from latentmix import EMGaussianMixture

    data = synthetic_3d(6000, random_state=2)
    X, d = data.data, 3
    tiny = 1e-10
    scale = {"full": tiny * np.eye(d), "tied": tiny * np.eye(d), "diag": np.full(d, tiny)}
    scale["tied_diag"] = scale["diag"]
    weak = ConjugatePrior(1.0, np.zeros(d), tiny, d - 0.99, scale.get(covariance_type, tiny))
    mle = EMGaussianMixture(
        3, covariance_type=covariance_type, random_state=0, n_init=2, tol=1e-9
    ).fit(X)
    fit = EMGaussianMixture(
        3, covariance_type=covariance_type, prior=weak, init=mle.params_, tol=1e-9
    )
    fit.fit(X)
    # The MAP covariances are the MLE's shrunk by about (d + 2) / N_k ~ 3e-3 at most here.
    assert fit.log_likelihood_ == pytest.approx(mle.log_likelihood_, rel=1e-5)
    np.testing.assert_allclose(fit.means_, mle.means_, atol=2e-3)
    np.testing.assert_allclose(fit.covariances_, mle.covariances_, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_block_statistics_add_up_to_the_whole(covariance_type):
    X = synthetic_3d(500, random_state=3).data
    params = MixtureParams(
        np.array([0.3, 0.3, 0.4]),
        X[[0, 100, 200]],
        {
            "full": np.stack([np.eye(3)] * 3),
            "tied": np.eye(3),
            "diag": np.ones((3, 3)),
            "spherical": np.ones(3),
            "tied_diag": np.ones(3),
            "tied_spherical": np.array(1.0),
        }[covariance_type],
        covariance_type,
    )
    center = X.mean(0)
    whole, ll = e_step_stats(X, params, center)
    parts = [e_step_stats(X[i : i + 77], params, center) for i in range(0, 500, 77)]
    for i in range(3):  # nk, sum_x, sum_xx: sums over rows
        summed = sum(p[0][i] for p in parts)
        np.testing.assert_allclose(whole[i], summed, rtol=1e-12, atol=1e-9)
    assert sum(p[1] for p in parts) == pytest.approx(ll, rel=1e-13)
    blocked, ll_blocked = e_step_stats(X, params, center, block_rows=64)
    np.testing.assert_allclose(m_step(blocked).covariances, m_step(whole).covariances, rtol=1e-11)
    assert ll_blocked == pytest.approx(ll, rel=1e-13)


def test_map_needs_concentration_at_least_one():
    X, resp, _ = problem("full")
    prior = ConjugatePrior(0.5, X.mean(0), 0.01, 4.0, np.eye(2))
    with pytest.raises(ValueError, match=r"weight_concentration 0\.5 is below 1"):
        m_step_from_resp(X, resp, "full", prior)


def test_map_with_an_empty_component_stays_positive_definite():
    X, resp, prior = problem("full")
    resp = np.column_stack([resp[:, 0] + resp[:, 1], np.zeros(len(X)), resp[:, 2]])
    params = m_step_from_resp(X, resp, "full", prior)
    assert np.linalg.eigvalsh(params.covariances).min() > 0
    np.testing.assert_allclose(params.means[1], prior.mean)


@pytest.mark.parametrize("covariance_type", ["tied_diag", "tied_spherical"])
@pytest.mark.parametrize("with_prior", [False, True])
def test_shared_diagonal_m_step_is_scipys_numerical_maximiser(covariance_type, with_prior):
    # scikit-learn's GaussianMixture has no equivalent of these two types (its four are full,
    # tied, diag and spherical), so the M-step is checked against a direct numerical
    # maximisation of the expected complete-data log-posterior Q over the unconstrained
    # parameters (log-ratio weights, means, log precision factors), from a far start.
    from scipy.optimize import minimize

    from latentmix.em.parameterisation import from_unconstrained, to_unconstrained

    X, resp, prior = problem(covariance_type, seed=11)
    prior = prior if with_prior else None
    K, d = resp.shape[1], X.shape[1]
    best = m_step_from_resp(X, resp, covariance_type, prior)

    def minus_q(theta):
        # Q written out for diagonal covariances (numpy, not scipy, to keep BFGS quick).
        p = from_unconstrained(theta, K, d, covariance_type)
        var = np.diagonal(p.full_covariances(), axis1=1, axis2=2)  # (K, d)
        log_n = -0.5 * (np.log(2 * np.pi * var)[None] + (X[:, None] - p.means) ** 2 / var)
        q = (resp * (np.log(p.weights) + log_n.sum(axis=2))).sum()
        return -(q + (0.0 if prior is None else log_prior(p, prior)))

    far = best._replace(means=best.means + 1.0, covariances=np.asarray(best.covariances) * 3.0)
    found = minimize(minus_q, to_unconstrained(far), method="BFGS", options={"gtol": 1e-9})
    numeric = from_unconstrained(found.x, K, d, covariance_type)
    assert -found.fun == pytest.approx(expected_log_posterior(X, resp, best, prior), rel=1e-10)
    assert minus_q(to_unconstrained(best)) == pytest.approx(found.fun, rel=1e-10)
    np.testing.assert_allclose(numeric.weights, best.weights, rtol=1e-5)
    np.testing.assert_allclose(numeric.means, best.means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numeric.covariances, best.covariances, rtol=1e-5)
