"""The inverse-Wishart for PyMC against scipy.stats.invwishart, and its transform.

Reference values come from scipy.stats.invwishart (SciPy 1.17, ``invwishart(df=nu,
scale=Psi).logpdf``, ``.mean()``, ``.var()``), the same parameterisation as ours.
"""

import arviz as az
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import jacobian
from scipy import stats

from latentmix.bayes.distributions import CholeskyCovariance, InverseWishart, invwishart_rvs
from latentmix.priors import log_invwishart
from latentmix.threads import single_threaded_blas


def _random_scale(rng, d):
    A = rng.normal(size=(d, d))
    return A @ A.T + d * np.eye(d)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_logp_matches_scipy(d):
    rng = np.random.default_rng(d)
    scale = _random_scale(rng, d)
    nu = d + 1.5
    with pm.Model():
        cov = InverseWishart("cov", nu=nu, scale=scale, shape=(5, d, d))
    values = stats.invwishart(df=nu, scale=scale).rvs(size=5, random_state=rng).reshape(5, d, d)
    ours = pm.logp(cov, values).eval()
    ref = np.array([stats.invwishart(df=nu, scale=scale).logpdf(v) for v in values])
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=0)
    # and the prior module's numpy version, which EM uses
    np.testing.assert_allclose(log_invwishart(values, nu, scale), ref, rtol=1e-10, atol=0)


def test_logp_outside_support_and_bad_nu():
    with pm.Model():
        cov = InverseWishart("cov", nu=4.0, scale=np.eye(2))
    assert pm.logp(cov, np.array([[1.0, 2.0], [2.0, 1.0]])).eval() == -np.inf
    with pm.Model():
        bad = InverseWishart("bad", nu=0.5, scale=np.eye(2))
    with pytest.raises(pm.logprob.utils.ParameterValueError, match="nu > d - 1"):
        pm.logp(bad, np.eye(2)).eval()


def test_scale_needs_static_shape():
    with pytest.raises(ValueError, match="known size d"):
        InverseWishart.dist(nu=4.0, scale=pt.matrix("s"))


def test_transform_inverts_and_log_jacobian_is_exact():
    d = 3
    transform = CholeskyCovariance(d)
    y = pt.vector("y")
    sigma = transform.backward(y)
    rows, cols = np.tril_indices(d)
    vech = sigma[rows, cols]
    numeric = pt.log(pt.abs(pt.linalg.det(jacobian(vech, y))))
    f = pytensor.function([y], [numeric, transform.log_jac_det(y), transform.forward(sigma)])
    y0 = np.random.default_rng(0).normal(size=d * (d + 1) // 2)
    numeric_value, ours, back = f(y0)
    np.testing.assert_allclose(ours, numeric_value, rtol=1e-12)
    np.testing.assert_allclose(back, y0, rtol=1e-12, atol=1e-12)


def _moment_z_scores(draws, nu, scale, ess):
    """z-scores of the sample mean and variance of every entry against scipy's."""
    ref = stats.invwishart(df=nu, scale=scale)
    mean, var = ref.mean(), ref.var()
    sample_mean = draws.mean(axis=0)
    sample_var = draws.var(axis=0)
    # Monte Carlo standard errors from the sample's own spread and the effective size.
    se_mean = draws.std(axis=0) / np.sqrt(ess)
    se_var = ((draws - sample_mean) ** 2).std(axis=0) / np.sqrt(ess)
    return (sample_mean - mean) / se_mean, (sample_var - var) / se_var


def test_random_draws_match_scipy_moments():
    # nu > d + 7 so that the fourth moments (the error of the variance) exist.
    d, nu, n = 2, 12.0, 40_000
    rng = np.random.default_rng(1)
    scale = _random_scale(rng, d)
    draws = invwishart_rvs(rng, nu, scale, size=(n,))
    z_mean, z_var = _moment_z_scores(draws, nu, scale, n)
    assert np.abs(z_mean).max() < 4
    assert np.abs(z_var).max() < 4


@pytest.mark.compiles
def test_pymc_random_draws_match_scipy_moments():
    # The PyMC random variable uses the same generator (one call for all the draws); pm.draw
    # compiles the random graph first.
    d, nu, n = 2, 12.0, 40_000
    scale = _random_scale(np.random.default_rng(1), d)
    pm_draws = pm.draw(InverseWishart.dist(nu=nu, scale=scale, size=(n,)), random_seed=2)
    assert pm_draws.shape == (n, d, d)
    z_mean, z_var = _moment_z_scores(pm_draws, nu, scale, n)
    assert np.abs(z_mean).max() < 4
    assert np.abs(z_var).max() < 4


@pytest.mark.compiles
def test_nuts_on_the_prior_alone_reproduces_scipy_moments():
    # NUTS samples the unconstrained Cholesky coordinates, so its draws of the matrix
    # follow the inverse-Wishart only if the log-Jacobian of the transform is right.
    d, nu = 2, 12.0
    scale = np.array([[2.0, 0.6], [0.6, 1.0]])
    with single_threaded_blas(), pm.Model():
        InverseWishart("cov", nu=nu, scale=scale)
        idata = pm.sample(
            draws=3000,
            tune=500,
            chains=2,
            cores=1,
            random_seed=3,
            progressbar=False,
            compute_convergence_checks=False,
        )
    draws = idata.posterior["cov"].values.reshape(-1, d, d)
    ess = float(az.ess(idata, var_names=["cov"])["cov"].min())
    assert ess > 1000
    z_mean, z_var = _moment_z_scores(draws, nu, scale, ess)
    assert np.abs(z_mean).max() < 4
    assert np.abs(z_var).max() < 4
