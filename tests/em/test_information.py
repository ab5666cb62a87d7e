"""Scores, exact derivatives and the observed information (latentmix.em.information)."""

import numpy as np
import pytest

from latentmix.em.estep import log_likelihood
from latentmix.em.information import (
    objective_derivatives,
    observed_information,
    score_contributions,
)
from latentmix.em.parameterisation import from_unconstrained, to_unconstrained
from latentmix.estimator import EMGaussianMixture
from latentmix.params import COVARIANCE_TYPES, MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior, log_prior

K, D = 3, 2


def objective_theta(theta, X, n_components, n_features, covariance_type, prior=None):
    """The EM objective as a function of theta: what the exact Hessian differentiates."""
    params = from_unconstrained(theta, n_components, n_features, covariance_type)
    value = log_likelihood(X, params)
    return value if prior is None else value + log_prior(params, prior)


def _fd_hessian(f, theta, h=1e-4):
    p = theta.size
    E = np.eye(p) * h
    H = np.empty((p, p))
    for i in range(p):
        for j in range(i, p):
            H[i, j] = H[j, i] = (
                f(theta + E[i] + E[j])
                - f(theta + E[i] - E[j])
                - f(theta - E[i] + E[j])
                + f(theta - E[i] - E[j])
            ) / (4 * h * h)
    return H


def _fd_gradient(f, theta, h=1e-6):
    return np.array([(f(theta + e) - f(theta - e)) / (2 * h) for e in h * np.eye(theta.size)])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("with_prior", [False, True])
def test_exact_hessian_matches_finite_differences(covariance_type, with_prior, random_params):
    rng = np.random.default_rng(11)
    params = random_params(rng, covariance_type, K, D)
    X, _ = sample_mixture(params, 60, 3)
    prior = None
    if with_prior:
        base = ConjugatePrior.default(X, K, covariance_type)
        # Unequal concentrations and a stronger mean precision exercise every prior term.
        prior = ConjugatePrior(
            np.array([1.5, 2.0, 3.0]), base.mean, 0.3, base.degrees_of_freedom, base.scale
        )
    theta = to_unconstrained(params)

    def f(t):
        return objective_theta(t, X, K, D, covariance_type, prior)

    grad, hess = objective_derivatives(X, params, prior)
    np.testing.assert_allclose(grad, _fd_gradient(f, theta), rtol=1e-6, atol=1e-5)
    fd = _fd_hessian(f, theta)
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())
    np.testing.assert_allclose(hess, hess.T, atol=1e-10)


@pytest.mark.parametrize("prior", [None, "default"])
def test_gradient_vanishes_at_the_em_estimate(prior, random_params):
    truth = MixtureParams(
        np.array([0.4, 0.6]),
        np.array([[0.0, 0.0], [4.0, 3.0]]),
        np.array([[[1.0, 0.3], [0.3, 1.0]], [[1.5, -0.4], [-0.4, 0.8]]]),
    )
    X, _ = sample_mixture(truth, 300, 2)
    est = EMGaussianMixture(2, prior=prior, random_state=0).fit(X)
    grad, hess = objective_derivatives(X, est.params_, est.prior_)
    assert np.abs(grad).max() < 1e-4 * np.abs(hess).max()
    assert np.linalg.eigvalsh(-hess).min() > 0
    # At the MLE the outer product of scores estimates the same information.
    if prior is None:
        opg = observed_information(X, est.params_, information="opg")
        ratio = np.sqrt(np.diag(np.linalg.inv(opg)) / np.diag(np.linalg.inv(-hess)))
        assert np.all((ratio > 0.7) & (ratio < 1.4))


def test_opg_is_the_outer_product_of_the_scores(random_params):
    params = random_params(np.random.default_rng(2), "diag", K, D)
    X, _ = sample_mixture(params, 80, 1)
    scores = score_contributions(X, params)
    assert scores.shape == (80, to_unconstrained(params).size)
    np.testing.assert_allclose(
        observed_information(X, params, information="opg"), scores.T @ scores
    )


def test_information_names_are_checked(random_params):
    params = random_params(np.random.default_rng(2), "full", K, D)
    X, _ = sample_mixture(params, 50, 1)
    with pytest.raises(ValueError, match="information must be 'exact' or 'opg'; got 'hessian'"):
        observed_information(X, params, information="hessian")
    prior = ConjugatePrior.default(X, K, "full")
    with pytest.raises(ValueError, match="information='opg' is for the likelihood only"):
        observed_information(X, params, prior, information="opg")
    with pytest.raises(ValueError, match="weights must be positive and sum to 1"):
        observed_information(X, params._replace(weights=2 * params.weights))
