r"""Uncertainty of the EM estimates: observed information, Wald, bootstrap and Laplace.

The unconstrained parameterisation
----------------------------------
Curvature is taken in coordinates :math:`\theta` where every value is allowed:

* weights: log-ratios :math:`\beta_k = \log(w_k / w_K)`, k < K, so
  :math:`w = \operatorname{softmax}(\beta_1, \dots, \beta_{K-1}, 0)`;
* means: as they are;
* covariances: through the upper-triangular Cholesky factor :math:`P` of the *precision*,
  :math:`\Sigma^{-1} = P P^\top` (the factor the E-step already uses), its diagonal on the log
  scale and its off-diagonal entries as they are. ``diag`` keeps the log-diagonal only,
  ``spherical`` one :math:`\rho` with :math:`P = e^\rho I`, ``tied`` one factor for all.

The vector is ordered ``[beta (K-1), means (K*d), precision factors]``.

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

Natural-scale intervals
-----------------------
``standard_errors`` maps :math:`\operatorname{Cov}(\hat\theta) = I(\hat\theta)^{-1}` to the
weights, means and covariance entries by the delta method (analytic Jacobian) and gives Wald
intervals there. ``laplace`` treats :math:`\mathcal N(\hat\theta_{MAP}, I^{-1})` as an
approximate posterior in :math:`\theta` and pushes draws through to the natural scale, so its
intervals respect positivity. ``bootstrap`` refits on resampled or simulated data, matches the
components of every refit to the estimate with :func:`scipy.optimize.linear_sum_assignment`, and
reports percentile intervals.

Natural parameter names are ``weights[k]``, ``means[k,j]`` and ``covariances[k,i,j]`` (i <= j,
full), ``covariances[i,j]`` (tied), ``covariances[k,j]`` (diag: the variances),
``covariances[k]`` (spherical).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import linalg, stats
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from latentmix.em.estep import e_step, log_likelihood, precision_cholesky
from latentmix.params import MixtureParams, check_covariance_type, sample_mixture
from latentmix.priors import ConjugatePrior, log_prior
from latentmix.validation import check_data, check_random_state

# --- layout of the unconstrained vector ------------------------------------------------------


class Layout(NamedTuple):
    """Where each block sits in the unconstrained vector theta.

    Attributes
    ----------
    n_components, n_features : int
    covariance_type : str
    n_factor : int
        M, the number of free precision-factor entries per block.
    factor_index : tuple of (int, int)
        The (row, column) of P set by each of the M entries (spherical: (0, 0), meaning the
        whole diagonal).
    is_log : ndarray of shape (M,)
        Whether the entry is a log-diagonal.
    """

    n_components: int
    n_features: int
    covariance_type: str
    n_factor: int
    factor_index: tuple
    is_log: np.ndarray

    @property
    def n_blocks(self) -> int:
        """Number of precision factors: 1 for tied, K otherwise."""
        return 1 if self.covariance_type == "tied" else self.n_components

    @property
    def size(self) -> int:
        """Length of theta."""
        K, d = self.n_components, self.n_features
        return K - 1 + K * d + self.n_blocks * self.n_factor

    def means_slice(self, k: int) -> slice:
        """Slice of component k's mean in theta."""
        start = self.n_components - 1 + k * self.n_features
        return slice(start, start + self.n_features)

    def factor_slice(self, k: int) -> slice:
        """Slice of the precision factor used by component k."""
        block = 0 if self.covariance_type == "tied" else k
        start = self.n_components - 1 + self.n_components * self.n_features
        start += block * self.n_factor
        return slice(start, start + self.n_factor)


def layout(n_components: int, n_features: int, covariance_type: str) -> Layout:
    """The unconstrained layout for K components, d features and a covariance type."""
    check_covariance_type(covariance_type)
    d = n_features
    if covariance_type in ("full", "tied"):
        index = tuple((i, j) for i in range(d) for j in range(i, d))
    elif covariance_type == "diag":
        index = tuple((j, j) for j in range(d))
    else:
        index = ((0, 0),)
    is_log = np.array([i == j for i, j in index])
    return Layout(n_components, d, covariance_type, len(index), index, is_log)


