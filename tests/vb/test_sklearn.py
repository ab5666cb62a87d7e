"""VB against scikit-learn's BayesianGaussianMixture, started from the same responsibilities.

scikit-learn (1.9) puts a Wishart on each precision and a normal on each mean given it
(``weight_concentration_prior_type="dirichlet_distribution"``). For ``full`` that is our
Normal-inverse-Wishart exactly: :math:`\\Lambda \\sim W(\\nu, \\Psi^{-1})` is
:math:`\\Sigma \\sim IW(\\nu, \\Psi)`, with ``degrees_of_freedom_prior = nu``,
``covariance_prior = Psi``, ``mean_prior = m0``, ``mean_precision_prior = kappa`` and
``weight_concentration_prior = alpha``. Its attributes are then ours:
``weight_concentration_``, ``mean_precision_``, ``means_`` and ``degrees_of_freedom_`` are
:math:`\\alpha'`, :math:`\\kappa_k`, :math:`m_k`, :math:`\\nu_k`, and its ``covariances_`` is
:math:`\\Psi_k / \\nu_k`.

Its ``lower_bound_`` drops constants. With the same q it is our ELBO minus

.. math::

    -\\tfrac{n d}2 \\log 2\\pi + \\tfrac{K d}2 \\log\\kappa - K \\log Z_{IW}(\\nu, \\Psi)
    - \\log B(\\alpha) + K \\tfrac{d(d-1)}4 \\log\\pi

(the likelihood's :math:`2\\pi`, the prior's normalisers, and the :math:`\\pi^{d(d-1)/4}`
of the multivariate gamma function of each component's Wishart, which scikit-learn's
``_log_wishart_norm`` leaves out): a number fixed by n, d, K and the prior.

For the other types the families differ when d > 1:

* ``diag``: scikit-learn takes the diagonal precisions' expected log-determinant from the
  Wishart formula, :math:`\\sum_{j<d} \\psi((\\nu_k - j)/2)`, where independent gamma
  precisions (our inverse gammas) give :math:`d\\,\\psi(\\nu_k/2)`.
* ``spherical``: scikit-learn's one precision gains :math:`N_k` degrees of freedom, where a
  variance shared by d coordinates gains :math:`N_k d` (ours: :math:`\\nu + N_k d`).
* ``tied``: scikit-learn gives the shared precision :math:`\\nu + N/K` degrees of freedom and
  a scale of :math:`\\Psi + \\tfrac1K \\sum_k(\\ldots)`, counting its Wishart K times in the
  bound; one inverse Wishart shared by all components gives :math:`\\nu + N` and
  :math:`\\Psi + \\sum_k (\\ldots)`. They differ even in one dimension.

In one dimension ``full``, ``diag`` and ``spherical`` are the same model on both sides, and
match; the others are checked against the textbook reference in ``test_reference.py``.
"""

import warnings

import numpy as np
import pytest
from scipy.special import gammaln, multigammaln
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

from latentmix import ConjugatePrior
from latentmix.em.fit import ConvergenceWarning as VBConvergenceWarning
from latentmix.vb import VBGaussianMixture
from latentmix.vb.fit import VBOptions, run_vb


class StartedFrom(BayesianGaussianMixture):
    """scikit-learn's estimator started from given responsibilities (its own _initialize)."""

    def __init__(self, resp=None, **kwargs):
        super().__init__(**kwargs)
        self.resp = resp

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp)


def problem(d, seed=0, n=200, K=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, d) + rng.integers(K, size=n)[:, None] * 3
    resp = rng.dirichlet(np.ones(K), size=n)
    default = ConjugatePrior.default(X, K, "full")
    prior = ConjugatePrior(
        0.4, default.mean + 0.3, 0.2, default.degrees_of_freedom + 0.5, default.scale
    )
    return X, resp, prior


