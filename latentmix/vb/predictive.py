r"""The variational predictive density: a mixture of Student-t components, and draws from q.

Under q the weights are independent of the components, so the predictive density of a new
row is

.. math::

    p(x \mid X) \approx \sum_k E_q[\pi_k]\, p_k(x), \qquad
    p_k(x) = \int \mathcal N(x \mid \mu_k, \Sigma_k)\, q(\mu_k, \Sigma_k)\, d\mu_k\, d\Sigma_k ,

and each :math:`p_k` is a Student t (Murphy 2007, "Conjugate Bayesian analysis of the
Gaussian distribution"):

* inverse Wishart (``full``, ``tied``): multivariate
  :math:`t_{\nu' - d + 1}\bigl(m_k, \tfrac{\kappa_k + 1}{\kappa_k (\nu' - d + 1)} \Psi'\bigr)`;
* one inverse-gamma variance per feature (``diag``, ``tied_diag``): a product over features
  of :math:`t_{\nu'}\bigl(m_{kj}, \tfrac{\kappa_k + 1}{\kappa_k \nu'} \Psi'_j\bigr)`;
* one inverse-gamma variance for all features (``spherical``, ``tied_spherical``): a
  multivariate :math:`t_{\nu'}\bigl(m_k, \tfrac{\kappa_k + 1}{\kappa_k \nu'} \Psi' I\bigr)`
  (the features share the variance, so they are not independent).

:math:`t_\eta(m, L)` has density
:math:`\frac{\Gamma((\eta + d)/2)}{\Gamma(\eta/2) (\eta\pi)^{d/2} |L|^{1/2}}
(1 + \delta^2/\eta)^{-(\eta + d)/2}` with :math:`\delta^2 = (x - m)^\top L^{-1} (x - m)`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from latentmix.em.estep import precision_cholesky
from latentmix.em.missing import missingness_patterns
from latentmix.params import full_covariances, variances
from latentmix.validation import check_random_state
from latentmix.vb.updates import WISHART_TYPES, VBPosterior


def _log_t(delta2, dof, log_det_scale, dim):
    return (
        gammaln(0.5 * (dof + dim))
        - gammaln(0.5 * dof)
        - 0.5 * dim * np.log(dof * np.pi)
        - 0.5 * log_det_scale
        - 0.5 * (dof + dim) * np.log1p(delta2 / dof)
    )


def t_parameters(post: VBPosterior):
    """Degrees of freedom (K,) and scale matrices (K, d, d) of each component's Student t."""
    K, d = post.n_components, post.n_features
    nu = np.broadcast_to(post.degrees_of_freedom, (K,)).astype(float)
    inflate = (post.mean_precision + 1) / post.mean_precision
    if post.covariance_type in WISHART_TYPES:
        dof = nu - d + 1
        scale = np.broadcast_to(post.scale, (K, d, d))
    else:
        dof = nu
        scale = variances(post.scale, post.covariance_type, K, d)[..., None] * np.eye(d)
    return dof, scale * (inflate / dof)[:, None, None]


def component_log_predictive(X, post: VBPosterior) -> np.ndarray:
    r""":math:`\log p_k(x_i)`, the Student-t log-density of each row under each component.

    A row with missing cells (NaN) gets the density of its observed cells: the marginal of
    a multivariate t is the t of the observed block with the same degrees of freedom, and
    for one variance per feature the product over the observed features.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    post : VBPosterior

    Returns
    -------
    ndarray of shape (n, K)
    """
    X = np.asarray(X, dtype=float)
    K, d = post.n_components, post.n_features
    dof, scale = t_parameters(post)
    per_feature = post.covariance_type in ("diag", "tied_diag")
    if np.isnan(X).any():
        patterns, index = missingness_patterns(X)
    else:
        patterns, index = np.ones((1, d), dtype=bool), np.zeros(X.shape[0], dtype=int)
    out = np.empty((X.shape[0], K))
    for p, observed in enumerate(patterns):
        rows = np.flatnonzero(index == p)
        o = np.flatnonzero(observed)
        Xo = X[np.ix_(rows, o)]
        for k in range(K):
            diff = Xo - post.mean[k, o]
            if per_feature:
                var = np.diagonal(scale[k])[o]
                out[rows, k] = _log_t(diff**2 / var, dof[k], np.log(var), 1).sum(axis=1)
            else:
                chol = np.linalg.cholesky(scale[k][np.ix_(o, o)])
                z = np.linalg.solve(chol, diff.T)
                log_det = 2 * np.log(np.diag(chol)).sum()
                out[rows, k] = _log_t((z**2).sum(axis=0), dof[k], log_det, o.size)
    return out