def _factor_blocks(params: MixtureParams) -> np.ndarray:
    """Upper-triangular precision factors as a (n_blocks, d, d) stack."""
    kind, d = params.covariance_type, params.n_features
    prec = precision_cholesky(params.covariances, kind)
    if kind == "full":
        return prec
    if kind == "tied":
        return prec[None]
    if kind == "diag":
        return prec[:, :, None] * np.eye(d)
    return prec[:, None, None] * np.eye(d)


def to_unconstrained(params: MixtureParams) -> np.ndarray:
    """Map mixture parameters to theta.

    Parameters
    ----------
    params : MixtureParams

    Returns
    -------
    ndarray of shape (Layout.size,)
    """
    lay = layout(params.n_components, params.n_features, params.covariance_type)
    weights = np.asarray(params.weights, dtype=float)
    if np.any(weights <= 0):
        raise ValueError("every weight must be positive to take log-ratios; got a zero weight.")
    beta = np.log(weights[:-1]) - np.log(weights[-1])
    factors = []
    for P in _factor_blocks(params):
        for m, (i, j) in enumerate(lay.factor_index):
            factors.append(np.log(P[i, j]) if lay.is_log[m] else P[i, j])
    return np.concatenate([beta, np.asarray(params.means, dtype=float).ravel(), factors])


def _factor_matrices(theta, lay: Layout) -> np.ndarray:
    """The precision factors P (n_blocks, d, d) encoded in theta."""
    d = lay.n_features
    start = lay.factor_slice(0).start
    out = np.zeros((lay.n_blocks, d, d))
    for b in range(lay.n_blocks):
        values = theta[start + b * lay.n_factor : start + (b + 1) * lay.n_factor]
        for m, (i, j) in enumerate(lay.factor_index):
            v = np.exp(values[m]) if lay.is_log[m] else values[m]
            if lay.covariance_type == "spherical":
                out[b] = v * np.eye(d)
            else:
                out[b, i, j] = v
    return out


def _covariance_from_factor(P) -> np.ndarray:
    """Sigma = (P P^T)^{-1} = P^{-T} P^{-1}, by a triangular solve."""
    inv = linalg.solve_triangular(P, np.eye(P.shape[0]), lower=False)
    return inv.T @ inv


def from_unconstrained(
    theta, n_components: int, n_features: int, covariance_type: str
) -> MixtureParams:
    """Map theta back to mixture parameters (inverse of :func:`to_unconstrained`).

    Parameters
    ----------
    theta : ndarray of shape (Layout.size,)
    n_components, n_features : int
    covariance_type : str

    Returns
    -------
    MixtureParams
    """
    lay = layout(n_components, n_features, covariance_type)
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (lay.size,):
        raise ValueError(f"theta must have shape ({lay.size},) here; got {theta.shape}.")
    K, d = n_components, n_features
    beta = np.append(theta[: K - 1], 0.0)
    weights = np.exp(beta - logsumexp(beta))
    means = theta[K - 1 : K - 1 + K * d].reshape(K, d)
    covs = np.stack([_covariance_from_factor(P) for P in _factor_matrices(theta, lay)])
    if covariance_type == "full":
        covariances = covs
    elif covariance_type == "tied":
        covariances = covs[0]
    elif covariance_type == "diag":
        covariances = np.diagonal(covs, axis1=1, axis2=2).copy()
    else:
        covariances = covs[:, 0, 0].copy()
    return MixtureParams(weights, means, covariances, covariance_type)


# --- natural-scale parameters ----------------------------------------------------------------


def _natural_cov_index(lay: Layout):
    """(block, i, j) of each reported covariance entry."""
    d = lay.n_features
    if lay.covariance_type in ("full", "tied"):
        pairs = [(i, j) for i in range(d) for j in range(i, d)]
    elif lay.covariance_type == "diag":
        pairs = [(j, j) for j in range(d)]
    else:
        pairs = [(0, 0)]
    return [(b, i, j) for b in range(lay.n_blocks) for i, j in pairs]