def sklearn_fit(X, resp, prior, covariance_type, n_iter):
    scale = prior.scale if prior.scale.ndim else float(prior.scale)
    sk = StartedFrom(
        resp=resp,
        n_components=resp.shape[1],
        covariance_type=covariance_type,
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=float(prior.weight_concentration),
        mean_prior=prior.mean,
        mean_precision_prior=prior.mean_precision,
        degrees_of_freedom_prior=prior.degrees_of_freedom,
        covariance_prior=scale,
        reg_covar=0.0,
        tol=0.0,
        max_iter=n_iter,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0 never "converges"
        sk.fit(X)
    return sk


def lower_bound_offset(n, d, K, prior):
    """Our ELBO minus scikit-learn's lower_bound_ at the same q (module docstring)."""
    alpha = prior.concentration(K)
    nu, kappa = prior.degrees_of_freedom, prior.mean_precision
    log_beta = gammaln(alpha).sum() - gammaln(alpha.sum())
    log_z = (
        0.5 * nu * d * np.log(2)
        + multigammaln(0.5 * nu, d)
        - 0.5 * nu * np.linalg.slogdet(np.atleast_2d(prior.scale))[1]
    )
    return (
        -0.5 * n * d * np.log(2 * np.pi)
        + 0.5 * K * d * np.log(kappa)
        - K * log_z
        - log_beta
        + K * d * (d - 1) / 4 * np.log(np.pi)
    )


CASES = [("full", 1), ("full", 2), ("full", 4), ("diag", 1), ("spherical", 1)]


@pytest.mark.parametrize(("covariance_type", "d"), CASES)
def test_same_variational_parameters_and_elbo_as_scikit_learn(covariance_type, d):
    X, resp, prior = problem(d)
    if covariance_type != "full":
        prior = ConjugatePrior(
            *[getattr(prior, n) for n in prior.HYPERPARAMETERS[:4]],
            np.diag(prior.scale) if covariance_type == "diag" else float(prior.scale[0, 0]),
        )
    n_iter = 25
    sk = sklearn_fit(X, resp, prior, covariance_type, n_iter)
    run = run_vb(X, resp, VBOptions(prior, covariance_type, tol=0.0, max_iter=n_iter))
    post = run.posterior
    np.testing.assert_allclose(post.weight_concentration, sk.weight_concentration_, rtol=1e-8)
    np.testing.assert_allclose(post.mean_precision, sk.mean_precision_, rtol=1e-8)
    np.testing.assert_allclose(post.mean, sk.means_, rtol=1e-8)
    np.testing.assert_allclose(post.degrees_of_freedom, sk.degrees_of_freedom_, rtol=1e-8)
    dof = sk.degrees_of_freedom_.reshape(-1, *[1] * (sk.covariances_.ndim - 1))
    np.testing.assert_allclose(post.scale, sk.covariances_ * dof, rtol=1e-8)
    # The whole history, entry by entry (scikit-learn records from its first iteration).
    offset = lower_bound_offset(X.shape[0], d, resp.shape[1], prior)
    np.testing.assert_allclose(
        run.elbo_history[1:] - offset, sk.lower_bounds_, rtol=1e-10, atol=1e-8
    )


def test_the_offset_is_not_zero_and_grows_with_n():
    # The comparison above is not vacuous: the dropped constants are large.
    prior = problem(2)[2]
    assert lower_bound_offset(200, 2, 3, prior) < lower_bound_offset(100, 2, 3, prior) - 100


def test_through_the_estimator_with_given_responsibilities():
    X, resp, prior = problem(3, seed=1)
    sk = sklearn_fit(X, resp, prior, "full", 40)
    vb = VBGaussianMixture(3, prior=prior, init=resp, tol=0.0, max_iter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VBConvergenceWarning)  # tol=0 never "converges"
        vb.fit(X)
    np.testing.assert_allclose(vb.means_, sk.means_, rtol=1e-8)
    np.testing.assert_allclose(vb.weight_concentration_, sk.weight_concentration_, rtol=1e-8)
    # scikit-learn's weights_ are the means of q(weights), as ours.
    np.testing.assert_allclose(vb.weights_, sk.weights_, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "tied"])
def test_where_the_families_differ_the_degrees_of_freedom_say_how(covariance_type):
    d, K = 3, 3
    X, resp, prior = problem(d)
    scale = {
        "diag": np.diag(prior.scale),
        "spherical": float(np.trace(prior.scale) / d),
        "tied": prior.scale,
    }[covariance_type]
    prior = ConjugatePrior(*[getattr(prior, n) for n in prior.HYPERPARAMETERS[:4]], scale)
    # From the same responsibilities (no iteration yet) the counts are the same ...
    sk = sklearn_fit(X, resp, prior, covariance_type, 0)
    run = run_vb(X, resp, VBOptions(prior, covariance_type, tol=0.0, max_iter=0))
    nk = resp.sum(axis=0)
    nu = prior.degrees_of_freedom
    theirs = {"diag": nu + nk, "spherical": nu + nk, "tied": nu + nk.sum() / K}
    ours = {"diag": nu + nk, "spherical": nu + nk * d, "tied": nu + nk.sum()}
    np.testing.assert_allclose(sk.degrees_of_freedom_, theirs[covariance_type], rtol=1e-10)
    np.testing.assert_allclose(run.posterior.degrees_of_freedom, ours[covariance_type])
    np.testing.assert_allclose(run.posterior.mean, sk.means_, rtol=1e-10)
    # ... and after a few iterations the fits have parted (diag too: the expected
    # log-precisions differ though the counts do not).
    sk = sklearn_fit(X, resp, prior, covariance_type, 5)
    run = run_vb(X, resp, VBOptions(prior, covariance_type, tol=0.0, max_iter=5))
    assert not np.allclose(run.posterior.mean, sk.means_, rtol=1e-6)
