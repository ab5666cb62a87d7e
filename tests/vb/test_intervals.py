"""VB intervals: entry for entry as the other sources', exact where q's marginal has a name,
and equal to the exact posterior's where VB is exact (one component)."""

import numpy as np
import pytest
from scipy import stats

from latentmix import ConjugatePrior, EMGaussianMixture, VBGaussianMixture
from latentmix.em.intervals import laplace
from latentmix.em.parameterisation import natural_vector, parameter_keys
from latentmix.params import COVARIANCE_TYPES, MixtureParams
from latentmix.vb.intervals import align_posterior, permute_posterior, vb_intervals
from latentmix.vb.updates import posterior_mean

rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(-3, 1, (60, 2)), rng.normal(3, 0.7, (90, 2))])


def fitted(covariance_type, **kwargs):
    return VBGaussianMixture(
        2, covariance_type=covariance_type, random_state=0, n_init=2, tol=1e-8, **kwargs
    ).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_exact_marginal_quantiles_agree_with_draws_of_q(covariance_type):
    vb = fitted(covariance_type)
    iv = vb.intervals(level=0.9, n_draws=20000, random_state=1)
    assert iv.source == "vb" and iv.level == 0.9
    assert iv.keys == tuple(parameter_keys(2, 2, covariance_type))
    np.testing.assert_allclose(iv.estimate, natural_vector(posterior_mean(vb.posterior_)))
    # The draws' quantiles carry Monte Carlo error: about 0.02 sd at 20000 draws.
    lower, upper = np.quantile(iv.draws, [0.05, 0.95], axis=0)
    np.testing.assert_array_less(np.abs(lower - iv.lower), 0.06 * iv.standard_error)
    np.testing.assert_array_less(np.abs(upper - iv.upper), 0.06 * iv.standard_error)
    assert np.all(iv.lower < iv.estimate) and np.all(iv.estimate < iv.upper)


def test_the_entries_are_those_of_the_laplace_intervals():
    em = EMGaussianMixture(2, prior="default", random_state=0).fit(X)
    lap = laplace(em.params_, X, prior=em.prior_, n_draws=100, random_state=0)
    vb = fitted("full")
    iv = vb.intervals(reference=em.params_, n_draws=100, random_state=0)
    assert iv.keys == lap.keys and iv.names == lap.names
    # Lined up with the MAP, the VB means sit at the MAP's (well-separated clusters).
    P = len(iv.keys)
    np.testing.assert_allclose(iv.estimate[2:6], lap.estimate[2:6], atol=0.05)
    assert iv.draws.shape == (100, P)


def test_one_component_is_the_exact_conjugate_posterior():
    """With K = 1 the labels are known and q(theta) is the exact posterior: the intervals of
    the normal-inverse-gamma posterior (closed form, computed here from its definition)."""
    x = rng.normal(2.0, 1.5, 40)
    prior = ConjugatePrior(1.0, np.array([0.0]), 0.5, 3.0, np.array([2.0]))
    vb = VBGaussianMixture(1, covariance_type="diag", prior=prior, n_init=1).fit(x)
    n, xbar = x.size, x.mean()
    kappa_n = 0.5 + n
    m_n = n * xbar / kappa_n
    nu_n = 3.0 + n
    psi_n = 2.0 + ((x - xbar) ** 2).sum() + 0.5 * n / kappa_n * xbar**2
    iv = vb_intervals(vb.posterior_, level=0.95, n_draws=10, random_state=0)
    mean_lo, mean_hi = stats.t.ppf([0.025, 0.975], nu_n, m_n, np.sqrt(psi_n / (kappa_n * nu_n)))
    var_lo, var_hi = stats.invgamma.ppf([0.025, 0.975], nu_n / 2, scale=psi_n / 2)
    np.testing.assert_allclose(iv.lower[1:], [mean_lo, var_lo], rtol=1e-10)
    np.testing.assert_allclose(iv.upper[1:], [mean_hi, var_hi], rtol=1e-10)
    assert (iv.lower[0], iv.upper[0]) == (1.0, 1.0)  # one weight, and it is 1


@pytest.mark.parametrize("covariance_type", ["full", "tied_diag"])
def test_aligning_to_a_permuted_reference_permutes_q(covariance_type):
    vb = fitted(covariance_type)
    post = vb.posterior_
    mean = posterior_mean(post)
    swapped = align_posterior(post, mean.permute([1, 0]))
    np.testing.assert_array_equal(swapped.mean, post.mean[[1, 0]])
    for a, b in zip(swapped[:5], permute_posterior(post, [1, 0])[:5], strict=True):
        np.testing.assert_array_equal(a, b)
    if covariance_type == "tied_diag":
        np.testing.assert_array_equal(swapped.scale, post.scale)  # shared: not moved


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"level": 1.5}, "level must be between 0 and 1"), ({"n_draws": 1}, "n_draws must be")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vb_intervals(fitted("spherical").posterior_, **kwargs)


def test_reference_of_another_shape_is_an_error():
    vb = fitted("full")
    bad = MixtureParams(np.ones(3) / 3, np.zeros((3, 2)), np.stack([np.eye(2)] * 3))
    with pytest.raises(ValueError, match="cannot match components"):
        vb.intervals(reference=bad)