def parameter_names(n_components: int, n_features: int, covariance_type: str) -> list[str]:
    """Names of the natural-scale parameters, in the order of :func:`natural_vector`."""
    lay = layout(n_components, n_features, covariance_type)
    K, d = n_components, n_features
    names = [f"weights[{k}]" for k in range(K)]
    names += [f"means[{k},{j}]" for k in range(K) for j in range(d)]
    for b, i, j in _natural_cov_index(lay):
        names.append(
            {
                "full": f"covariances[{b},{i},{j}]",
                "tied": f"covariances[{i},{j}]",
                "diag": f"covariances[{b},{j}]",
                "spherical": f"covariances[{b}]",
            }[covariance_type]
        )
    return names


def natural_vector(params: MixtureParams) -> np.ndarray:
    """Weights, means and the free covariance entries as one vector (see parameter_names)."""
    lay = layout(params.n_components, params.n_features, params.covariance_type)
    cov = np.asarray(params.covariances, dtype=float)
    if lay.covariance_type == "full":
        entries = [cov[b, i, j] for b, i, j in _natural_cov_index(lay)]
    elif lay.covariance_type == "tied":
        entries = [cov[i, j] for _, i, j in _natural_cov_index(lay)]
    elif lay.covariance_type == "diag":
        entries = [cov[b, j] for b, _, j in _natural_cov_index(lay)]
    else:
        entries = list(cov)
    return np.concatenate([params.weights, np.ravel(params.means), entries])


def natural_draws(thetas, n_components: int, n_features: int, covariance_type: str):
    """:func:`natural_vector` of :func:`from_unconstrained` for many theta at once.

    Parameters
    ----------
    thetas : ndarray of shape (S, p)
    n_components, n_features : int
    covariance_type : str

    Returns
    -------
    ndarray of shape (S, P)
    """
    lay = layout(n_components, n_features, covariance_type)
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    S, K, d = thetas.shape[0], n_components, n_features
    beta = np.concatenate([thetas[:, : K - 1], np.zeros((S, 1))], axis=1)
    weights = np.exp(beta - logsumexp(beta, axis=1, keepdims=True))
    means = thetas[:, K - 1 : K - 1 + K * d]
    start = lay.factor_slice(0).start
    phi = thetas[:, start:].reshape(S, lay.n_blocks, lay.n_factor)
    P = np.zeros((S, lay.n_blocks, d, d))
    for m, (i, j) in enumerate(lay.factor_index):
        v = np.exp(phi[..., m]) if lay.is_log[m] else phi[..., m]
        if covariance_type == "spherical":
            P += v[..., None, None] * np.eye(d)
        else:
            P[..., i, j] = v
    # Sigma = P^{-T} P^{-1}: invert the triangular factor by a batched triangular solve.
    inv = linalg.solve_triangular(P, np.broadcast_to(np.eye(d), P.shape), lower=False)
    sigma = np.swapaxes(inv, -1, -2) @ inv
    entries = np.stack([sigma[:, b, i, j] for b, i, j in _natural_cov_index(lay)], axis=1)
    return np.concatenate([weights, means, entries], axis=1)


def _factor_derivatives(P, lay: Layout) -> np.ndarray:
    """dP/dphi for each of the M free entries of one factor: shape (M, d, d)."""
    d = lay.n_features
    J = np.zeros((lay.n_factor, d, d))
    for m, (i, j) in enumerate(lay.factor_index):
        if lay.covariance_type == "spherical":
            J[m] = P  # P = e^rho I, so dP/drho = P
        else:
            J[m, i, j] = P[i, j] if lay.is_log[m] else 1.0
    return J