def log_predictive(X, post: VBPosterior):
    """Weighted component log-densities (n, K) and the predictive log-density (n,)."""
    alpha = post.weight_concentration
    weighted = component_log_predictive(X, post) + np.log(alpha / alpha.sum())
    top = weighted.max(axis=1)
    log_p = np.log(np.exp(weighted - top[:, None]).sum(axis=1)) + top
    return weighted, log_p


# --- draws from q ------------------------------------------------------------------------------


def _invwishart(nu, scale, size, rng):
    r"""Draws of :math:`\operatorname{IW}(\nu, \Psi)` by the Bartlett decomposition.

    :math:`\Sigma^{-1} = L A A^\top L^\top \sim W(\nu, \Psi^{-1})` with
    :math:`\Psi^{-1} = L L^\top`, A lower triangular with
    :math:`A_{jj}^2 \sim \chi^2_{\nu - j}` and standard normals below the diagonal.
    """
    d = scale.shape[0]
    A = np.tril(rng.standard_normal((size, d, d)), -1)
    A[:, np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(nu - np.arange(d), size=(size, d)))
    # Any factor L of Psi^{-1} = L L^T will do: L A A^T L^T ~ W(nu, L L^T). Then
    # Sigma = (L A)^{-T} (L A)^{-1}.
    L = precision_cholesky(scale, "tied")
    LA = np.einsum("ij,sjk->sik", L, A)
    inv = np.linalg.solve(LA, np.broadcast_to(np.eye(d), LA.shape))
    sigma = inv.transpose(0, 2, 1) @ inv
    return 0.5 * (sigma + sigma.transpose(0, 2, 1))


def sample_posterior_arrays(post: VBPosterior, n_draws: int, random_state=None):
    """Draws of the weights, means and covariances from q.

    Parameters
    ----------
    post : VBPosterior
    n_draws : int
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState

    Returns
    -------
    weights : ndarray of shape (S, K)
    means : ndarray of shape (S, K, d)
    covariances : ndarray of shape (S, *covariances shape)
        In the covariance type's shape (``tied_spherical``: (S,)).
    """
    rng = check_random_state(random_state)
    S = int(n_draws)
    K, d = post.n_components, post.n_features
    covariance_type = post.covariance_type
    weights = rng.dirichlet(post.weight_concentration, size=S)
    nu = post.degrees_of_freedom
    if covariance_type == "full":
        covariances = np.stack([_invwishart(nu[k], post.scale[k], S, rng) for k in range(K)], 1)
    elif covariance_type == "tied":
        covariances = _invwishart(float(nu), post.scale, S, rng)
    else:
        # IG(nu/2, Psi/2) = (Psi/2) / Gamma(nu/2, 1).
        shape = (S, *np.shape(post.scale))
        extra = np.ndim(post.scale) - np.ndim(nu)
        half_nu = np.reshape(0.5 * nu, np.shape(nu) + (1,) * extra)
        covariances = 0.5 * post.scale / rng.gamma(np.broadcast_to(half_nu, shape), 1.0)
    full = full_covariances(covariances, covariance_type, K, d)
    chol = np.linalg.cholesky(full / post.mean_precision[:, None, None])
    z = rng.standard_normal((S, K, d))
    means = post.mean + np.einsum("skij,skj->ski", chol, z)
    return weights, means, covariances
