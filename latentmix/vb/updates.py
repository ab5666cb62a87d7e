r"""Mean-field variational Bayes for the mixture: the closed-form updates and the ELBO.

The model is the one of :mod:`latentmix.priors` (the MAP's and the NUTS posterior's): weights
:math:`\pi \sim \operatorname{Dir}(\alpha)`, and per covariance type a conjugate prior on the
component means and covariances. Coordinate-ascent VB approximates the posterior of the
labels :math:`z` and the parameters :math:`\theta = (\pi, \mu, \Sigma)` by

.. math::

    q(z, \theta) = \prod_i q(z_i)\; q(\pi)\; q(\mu, \Sigma),

and raises the evidence lower bound (ELBO)
:math:`\mathcal L(q) = E_q[\log p(X, z, \theta)] - E_q[\log q(z, \theta)] \le \log p(X)`
one factor at a time. Nothing else is assumed: the optimal factors are the conjugate families
below (Bishop 2006, sec. 10.2, in the covariance parameterisation and our notation).

Notation
--------
:math:`r_{ik} = q(z_i = k)` are the responsibilities; the statistics are those of the EM
M-step (:mod:`latentmix.em.mstep`), about the data mean :math:`c`:
:math:`N_k = \sum_i r_{ik}`, :math:`\bar x_k = \sum_i r_{ik} x_i / N_k`, the scatter
:math:`S_k = \sum_i r_{ik} (x_i - \bar x_k)(x_i - \bar x_k)^\top`, :math:`N = \sum_k N_k` and
:math:`b_k = \kappa N_k / (\kappa + N_k)`. The prior is :math:`\alpha` (weight
concentration), :math:`m_0`, :math:`\kappa` (mean precision), :math:`\nu` (degrees of
freedom) and :math:`\Psi` (scale; :math:`\psi_j` per feature for ``diag`` and
``tied_diag``, :math:`s` for ``spherical`` and ``tied_spherical``).

The update of q(weights, means, covariances) given q(z)
-------------------------------------------------------
:math:`q(\pi) = \operatorname{Dir}(\alpha_k + N_k)` for every type. The components:

* ``full``: :math:`q(\mu_k, \Sigma_k) = \mathcal N(\mu_k \mid m_k, \Sigma_k/\kappa_k)\,
  \operatorname{IW}(\Sigma_k \mid \nu_k, \Psi_k)` with

  .. math::

      \kappa_k = \kappa + N_k, \quad m_k = \frac{\kappa m_0 + N_k \bar x_k}{\kappa_k}, \quad
      \nu_k = \nu + N_k, \quad
      \Psi_k = \Psi + S_k + b_k (\bar x_k - m_0)(\bar x_k - m_0)^\top .

  The factor over :math:`(\mu_k, \Sigma_k)` is not split further: given q(z) the optimal
  q is the conjugate posterior with soft counts, a Normal-inverse-Wishart.
* ``tied``: one covariance, so q does not factor over components:
  :math:`q(\mu, \Sigma) = \operatorname{IW}(\Sigma \mid \nu + N, \Psi_N) \prod_k
  \mathcal N(\mu_k \mid m_k, \Sigma/\kappa_k)` with
  :math:`\Psi_N = \Psi + \sum_k [S_k + b_k (\bar x_k - m_0)(\bar x_k - m_0)^\top]`
  (each mean's prior :math:`|\Sigma|^{-1/2}` is cancelled by integrating that mean, so the
  degrees of freedom grow by N, not N + K). The means are independent given
  :math:`\Sigma`, not independent of it.
* ``diag``: for each component and feature, :math:`q(\mu_{kj}, \sigma^2_{kj}) =
  \mathcal N(m_{kj}, \sigma^2_{kj}/\kappa_k)\, \operatorname{IG}(\nu_k/2, \Psi_{kj}/2)` with
  :math:`\nu_k = \nu + N_k` and
  :math:`\Psi_{kj} = \psi_j + S_{k,jj} + b_k (\bar x_{kj} - m_{0j})^2`.
* ``spherical``: :math:`q(\mu_k, \sigma^2_k) = \mathcal N(m_k, \sigma^2_k I/\kappa_k)\,
  \operatorname{IG}(\nu_k/2, \Psi_k/2)` with :math:`\nu_k = \nu + N_k d` and
  :math:`\Psi_k = s + \operatorname{tr} S_k + b_k \lVert \bar x_k - m_0 \rVert^2`.
* ``tied_diag``: :math:`q = \prod_j \operatorname{IG}(\sigma^2_j \mid (\nu + N)/2, \Psi_j/2)
  \prod_k \mathcal N(\mu_{kj} \mid m_{kj}, \sigma^2_j/\kappa_k)` with
  :math:`\Psi_j = \psi_j + \sum_k [S_{k,jj} + b_k (\bar x_{kj} - m_{0j})^2]`.
* ``tied_spherical``: :math:`\operatorname{IG}(\sigma^2 \mid (\nu + N d)/2, \Psi/2)
  \prod_k \mathcal N(\mu_k \mid m_k, \sigma^2 I/\kappa_k)` with
  :math:`\Psi = s + \sum_k [\operatorname{tr} S_k + b_k \lVert \bar x_k - m_0 \rVert^2]`.

So every factor is the prior's family with updated hyperparameters, stored in the prior's
names (:class:`VBPosterior`): ``degrees_of_freedom`` :math:`\nu'` and ``scale``
:math:`\Psi'`, an inverse-Wishart :math:`\operatorname{IW}(\nu', \Psi')` or an inverse-gamma
:math:`\operatorname{IG}(\nu'/2, \Psi'/2)` per variance, in the shape of the covariances.

The update of q(z) given q(weights, means, covariances)
-------------------------------------------------------
:math:`\log r_{ik} = \log \rho_{ik} - \log \sum_j \rho_{ij}` with

.. math::

    \log \rho_{ik} = E[\log \pi_k] + \tfrac12 E[\log |\Lambda_k|] - \tfrac d2 \log 2\pi
        - \tfrac d{2\kappa_k} - \tfrac12 (x_i - m_k)^\top \nu'_k \Psi_k'^{-1} (x_i - m_k),

:math:`\Lambda_k = \Sigma_k^{-1}`, :math:`E[\log \pi_k] = \psi(\alpha'_k) -
\psi(\sum_j \alpha'_j)` (:math:`\psi` the digamma function),
:math:`E[\log|\Lambda|] = \sum_{j=1}^d \psi((\nu' + 1 - j)/2) + d \log 2 - \log|\Psi'|` for
an inverse Wishart and :math:`\psi(\nu'/2) - \log(\Psi'/2)` per inverse-gamma variance
(counted d times for a spherical one). :math:`E[\Lambda] = \nu' \Psi'^{-1}` in every case, so
:math:`\log\rho` is a Gaussian log-density at "covariances" :math:`\Psi'/\nu'` plus a
constant per component: the E-step is EM's fused kernel with another constant
(:mod:`latentmix.vb.kernels`).

The ELBO
--------
At the pair the loop records (q(z) from the E-step, then q(theta) optimal for it) the bound
has a closed form with every constant. With :math:`H(r) = -\sum_{ik} r_{ik} \log r_{ik}`,

.. math::

    \mathcal L = H(r) + \log \int \prod_{ik} p(x_i, z_i = k \mid \theta)^{r_{ik}}
        p(\theta)\, d\theta ,

because the optimal q(theta) is the normalised integrand; and the integral is a ratio of
normalising constants (the "marginal likelihood" of the soft counts):

.. math::

    \log B(\alpha') - \log B(\alpha) - \tfrac{N d}2 \log 2\pi
    + \tfrac d2 \sum_k \log \frac{\kappa}{\kappa_k}
    + \sum_{\text{covariance factors}} [\log Z(\nu', \Psi') - \log Z(\nu, \Psi)],

:math:`B(a) = \prod_k \Gamma(a_k) / \Gamma(\sum_k a_k)`,
:math:`\log Z_{\text{IW}}(\nu, \Psi) = \tfrac{\nu d}2 \log 2 + \log\Gamma_d(\nu/2) -
\tfrac\nu2 \log|\Psi|` and :math:`\log Z_{\text{IG}}(\nu, \psi) = \log\Gamma(\nu/2) -
\tfrac\nu2 \log(\psi/2)` (one per variance: K d for ``diag``, K for ``spherical``, d for
``tied_diag``, 1 for ``tied_spherical``, K inverse-Wisharts for ``full``, one for ``tied``).
:func:`log_marginal` is this integral; the E-step gives :math:`H(r)`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln, multigammaln

from latentmix.em.mstep import SufficientStats
from latentmix.params import MixtureParams, check_covariance_type
from latentmix.priors import ConjugatePrior

_LOG_2PI = np.log(2 * np.pi)
# As the EM M-step: an empty component gives 0/tiny rather than NaN.
_EMPTY = 10 * np.finfo(float).eps

#: Types whose covariance factor is an inverse Wishart (the others: inverse gammas).
WISHART_TYPES = ("full", "tied")
#: Types with one covariance shared by all components.
SHARED = ("tied", "tied_diag", "tied_spherical")
#: The E-step kernel's type for each covariance type: the shared diagonal types run as
#: ``diag``/``spherical`` with the shared variances repeated (the statistics are the same).
KERNEL_TYPES = {
    "full": "full",
    "tied": "tied",
    "diag": "diag",
    "spherical": "spherical",
    "tied_diag": "diag",
    "tied_spherical": "spherical",
}


class VBPosterior(NamedTuple):
    r"""The variational posterior q(weights, means, covariances): the prior's families.

    Attributes
    ----------
    weight_concentration : ndarray of shape (K,)
        :math:`\alpha'_k = \alpha_k + N_k`: q(weights) is Dirichlet.
    mean : ndarray of shape (K, d)
        :math:`m_k`: the mean of q(means).
    mean_precision : ndarray of shape (K,)
        :math:`\kappa_k = \kappa + N_k`: the means given the covariances are
        :math:`\mathcal N(m_k, \Sigma_k / \kappa_k)`.
    degrees_of_freedom : ndarray
        :math:`\nu'`: shape (K,) for ``full``, ``diag``, ``spherical``; () for the shared types.
    scale : ndarray
        :math:`\Psi'` in the shape of the covariances: (K, d, d) full, (d, d) tied, (K, d)
        diag, (K,) spherical, (d,) tied_diag, () tied_spherical. Inverse Wishart
        :math:`\operatorname{IW}(\nu', \Psi')` for full and tied, else
        :math:`\operatorname{IG}(\nu'/2, \Psi'/2)` for each variance.
    covariance_type : str
    """

    weight_concentration: np.ndarray
    mean: np.ndarray
    mean_precision: np.ndarray
    degrees_of_freedom: np.ndarray
    scale: np.ndarray
    covariance_type: str

    @property
    def n_components(self) -> int:
        """The number of components K."""
        return self.mean.shape[0]

    @property
    def n_features(self) -> int:
        """The number of features d."""
        return self.mean.shape[1]


# --- q(theta) from the statistics ------------------------------------------------------------


def _outer(a):
    return a[..., :, None] * a[..., None, :]


def update_posterior(stats: SufficientStats, prior: ConjugatePrior, covariance_type: str):
    """The optimal q(weights, means, covariances) given the statistics of q(z).

    Parameters
    ----------
    stats : SufficientStats
        Statistics of the responsibilities, in the kernel's type
        (``KERNEL_TYPES[covariance_type]``; :func:`latentmix.em.mstep.sufficient_statistics`
        or :mod:`latentmix.vb.kernels`).
    prior : ConjugatePrior
        Checked against the data and ``covariance_type`` by the caller.
    covariance_type : str

    Returns
    -------
    VBPosterior
        Formulas in the module docstring.
    """
    check_covariance_type(covariance_type)
    nk = stats.nk
    K, d = stats.sum_x.shape
    xbar = stats.sum_x / (nk + _EMPTY)[:, None]  # centred component averages
    m0 = prior.mean - stats.center
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    kappa_k = kappa + nk
    mean = (stats.sum_x + kappa * m0) / kappa_k[:, None] + stats.center
    shrink = kappa * nk / kappa_k
    diff = xbar - m0
    psi = np.asarray(prior.scale, dtype=float)
    if covariance_type == "full":
        scatter = stats.sum_xx - nk[:, None, None] * _outer(xbar)
        scale = psi + scatter + shrink[:, None, None] * _outer(diff)
        scale = 0.5 * (scale + scale.transpose(0, 2, 1))
        dof = nu + nk
    elif covariance_type == "tied":
        scatter = stats.sum_xx - np.einsum("k,ki,kj->ij", nk, xbar, xbar)
        scale = psi + scatter + np.einsum("k,ki,kj->ij", shrink, diff, diff)
        scale = 0.5 * (scale + scale.T)
        dof = np.asarray(nu + nk.sum())
    else:
        if stats.covariance_type == "diag":
            # Per component and feature: scatter + shrinkage term.
            per = stats.sum_xx - nk[:, None] * xbar**2 + shrink[:, None] * diff**2
        else:
            per = stats.sum_xx - nk * (xbar**2).sum(axis=1) + shrink * (diff**2).sum(axis=1)
        # Round-off can take a zero scatter a hair below zero.
        per = np.maximum(per, 0.0)
        if covariance_type == "diag":
            scale, dof = psi + per, nu + nk
        elif covariance_type == "spherical":
            scale, dof = psi + per, nu + nk * d
        elif covariance_type == "tied_diag":
            scale, dof = psi + per.sum(axis=0), np.asarray(nu + nk.sum())
        else:
            scale, dof = np.asarray(psi + per.sum()), np.asarray(nu + nk.sum() * d)
    alpha = prior.concentration(K) + nk
    return VBPosterior(alpha, mean, kappa_k, np.asarray(dof, dtype=float), scale, covariance_type)


def prior_as_posterior(prior: ConjugatePrior, n_components: int, covariance_type: str):
    """The prior in :class:`VBPosterior` form (what q is with no data)."""
    K = n_components
    d = prior.mean.size
    scale = np.asarray(prior.scale, dtype=float)
    if covariance_type not in SHARED:
        scale = np.broadcast_to(scale, (K, *scale.shape)).copy()
        dof = np.full(K, prior.degrees_of_freedom)
    else:
        dof = np.asarray(prior.degrees_of_freedom, dtype=float)
    return VBPosterior(
        prior.concentration(K),
        np.broadcast_to(prior.mean, (K, d)).copy(),
        np.full(K, prior.mean_precision),
        dof,
        scale,
        covariance_type,
    )


# --- expectations under q ------------------------------------------------------------------


def expected_log_weights(post: VBPosterior) -> np.ndarray:
    r""":math:`E_q[\log \pi_k] = \psi(\alpha'_k) - \psi(\sum_j \alpha'_j)`, shape (K,)."""
    alpha = post.weight_concentration
    return digamma(alpha) - digamma(alpha.sum())


def _log_det(scale):
    chol = np.linalg.cholesky(scale)
    return 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)


def expected_log_det_precision(post: VBPosterior) -> np.ndarray:
    r""":math:`E_q[\log |\Sigma_k^{-1}|]`, shape (K,) (the shared value repeated)."""
    K, d = post.n_components, post.n_features
    nu, scale = post.degrees_of_freedom, post.scale
    covariance_type = post.covariance_type
    if covariance_type in WISHART_TYPES:
        j = np.arange(d)
        value = (
            digamma(0.5 * (np.asarray(nu)[..., None] - j)).sum(-1)
            + d * np.log(2.0)
            - _log_det(scale)
        )
    else:
        log_each = digamma(0.5 * nu)[..., None] - np.log(0.5 * _variance_stack(post, scale))
        value = log_each.sum(-1) * (d if covariance_type.endswith("spherical") else 1)
    return np.broadcast_to(value, (K,)).astype(float)


def _variance_stack(post, values):
    """Per-variance values with a last axis: (K, d) diag, (K, 1) spherical, (d,) tied_diag..."""
    if post.covariance_type == "spherical":
        return values[:, None]
    if post.covariance_type == "tied_spherical":
        return np.asarray(values)[None]
    return values


def plan_covariances(post: VBPosterior) -> np.ndarray:
    r""":math:`\Psi'/\nu'` (the inverse of :math:`E_q[\Sigma^{-1}]`) in the kernel's shape.

    ``tied_diag`` and ``tied_spherical`` are repeated over components as (K, d) and (K,), the
    shapes of ``diag`` and ``spherical``.
    """
    K = post.n_components
    nu, scale = post.degrees_of_freedom, post.scale
    covariance_type = post.covariance_type
    if covariance_type == "full":
        return scale / nu[:, None, None]
    if covariance_type == "tied":
        return scale / nu
    if covariance_type == "diag":
        return scale / nu[:, None]
    if covariance_type == "spherical":
        return scale / nu
    if covariance_type == "tied_diag":
        return np.broadcast_to(scale / nu, (K, scale.shape[0])).copy()
    return np.full(K, float(scale / nu))


def log_rho_constants(post: VBPosterior) -> np.ndarray:
    r"""The constant of :math:`\log\rho_{ik}` for each component, shape (K,).

    :math:`\log \rho_{ik} = c_k - \tfrac12 (x_i - m_k)^\top \nu'_k \Psi_k'^{-1} (x_i - m_k)`
    with

    .. math::

        c_k = E[\log\pi_k] + \tfrac12 E[\log|\Lambda_k|] - \tfrac d2 \log 2\pi
            - \tfrac d{2\kappa_k} .
    """
    d = post.n_features
    return (
        expected_log_weights(post)
        + 0.5 * expected_log_det_precision(post)
        - 0.5 * d * _LOG_2PI
        - 0.5 * d / post.mean_precision
    )


def kernel_params(post: VBPosterior) -> MixtureParams:
    r"""A MixtureParams whose Gaussian log-densities are the quadratic part of log rho.

    Means :math:`m_k`, covariances :math:`\Psi'/\nu'` in the kernel's type, equal weights
    (the kernel's constant is replaced by :func:`log_rho_constants`).
    """
    K = post.n_components
    return MixtureParams(
        np.full(K, 1.0 / K), post.mean, plan_covariances(post), KERNEL_TYPES[post.covariance_type]
    )


# --- the bound -------------------------------------------------------------------------------


def _log_beta(a):
    return gammaln(a).sum() - gammaln(a.sum())


def log_z_invwishart(nu, scale) -> np.ndarray:
    r"""The inverse-Wishart normaliser.

    :math:`\log Z_{IW} = \tfrac{\nu d}2 \log 2 + \log\Gamma_d(\nu/2) - \tfrac\nu2\log|\Psi|`.
    """
    scale = np.asarray(scale, dtype=float)
    d = scale.shape[-1]
    nu = np.asarray(nu, dtype=float)
    lmg = np.vectorize(lambda v: multigammaln(0.5 * v, d))(nu)
    return 0.5 * nu * d * np.log(2.0) + lmg - 0.5 * nu * _log_det(scale)


def log_z_invgamma(nu, scale) -> np.ndarray:
    r""":math:`\log Z_{IG} = \log\Gamma(\nu/2) - \tfrac\nu2 \log(\psi/2)`, elementwise."""
    return gammaln(0.5 * nu) - 0.5 * nu * np.log(0.5 * np.asarray(scale))


def _log_z_covariances(post: VBPosterior) -> float:
    """Sum of the normalising constants of the covariance factors of q (or of the prior)."""
    if post.covariance_type in WISHART_TYPES:
        return float(np.sum(log_z_invwishart(post.degrees_of_freedom, post.scale)))
    nu = post.degrees_of_freedom
    stack = _variance_stack(post, post.scale)
    return float(np.sum(log_z_invgamma(np.asarray(nu)[..., None], stack)))


def log_marginal(post: VBPosterior, prior: ConjugatePrior, n_total: float) -> float:
    r"""Log of :math:`\int \prod_{ik} p(x_i, z_i = k \mid \theta)^{r_{ik}} p(\theta) d\theta`.

    Parameters
    ----------
    post : VBPosterior
        :func:`update_posterior` of the same responsibilities.
    prior : ConjugatePrior
    n_total : float
        :math:`N = \sum_{ik} r_{ik}` (the number of rows).

    Returns
    -------
    float
        The ELBO minus the entropy of q(z) (module docstring).
    """
    K, d = post.n_components, post.n_features
    base = prior_as_posterior(prior, K, post.covariance_type)
    return float(
        _log_beta(post.weight_concentration)
        - _log_beta(base.weight_concentration)
        - 0.5 * n_total * d * _LOG_2PI
        + 0.5 * d * np.log(prior.mean_precision / post.mean_precision).sum()
        + _log_z_covariances(post)
        - _log_z_covariances(base)
    )


# --- point summaries of q ----------------------------------------------------------------------


def _iw_mean_divisor(post):
    d = post.n_features
    return post.degrees_of_freedom - d - 1


def posterior_mean(post: VBPosterior) -> MixtureParams:
    r"""The mixture at the means of q: :math:`E[\pi]`, :math:`E[\mu]`, :math:`E[\Sigma]`.

    :math:`E[\pi_k] = \alpha'_k / \sum_j \alpha'_j`, :math:`E[\mu_k] = m_k`,
    :math:`E[\Sigma] = \Psi'/(\nu' - d - 1)` (inverse Wishart) or
    :math:`\Psi'/(\nu' - 2)` (inverse gamma). Where the mean of a covariance does not exist
    (:math:`\nu' \le d + 1`, or :math:`\le 2`: a component with almost no data under a prior
    with few degrees of freedom) its entry is :math:`\Psi'/\nu'`, the inverse of
    :math:`E[\Sigma^{-1}]` (scikit-learn's ``covariances_``).
    """
    alpha = post.weight_concentration
    nu, scale = post.degrees_of_freedom, post.scale
    divisor = _iw_mean_divisor(post) if post.covariance_type in WISHART_TYPES else nu - 2.0
    divisor = np.where(divisor > 0, divisor, nu)
    extra = scale.ndim - np.ndim(divisor)
    covariances = scale / np.reshape(divisor, np.shape(divisor) + (1,) * extra)
    return MixtureParams(alpha / alpha.sum(), post.mean.copy(), covariances, post.covariance_type)


def posterior_mode(post: VBPosterior) -> MixtureParams:
    r"""The mixture at the mode of q(weights, means, covariances).

    :math:`\pi_k = (\alpha'_k - 1)/(\sum_j \alpha'_j - K)` (needs every
    :math:`\alpha'_k \ge 1`), :math:`\mu_k = m_k`, and the joint mode of the
    Normal-inverse-Wishart :math:`\Sigma_k = \Psi_k/(\nu_k + d + 2)` (``tied``:
    :math:`\Psi_N/(\nu + N + d + 1 + K)`), of the normal-inverse-gamma
    :math:`\Psi'/(\nu' + 3)` (``diag``), :math:`\Psi'/(\nu' + d + 2)` (``spherical``),
    :math:`\Psi'/(\nu' + K + 2)` (``tied_diag``), :math:`\Psi'/(\nu' + K d + 2)`
    (``tied_spherical``): the divisors of the MAP M-step of :mod:`latentmix.em.mstep` with
    the VB hyperparameters in place of the prior's plus statistics. It is not the MAP: the
    responsibilities that made q are VB's, not EM's at the MAP.
    """
    alpha = post.weight_concentration
    K, d = post.n_components, post.n_features
    if np.any(alpha < 1):
        raise ValueError(
            "q(weights) has a concentration below 1, so its density is unbounded at the edge "
            "of the simplex and has no mode; use posterior_mean instead."
        )
    nu, scale = post.degrees_of_freedom, post.scale
    divisor = {
        "full": lambda: nu + d + 2,
        "tied": lambda: nu + d + 1 + K,
        "diag": lambda: nu + 3,
        "spherical": lambda: nu + d + 2,
        "tied_diag": lambda: nu + K + 2,
        "tied_spherical": lambda: nu + K * d + 2,
    }[post.covariance_type]()
    extra = scale.ndim - np.ndim(divisor)
    covariances = scale / np.reshape(divisor, np.shape(divisor) + (1,) * extra)
    weights = (alpha - 1) / (alpha.sum() - K)
    return MixtureParams(weights, post.mean.copy(), covariances, post.covariance_type)