def natural_jacobian(params: MixtureParams) -> np.ndarray:
    """Jacobian of :func:`natural_vector` with respect to theta.

    Returns
    -------
    ndarray of shape (n_natural, Layout.size)
    """
    lay = layout(params.n_components, params.n_features, params.covariance_type)
    K, d = lay.n_components, lay.n_features
    w = np.asarray(params.weights, dtype=float)
    names = natural_vector(params)
    out = np.zeros((names.size, lay.size))
    # dw_k / dbeta_j = w_k (delta_kj - w_j)
    out[:K, : K - 1] = np.diag(w)[:, : K - 1] - np.outer(w, w[: K - 1])
    out[K : K + K * d, K - 1 : K - 1 + K * d] = np.eye(K * d)
    blocks = _factor_blocks(params)
    row = K + K * d
    entries = _natural_cov_index(lay)
    for b, P in enumerate(blocks):
        sigma = _covariance_from_factor(P)
        J = _factor_derivatives(P, lay)
        # d Sigma = -Sigma (dP P^T + P dP^T) Sigma
        dsigma = -np.einsum("ab,mbc,cd->mad", sigma, J @ P.T + P @ J.transpose(0, 2, 1), sigma)
        cols = lay.factor_slice(b if lay.covariance_type != "tied" else 0)
        for r, (bb, i, j) in enumerate(entries):
            if bb == b:
                out[row + r, cols] = dsigma[:, i, j]
    return out


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


def _logdet_coefficients(lay: Layout) -> np.ndarray:
    """Coefficients c with sum_j log P_jj = c . phi."""
    if lay.covariance_type == "spherical":
        return np.array([float(lay.n_features)])
    return lay.is_log.astype(float)


# --- the log-likelihood and log-prior derivatives --------------------------------------------


def _check_params(params, X):
    if not isinstance(params, MixtureParams):
        raise ValueError(
            f"expected MixtureParams or a fitted EMGaussianMixture; got {type(params).__name__}."
        )
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
    X = _check_params(params, X)
    lay = layout(params.n_components, params.n_features, params.covariance_type)
    K, p = lay.n_components, lay.size
    n = X.shape[0]
    w = np.asarray(params.weights, dtype=float)
    log_resp, _ = e_step(X, params)
    resp = np.exp(log_resp)
    blocks = _factor_blocks(params)
    c = _logdet_coefficients(lay)
    G = np.zeros((n, K, p))
    complete = np.zeros((p, p))  # sum_i sum_k r_ik Hess(a_ik)
    G[:, :, : K - 1] = np.eye(K)[:, : K - 1][None] - w[: K - 1]
    complete[: K - 1, : K - 1] = -n * (np.diag(w[: K - 1]) - np.outer(w[: K - 1], w[: K - 1]))
    for k in range(K):
        P = blocks[0 if lay.covariance_type == "tied" else k]
        J = _factor_derivatives(P, lay)
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
    c = _logdet_coefficients(lay)
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    blocks = _factor_blocks(params)
    # Covariance prior: c_cov . phi - sum_m q(l_m), with Psi = sum_m l_m l_m^T.
    if lay.covariance_type in ("full", "tied"):
        c_cov = (nu + d + 1) * c
        pseudo = np.linalg.cholesky(prior.scale).T  # rows l_m
    elif lay.covariance_type == "diag":
        c_cov = (nu + 2) * c
        pseudo = np.diag(np.sqrt(prior.scale))
    else:
        c_cov = np.array([nu + 2.0])
        pseudo = np.sqrt(float(prior.scale)) * np.eye(d)[:1]
    for b, P in enumerate(blocks):
        J = _factor_derivatives(P, lay)
        phi = lay.factor_slice(b)
        q = _quad(pseudo, P, J)
        _, _, h_pp = _quad_hessians(q, P, J, lay.is_log, np.ones(len(pseudo)))
        grad[phi] += c_cov - q.grad_phi.sum(axis=0)
        hess[phi, phi] -= h_pp
    # Means: c . phi - kappa q(mu_k - m0), for every component.
    for k in range(K):
        P = blocks[0 if lay.covariance_type == "tied" else k]
        J = _factor_derivatives(P, lay)
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


