r"""Scores, exact derivatives and the observed information of the EM objective in theta.

Called by :mod:`latentmix.em.intervals` (Wald and Laplace) and by
``EMGaussianMixture.observed_information``; theta is the unconstrained vector of
:mod:`latentmix.em.parameterisation`.

Exact Hessian
-------------
With :math:`u = x - \mu_k` and :math:`y = P^\top u`, each component's log-density is
:math:`a_k(x) = \log w_k + \sum_j \log P_{jj} - \tfrac12 \lVert y \rVert^2 + \text{const}`,
which is a *quadratic* function of the entries of :math:`P`. Its first and second derivatives
are therefore short closed forms. The mixture log-likelihood
:math:`\ell = \sum_i \log \sum_k e^{a_{ik}}` has Hessian

.. math::

    \nabla^2 \ell = \sum_i \Big[\sum_k r_{ik} \nabla^2 a_{ik}\Big]
        + \sum_i \Big[\sum_k r_{ik} \nabla a_{ik} \nabla a_{ik}^\top - g_i g_i^\top\Big],
    \qquad g_i = \sum_k r_{ik} \nabla a_{ik},

with :math:`r_{ik}` the responsibilities. This is Louis' (1982) identity, observed information
= complete-data information minus missing information, evaluated exactly: the first bracket is
minus the complete-data information, the second the conditional covariance of the
complete-data score. The conjugate log-prior has the same quadratic form in :math:`P`
(:math:`\operatorname{tr}(\Psi P P^\top) = \sum_m \lVert P^\top l_m \rVert^2` for
:math:`\Psi = \sum_m l_m l_m^\top`), so the log-posterior Hessian is exact too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.em.estep import e_step
from latentmix.em.parameterisation import (
    factor_blocks,
    factor_derivatives,
    layout,
    logdet_coefficients,
)
from latentmix.params import MixtureParams, check_params
from latentmix.priors import ConjugatePrior
from latentmix.validation import check_data

# --- derivatives of the quadratic form q(u) = |P^T u|^2 / 2 ---------------------------------


class _Quad(NamedTuple):
    grad_u: np.ndarray  # (n, d): dq/du = P P^T u
    grad_phi: np.ndarray  # (n, M)
    A: np.ndarray  # (n, M, d): J_m^T u
    y: np.ndarray  # (n, d): P^T u


def _quad(u, P, J) -> _Quad:
    y = u @ P
    A = np.einsum("mab,na->nmb", J, u)
    return _Quad(y @ P.T, np.einsum("nmb,nb->nm", A, y), A, y)


def _quad_hessians(q: _Quad, P, J, is_log, r):
    """Sum over rows of r_i times the Hessian of q: (uu, u-phi, phi-phi) blocks."""
    s = r.sum()
    h_uu = s * (P @ P.T)
    h_uphi = np.einsum("mcb,nb,n->cm", J, q.y, r) + np.einsum("cb,nmb,n->cm", P, q.A, r)
    h_pp = np.einsum("n,nmb,nlb->ml", r, q.A, q.A) + np.diag(is_log * (r @ q.grad_phi))
    return h_uu, h_uphi, h_pp


# --- the log-likelihood and log-prior derivatives --------------------------------------------


def _check_inputs(params, X):
    """``X`` as a checked (n, d) float array, after checking ``params`` (check_params)."""
    params = check_params(params)
    return check_data(X, n_features=params.n_features)


def score_contributions(X, params: MixtureParams):
    r"""Per-observation scores of the log-likelihood in theta.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams

    Returns
    -------
    scores : ndarray of shape (n, p)
        :math:`g_i = \nabla_\theta \log p(x_i)`.
    """
    return _loglik_derivatives(X, params)[0]


def _loglik_derivatives(X, params: MixtureParams):
    """Per-observation scores (n, p), the gradient (p,) and the exact Hessian (p, p)."""
    X = _check_inputs(params, X)
    lay = layout(params.n_components, params.n_features, params.covariance_type)
    K, p = lay.n_components, lay.size
    n = X.shape[0]
    w = np.asarray(params.weights, dtype=float)
    log_resp, _ = e_step(X, params)
    resp = np.exp(log_resp)
    blocks = factor_blocks(params)
    c = logdet_coefficients(lay)
    G = np.zeros((n, K, p))
    complete = np.zeros((p, p))  # sum_i sum_k r_ik Hess(a_ik)
    G[:, :, : K - 1] = np.eye(K)[:, : K - 1][None] - w[: K - 1]
    complete[: K - 1, : K - 1] = -n * (np.diag(w[: K - 1]) - np.outer(w[: K - 1], w[: K - 1]))
    for k in range(K):
        P = blocks[lay.block(k)]
        J = factor_derivatives(P, lay)
        mu, phi = lay.means_slice(k), lay.factor_slice(k)
        q = _quad(X - params.means[k], P, J)
        G[:, k, mu] = q.grad_u
        G[:, k, phi] = c - q.grad_phi
        h_uu, h_uphi, h_pp = _quad_hessians(q, P, J, lay.is_log, resp[:, k])
        # a = -q(x - mu): d/dmu = -d/du, so the mean-factor cross term flips sign twice.
        complete[mu, mu] -= h_uu
        complete[mu, phi] += h_uphi
        complete[phi, mu] += h_uphi.T
        complete[phi, phi] -= h_pp
    scores = np.einsum("nk,nkp->np", resp, G)
    missing = np.einsum("nk,nkp,nkq->pq", resp, G, G) - scores.T @ scores
    return scores, scores.sum(axis=0), complete + missing


def _logprior_derivatives(params: MixtureParams, prior: ConjugatePrior):
    """Gradient (p,) and exact Hessian (p, p) of the log prior in theta."""
    lay = layout(params.n_components, params.n_features, params.covariance_type)
    K, d, p = lay.n_components, lay.n_features, lay.size
    prior.check(d, K, lay.covariance_type)
    w = np.asarray(params.weights, dtype=float)
    grad, hess = np.zeros(p), np.zeros((p, p))
    # Dirichlet: sum_k (alpha_k - 1) log w_k
    excess = prior.concentration(K) - 1.0
    grad[: K - 1] = excess[: K - 1] - w[: K - 1] * excess.sum()
    hess[: K - 1, : K - 1] = -excess.sum() * (
        np.diag(w[: K - 1]) - np.outer(w[: K - 1], w[: K - 1])
    )
    c = logdet_coefficients(lay)
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    blocks = factor_blocks(params)
    # Covariance prior: c_cov . phi - sum_m q(l_m), with Psi = sum_m l_m l_m^T; one term per
    # block, so a shared covariance has its prior once.
    if lay.factor_kind == "full":
        c_cov = (nu + d + 1) * c
        pseudo = np.linalg.cholesky(prior.scale).T  # rows l_m
    elif lay.factor_kind == "diag":
        c_cov = (nu + 2) * c
        pseudo = np.diag(np.sqrt(prior.scale))
    else:
        c_cov = np.array([nu + 2.0])
        pseudo = np.sqrt(float(prior.scale)) * np.eye(d)[:1]
    for b, P in enumerate(blocks):
        J = factor_derivatives(P, lay)
        phi = lay.factor_slice(b)
        q = _quad(pseudo, P, J)
        _, _, h_pp = _quad_hessians(q, P, J, lay.is_log, np.ones(len(pseudo)))
        grad[phi] += c_cov - q.grad_phi.sum(axis=0)
        hess[phi, phi] -= h_pp
    # Means: c . phi - kappa q(mu_k - m0), for every component.
    for k in range(K):
        P = blocks[lay.block(k)]
        J = factor_derivatives(P, lay)
        mu, phi = lay.means_slice(k), lay.factor_slice(k)
        q = _quad((params.means[k] - prior.mean)[None], P, J)
        h_uu, h_uphi, h_pp = _quad_hessians(q, P, J, lay.is_log, np.ones(1))
        grad[mu] -= kappa * q.grad_u[0]
        grad[phi] += c - kappa * q.grad_phi[0]
        hess[mu, mu] -= kappa * h_uu
        hess[mu, phi] -= kappa * h_uphi
        hess[phi, mu] -= kappa * h_uphi.T
        hess[phi, phi] -= kappa * h_pp
    return grad, hess


def objective_derivatives(X, params: MixtureParams, prior: ConjugatePrior | None = None):
    """Gradient and exact Hessian in theta of the EM objective.

    The objective is the log-likelihood (``prior=None``) or the log-likelihood plus the log
    prior density over the covariances themselves (the function EM maximises, no Jacobian).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
    prior : ConjugatePrior or None

    Returns
    -------
    gradient : ndarray of shape (p,)
    hessian : ndarray of shape (p, p)
    """
    _, grad, hess = _loglik_derivatives(X, params)
    if prior is not None:
        g, h = _logprior_derivatives(params, prior)
        grad, hess = grad + g, hess + h
    return grad, hess


def observed_information(
    X, params: MixtureParams, prior: ConjugatePrior | None = None, information: str = "exact"
) -> np.ndarray:
    r"""Observed information in theta at ``params``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
    prior : ConjugatePrior or None
        With a prior, the curvature of the log-posterior (for the MAP).
    information : {"exact", "opg"}
        ``exact``: minus the exact Hessian (Louis' identity). ``opg``: the outer product of
        the per-observation scores, :math:`\sum_i g_i g_i^\top` (likelihood only; equal in
        expectation at the truth, cruder in small samples).

    Returns
    -------
    ndarray of shape (p, p)
    """
    if information == "exact":
        return -objective_derivatives(X, params, prior)[1]
    if information == "opg":
        if prior is not None:
            raise ValueError(
                "information='opg' is for the likelihood only; use information='exact'."
            )
        scores = score_contributions(X, params)
        return scores.T @ scores
    raise ValueError(f"information must be 'exact' or 'opg'; got {information!r}.")
