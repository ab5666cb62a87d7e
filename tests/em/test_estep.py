"""E-step densities and responsibilities against a naive scipy.stats computation."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from latentmix.em.estep import (
    DegenerateMixtureError,
    component_log_prob,
    e_step,
    log_likelihood,
    precision_cholesky,
)
from latentmix.params import COVARIANCE_TYPES, MixtureParams


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("d", [1, 3])
def test_component_log_prob_matches_scipy(covariance_type, d, random_params):
    rng = np.random.default_rng(10 + d)
    params = random_params(rng, covariance_type, 4, d)
    X = rng.normal(scale=4.0, size=(50, d))
    got = component_log_prob(X, params)
    covs = params.full_covariances()
    expected = np.column_stack(
        [
            stats.multivariate_normal(m, c).logpdf(X).reshape(-1)
            for m, c in zip(params.means, covs, strict=True)
        ]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_step_responsibilities_and_log_likelihood(covariance_type, random_params):
    rng = np.random.default_rng(3)
    params = random_params(rng, covariance_type, 3, 2)
    X = rng.normal(scale=3.0, size=(40, 2))
    covs = params.full_covariances()
    dens = np.column_stack(
        [
            w * stats.multivariate_normal(m, c).pdf(X)
            for w, m, c in zip(params.weights, params.means, covs, strict=True)
        ]
    )
    log_resp, sample_ll = e_step(X, params)
    np.testing.assert_allclose(np.exp(log_resp), dens / dens.sum(1, keepdims=True), rtol=1e-9)
    np.testing.assert_allclose(sample_ll, np.log(dens.sum(1)), rtol=1e-12)
    np.testing.assert_allclose(logsumexp(log_resp, axis=1), 0.0, atol=1e-12)
    assert log_likelihood(X, params) == pytest.approx(np.log(dens.sum(1)).sum(), rel=1e-12)


def test_far_points_stay_finite_in_log_space():
    params = MixtureParams(
        np.array([0.5, 0.5]), np.array([[0.0], [1.0]]), np.array([1e-4, 1e-4]), "spherical"
    )
    X = np.array([[1e3], [-1e3]])
    log_resp, sample_ll = e_step(X, params)
    assert np.all(np.isfinite(log_resp)) and np.all(np.isfinite(sample_ll))


@pytest.mark.parametrize(
    ("covariance_type", "covariances"),
    [
        ("full", np.array([[[1.0, 1.0], [1.0, 1.0]]])),
        ("tied", np.zeros((2, 2))),
        ("diag", np.array([[1.0, 0.0]])),
        ("spherical", np.array([-1.0])),
        ("tied_diag", np.array([1.0, 0.0])),
        ("tied_spherical", np.array(0.0)),
        ("tied_spherical", np.array(np.nan)),
    ],
)
def test_singular_covariance_raises_degenerate(covariance_type, covariances):
    with pytest.raises(DegenerateMixtureError, match="prior='default'"):
        precision_cholesky(covariances, covariance_type)


def test_a_singular_covariance_error_advises_for_mle_and_map_alike():
    singular = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    with pytest.raises(DegenerateMixtureError) as info:
        precision_cholesky(singular, "full")
    message = str(info.value)
    assert "the covariance of component 0 is singular" in message
    # A MAP fit already has a prior: the advice names what to change for each estimate.
    assert "for an MLE, fit the MAP (prior='default')" in message
    assert "for a MAP, give a prior with a larger scale or more degrees of freedom" in message


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_data_far_from_the_origin_keep_their_precision(covariance_type, random_params):
    # Tight components 1e4 from the origin: the expanded quadratic of the diagonal and tied
    # types must not cancel x^2 against mu^2 (the densities are translation invariant).
    rng = np.random.default_rng(21)
    near = random_params(rng, covariance_type, 3, 2)
    near = near._replace(covariances=np.asarray(near.covariances) * 1e-6)
    X = near.means[rng.integers(3, size=30)] + 1e-3 * rng.normal(size=(30, 2))
    far = near._replace(means=near.means + 1e4)
    np.testing.assert_allclose(
        component_log_prob(X + 1e4, far), component_log_prob(X, near), rtol=1e-9, atol=1e-6
    )