def objective_theta(theta, X, n_components, n_features, covariance_type, prior=None) -> float:
    """The EM objective as a function of theta (what the Hessian differentiates)."""
    params = from_unconstrained(theta, n_components, n_features, covariance_type)
    value = log_likelihood(check_data(X), params)
    if prior is not None:
        value += log_prior(params, prior)
    return value


def observed_information(
    X, params: MixtureParams, prior: ConjugatePrior | None = None, method: str = "exact"
) -> np.ndarray:
    r"""Observed information in theta at ``params``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
    prior : ConjugatePrior or None
        With a prior, the curvature of the log-posterior (for the MAP).
    method : {"exact", "opg"}
        ``exact``: minus the exact Hessian (Louis' identity). ``opg``: the outer product of
        the per-observation scores, :math:`\sum_i g_i g_i^\top` (likelihood only; equal in
        expectation at the truth, cruder in small samples).

    Returns
    -------
    ndarray of shape (p, p)
    """
    if method == "exact":
        return -objective_derivatives(X, params, prior)[1]
    if method == "opg":
        if prior is not None:
            raise ValueError("method='opg' is for the likelihood only; use method='exact'.")
        scores = score_contributions(X, params)
        return scores.T @ scores
    raise ValueError(f"method must be 'exact' or 'opg'; got {method!r}.")


# --- results ---------------------------------------------------------------------------------


class Intervals(NamedTuple):
    """Point estimates and intervals for the natural-scale parameters.

    Attributes
    ----------
    names : list of str
        See :func:`parameter_names`.
    estimate : ndarray of shape (P,)
    standard_error : ndarray of shape (P,)
    lower, upper : ndarray of shape (P,)
    level : float
    method : str
        ``wald``, ``laplace``, ``bootstrap-nonparametric`` or ``bootstrap-parametric``.
    draws : ndarray of shape (B, P) or None
        Bootstrap replicates or Laplace draws, natural scale, components matched to the
        estimate.
    n_failed : int
        Bootstrap refits that failed (degenerate) and were left out of the intervals.
    covariance : ndarray of shape (p, p) or None
        Covariance in theta (Wald and Laplace).
    """

    names: list
    estimate: np.ndarray
    standard_error: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    method: str
    draws: np.ndarray | None = None
    n_failed: int = 0
    covariance: np.ndarray | None = None

    def as_dict(self) -> dict:
        """Parameter name -> {estimate, standard_error, lower, upper}."""
        return {
            name: {
                "estimate": float(e),
                "standard_error": float(s),
                "lower": float(lo),
                "upper": float(hi),
            }
            for name, e, s, lo, hi in zip(
                self.names,
                self.estimate,
                self.standard_error,
                self.lower,
                self.upper,
                strict=True,
            )
        }


def _resolve(estimator_or_params, prior, use_prior: bool):
    """(params, prior) from an estimator or MixtureParams."""
    if isinstance(estimator_or_params, MixtureParams):
        return estimator_or_params, prior
    params = getattr(estimator_or_params, "params_", None)
    if params is None:
        raise ValueError(
            "pass MixtureParams or a fitted EMGaussianMixture; this estimator has no params_ "
            "(call fit first)."
        )
    if prior is None and use_prior:
        prior = getattr(estimator_or_params, "prior_", None)
    return params, prior


def _theta_covariance(information) -> np.ndarray:
    """Inverse of the information through its Cholesky factor."""
    try:
        chol = linalg.cho_factor(information, lower=True)
    except linalg.LinAlgError:
        eig = np.linalg.eigvalsh(information).min()
        raise ValueError(
            "the observed information is not positive definite (smallest eigenvalue "
            f"{eig:.3g}): the estimate is not a strict local maximum, or a parameter is not "
            "identified (an empty component, or too many components). Check converged_, "
            "use fewer components, or use bootstrap intervals."
        ) from None
    return linalg.cho_solve(chol, np.eye(information.shape[0]))


def standard_errors(
    estimator_or_params,
    X,
    *,
    prior: ConjugatePrior | None = None,
    level: float = 0.95,
    method: str = "exact",
) -> Intervals:
    r"""Standard errors and Wald intervals on the natural scale, by the delta method.

    Parameters
    ----------
    estimator_or_params : fitted EMGaussianMixture or MixtureParams
        For an estimator its ``params_`` and ``prior_`` are used (MAP curvature under a prior).
    X : array-like of shape (n, d)
        The data the estimate was fitted on.
    prior : ConjugatePrior, optional
        With MixtureParams: the prior of a MAP estimate (None for the MLE).
    level : float
        Interval coverage, default 0.95.
    method : {"exact", "opg"}
        Information estimate, see :func:`observed_information`.

    Returns
    -------
    Intervals
        ``estimate +- z * standard_error`` with ``standard_error`` the square root of the
        diagonal of :math:`J I^{-1} J^\top`.
    """
    params, prior = _resolve(estimator_or_params, prior, use_prior=True)
    X = _check_params(params, X)
    cov_theta = _theta_covariance(observed_information(X, params, prior, method))
    jac = natural_jacobian(params)
    var = np.einsum("ip,pq,iq->i", jac, cov_theta, jac)
    se = np.sqrt(np.maximum(var, 0.0))
    est = natural_vector(params)
    z = stats.norm.ppf(0.5 + level / 2)
    names = parameter_names(params.n_components, params.n_features, params.covariance_type)
    return Intervals(names, est, se, est - z * se, est + z * se, level, "wald", None, 0, cov_theta)


def laplace(
    estimator_or_params,
    X,
    *,
    prior: ConjugatePrior | None = None,
    level: float = 0.95,
    n_draws: int = 4000,
    random_state=None,
) -> Intervals:
    """Laplace approximation to the posterior around the MAP.

    A normal distribution in theta, centred at the MAP with covariance the inverse of the
    exact log-posterior Hessian there, pushed to the natural scale by drawing from it. (The
    MAP maximises the density over the covariances, so the change-of-variables term of the
    theta density is left out: it is O(1) against the O(n) curvature.)

    Parameters
    ----------
    estimator_or_params : fitted EMGaussianMixture (with a prior) or MixtureParams
    X : array-like of shape (n, d)
    prior : ConjugatePrior, optional
        Required with MixtureParams; taken from ``prior_`` with an estimator.
    level : float
    n_draws : int
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    Intervals
        Posterior-mean-free summary: ``estimate`` is the MAP, ``standard_error`` the draws'
        standard deviation, ``lower``/``upper`` equal-tailed quantiles of the draws.
    """
    params, prior = _resolve(estimator_or_params, prior, use_prior=True)
    if prior is None:
        raise ValueError(
            "the Laplace approximation needs a prior (it approximates a posterior); fit with "
            "prior='default' or pass prior=ConjugatePrior(...). For the MLE use "
            "standard_errors."
        )
    X = _check_params(params, X)
    rng = check_random_state(random_state)
    cov_theta = _theta_covariance(observed_information(X, params, prior))
    theta = to_unconstrained(params)
    chol = np.linalg.cholesky(cov_theta)
    z = rng.standard_normal((n_draws, theta.size))
    K, d, kind = params.n_components, params.n_features, params.covariance_type
    draws = natural_draws(theta + z @ chol.T, K, d, kind)
    tail = (1 - level) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
    names = parameter_names(K, d, kind)
    est = natural_vector(params)
    return Intervals(
        names, est, draws.std(axis=0, ddof=1), lower, upper, level, "laplace", draws, 0, cov_theta
    )


# --- matching components and the bootstrap ---------------------------------------------------


def match_components(params: MixtureParams, reference: MixtureParams) -> np.ndarray:
    """The order that best aligns the components of ``params`` with ``reference``.

    Solves the assignment problem on a scale-free cost: the squared Mahalanobis distance
    between means under the reference component's covariance, plus the squared difference
    of log-weights.

    Parameters
    ----------
    params, reference : MixtureParams
        Same K and d.

    Returns
    -------
    ndarray of shape (K,)
        ``params.permute(order)`` lines up with ``reference``.
    """
    if params.means.shape != reference.means.shape:
        raise ValueError(
            f"cannot match {params.means.shape} means to a reference of shape "
            f"{reference.means.shape}."
        )
    K = reference.n_components
    cost = np.empty((K, K))
    for j, (mu, cov) in enumerate(zip(reference.means, reference.full_covariances(), strict=True)):
        chol = np.linalg.cholesky(cov)
        z = linalg.solve_triangular(chol, (params.means - mu).T, lower=True)
        with np.errstate(divide="ignore"):
            dw = np.log(params.weights) - np.log(reference.weights[j])
        cost[j] = (z**2).sum(axis=0) + dw**2
    rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=1e300, posinf=1e300))
    return cols[np.argsort(rows)]


def relabel_to(params: MixtureParams, reference: MixtureParams) -> MixtureParams:
    """``params`` with its components permuted to line up with ``reference``."""
    return params.permute(match_components(params, reference))


def _default_refit(params: MixtureParams, prior):
    """Refit with EMGaussianMixture from the estimate (warm start, one run)."""
    from latentmix.estimator import EMGaussianMixture

    def refit(X):
        est = EMGaussianMixture(
            params.n_components,
            covariance_type=params.covariance_type,
            prior=prior,
            n_init=1,
            init=params,
            tol=1e-8,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a slow replicate still counts; EM is monotone
            est.fit(X)
        return est.params_

    return refit


def bootstrap(
    estimator_or_params,
    X,
    *,
    kind: str = "nonparametric",
    n_boot: int = 200,
    prior: ConjugatePrior | None = None,
    level: float = 0.95,
    random_state=None,
    refit=None,
) -> Intervals:
    """Bootstrap intervals, replicates relabelled to the estimate (as mclust's MclustBootstrap).

    Parameters
    ----------
    estimator_or_params : fitted EMGaussianMixture or MixtureParams
    X : array-like of shape (n, d)
    kind : {"nonparametric", "parametric"}
        Resample the rows of X, or simulate n rows from the fitted mixture.
    n_boot : int
        Number of replicates.
    prior : ConjugatePrior, optional
        With MixtureParams: refit as MAP under this prior (default: MLE, or the estimator's
        ``prior_``).
    level : float
    random_state : None, int or numpy.random.Generator
    refit : callable, optional
        ``refit(X) -> MixtureParams``; by default EMGaussianMixture started at the estimate.

    Returns
    -------
    Intervals
        Percentile intervals; ``standard_error`` is the replicates' standard deviation.
        Failed refits (degenerate or non-finite) are counted in ``n_failed``.
    """
    if kind not in ("nonparametric", "parametric"):
        raise ValueError(f"kind must be 'nonparametric' or 'parametric'; got {kind!r}.")
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2; got {n_boot}.")
    params, prior = _resolve(estimator_or_params, prior, use_prior=True)
    X = _check_params(params, X)
    rng = check_random_state(random_state)
    refit = refit or _default_refit(params, prior)
    n = X.shape[0]
    draws, failed = [], 0
    for _ in range(n_boot):
        if kind == "nonparametric":
            Xb = X[rng.integers(0, n, n)]
        else:
            Xb = sample_mixture(params, n, rng)[0]
        try:
            fitted = relabel_to(refit(Xb), params)
            vec = natural_vector(fitted)
        except (ValueError, np.linalg.LinAlgError):
            failed += 1
            continue
        if not np.all(np.isfinite(vec)):
            failed += 1
            continue
        draws.append(vec)
    if len(draws) < 2:
        raise ValueError(
            f"{failed} of {n_boot} bootstrap refits failed; the fit is degenerate on resampled "
            "data. Use a prior (prior='default') or fewer components."
        )
    draws = np.array(draws)
    tail = (1 - level) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
    names = parameter_names(params.n_components, params.n_features, params.covariance_type)
    return Intervals(
        names,
        natural_vector(params),
        draws.std(axis=0, ddof=1),
        lower,
        upper,
        level,
        f"bootstrap-{kind}",
        draws,
        failed,
    )
