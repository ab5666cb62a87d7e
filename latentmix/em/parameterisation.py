r"""The unconstrained parameterisation of a mixture and the natural-scale vector.

Used by :mod:`latentmix.em.information` (derivatives in theta) and
:mod:`latentmix.em.intervals` (Wald, Laplace and bootstrap intervals), and by the comparison
and coverage layers to lay the natural-scale parameters out as one vector.

The unconstrained parameterisation
----------------------------------
Curvature is taken in coordinates :math:`\theta` where every value is allowed:

* weights: log-ratios :math:`\beta_k = \log(w_k / w_K)`, k < K, so
  :math:`w = \operatorname{softmax}(\beta_1, \dots, \beta_{K-1}, 0)`;
* means: as they are;
* covariances: through the upper-triangular Cholesky factor :math:`P` of the *precision*,
  :math:`\Sigma^{-1} = P P^\top` (the factor the E-step already uses), its diagonal on the log
  scale and its off-diagonal entries as they are. ``diag`` keeps the log-diagonal only,
  ``spherical`` one :math:`\rho` with :math:`P = e^\rho I`, ``tied`` one factor for all;
  ``tied_diag`` is one log-diagonal factor for all, ``tied_spherical`` one :math:`\rho` for
  all (:attr:`Layout.factor_kind` is the factor's form, :attr:`Layout.n_blocks` how many).

The vector is ordered ``[beta (K-1), means (K*d), precision factors]``.

The natural-scale vector (:func:`natural_vector`) holds the weights, the means and the free
covariance entries; :func:`parameter_keys` gives each entry as ``(group, index)`` with a
0-based integer index (carry these, never parse the names), and :func:`parameter_names`
the same entries as text for display: ``weights[k]``, ``means[k,j]`` and
``covariances[k,i,j]`` (i <= j, full), ``covariances[i,j]`` (tied), ``covariances[k,j]``
(diag: the variances), ``covariances[k]`` (spherical), ``covariances[j]`` (tied_diag) and
``covariances`` (tied_spherical, the one variance).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg
from scipy.special import logsumexp

from latentmix.em.estep import precision_cholesky
from latentmix.params import PARAMETER_NAMES, SHARED_TYPES, MixtureParams, check_covariance_type

#: The form of one precision factor for each covariance type: a triangular factor, a
#: log-diagonal, or one log-scale for the whole diagonal.
FACTOR_KINDS = {
    "full": "full",
    "tied": "full",
    "diag": "diag",
    "spherical": "spherical",
    "tied_diag": "diag",
    "tied_spherical": "spherical",
}

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
    def shared(self) -> bool:
        """Whether one covariance serves every component (tied, tied_diag, tied_spherical)."""
        return self.covariance_type in SHARED_TYPES

    @property
    def factor_kind(self) -> str:
        """``full`` (triangular), ``diag`` (log-diagonal) or ``spherical`` (one log-scale)."""
        return FACTOR_KINDS[self.covariance_type]

    @property
    def n_blocks(self) -> int:
        """Number of precision factors: 1 for the shared types, K otherwise."""
        return 1 if self.shared else self.n_components

    def block(self, k: int) -> int:
        """The precision factor component k uses."""
        return 0 if self.shared else k

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
        block = self.block(k)
        start = self.n_components - 1 + self.n_components * self.n_features
        start += block * self.n_factor
        return slice(start, start + self.n_factor)


def layout(n_components: int, n_features: int, covariance_type: str) -> Layout:
    """The unconstrained layout for K components, d features and a covariance type."""
    kind = FACTOR_KINDS[check_covariance_type(covariance_type)]
    d = n_features
    if kind == "full":
        index = tuple((i, j) for i in range(d) for j in range(i, d))
    elif kind == "diag":
        index = tuple((j, j) for j in range(d))
    else:
        index = ((0, 0),)
    is_log = np.array([i == j for i, j in index])
    return Layout(n_components, d, covariance_type, len(index), index, is_log)


def factor_blocks(params: MixtureParams) -> np.ndarray:
    """Upper-triangular precision factors as a (n_blocks, d, d) stack."""
    covariance_type, d = params.covariance_type, params.n_features
    prec = precision_cholesky(params.covariances, covariance_type)
    if covariance_type == "full":
        return prec
    if covariance_type == "tied":
        return prec[None]
    if covariance_type == "diag":
        return prec[:, :, None] * np.eye(d)
    if covariance_type == "spherical":
        return prec[:, None, None] * np.eye(d)
    if covariance_type == "tied_diag":
        return (prec[:, None] * np.eye(d))[None]
    return (prec * np.eye(d))[None]


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
    for P in factor_blocks(params):
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
            if lay.factor_kind == "spherical":
                out[b] = v * np.eye(d)
            else:
                out[b, i, j] = v
    return out


def covariance_from_factor(P) -> np.ndarray:
    """Sigma = (P P^T)^{-1} = P^{-T} P^{-1}, by a solve with the triangular factor.

    numpy's solve, not scipy's triangular one: on these tiny matrices scipy's per-call cost
    (milliseconds on a busy machine) dominates every objective evaluation in theta.
    """
    inv = np.linalg.solve(P, np.eye(P.shape[0]))
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
    covs = np.stack([covariance_from_factor(P) for P in _factor_matrices(theta, lay)])
    if covariance_type == "full":
        covariances = covs
    elif covariance_type == "tied":
        covariances = covs[0]
    elif covariance_type == "diag":
        covariances = np.diagonal(covs, axis1=1, axis2=2).copy()
    elif covariance_type == "spherical":
        covariances = covs[:, 0, 0].copy()
    elif covariance_type == "tied_diag":
        covariances = np.diagonal(covs[0]).copy()
    else:
        covariances = np.asarray(covs[0, 0, 0])
    return MixtureParams(weights, means, covariances, covariance_type)


# --- natural-scale parameters ----------------------------------------------------------------


def _natural_cov_index(lay: Layout):
    """(block, i, j) of each reported covariance entry."""
    d = lay.n_features
    if lay.factor_kind == "full":
        pairs = [(i, j) for i in range(d) for j in range(i, d)]
    elif lay.factor_kind == "diag":
        pairs = [(j, j) for j in range(d)]
    else:
        pairs = [(0, 0)]
    return [(b, i, j) for b in range(lay.n_blocks) for i, j in pairs]


def parameter_keys(n_components: int, n_features: int, covariance_type: str) -> list[tuple]:
    """The entries of :func:`natural_vector` as ``(group, index)``, in its order.

    ``group`` is one of :data:`latentmix.params.PARAMETER_NAMES`; ``index`` is a tuple of
    0-based ints into that group's array: ``(k,)`` for a weight, ``(k, j)`` for a mean,
    ``(k, i, j)`` (full, i <= j), ``(i, j)`` (tied, i <= j), ``(k, j)`` (diag), ``(k,)``
    (spherical), ``(j,)`` (tied_diag) or ``()`` (tied_spherical) for a covariance entry.

    Returns
    -------
    list of (str, tuple of int)
    """
    lay = layout(n_components, n_features, covariance_type)
    K, d = n_components, n_features
    weights, means, covariances = PARAMETER_NAMES
    keys = [(weights, (k,)) for k in range(K)]
    keys += [(means, (k, j)) for k in range(K) for j in range(d)]
    for b, i, j in _natural_cov_index(lay):
        index = {
            "full": (b, i, j),
            "tied": (i, j),
            "diag": (b, j),
            "spherical": (b,),
            "tied_diag": (j,),
            "tied_spherical": (),
        }[covariance_type]
        keys.append((covariances, index))
    return keys


def parameter_names(n_components: int, n_features: int, covariance_type: str) -> list[str]:
    """Display names of the natural-scale parameters, e.g. ``means[1,0]`` (0-based).

    The text of :func:`parameter_keys`, for tables and messages; code carries the keys.
    An entry with an empty index (the one variance of ``tied_spherical``) is its group's
    name alone.
    """
    return [
        f"{group}[{','.join(map(str, index))}]" if index else group
        for group, index in parameter_keys(n_components, n_features, covariance_type)
    ]


def natural_vector(params: MixtureParams) -> np.ndarray:
    """Weights, means and the free covariance entries as one vector (see parameter_keys)."""
    lay = layout(params.n_components, params.n_features, params.covariance_type)
    cov = np.asarray(params.covariances, dtype=float)
    if lay.covariance_type == "full":
        entries = [cov[b, i, j] for b, i, j in _natural_cov_index(lay)]
    elif lay.covariance_type == "tied":
        entries = [cov[i, j] for _, i, j in _natural_cov_index(lay)]
    elif lay.covariance_type == "diag":
        entries = [cov[b, j] for b, _, j in _natural_cov_index(lay)]
    else:
        entries = list(np.ravel(cov))  # spherical (K,), tied_diag (d,), tied_spherical ()
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
        if lay.factor_kind == "spherical":
            P += v[..., None, None] * np.eye(d)
        else:
            P[..., i, j] = v
    # Sigma = P^{-T} P^{-1}: invert the triangular factor by a batched triangular solve.
    inv = linalg.solve_triangular(P, np.broadcast_to(np.eye(d), P.shape), lower=False)
    sigma = np.swapaxes(inv, -1, -2) @ inv
    entries = np.stack([sigma[:, b, i, j] for b, i, j in _natural_cov_index(lay)], axis=1)
    return np.concatenate([weights, means, entries], axis=1)


def factor_derivatives(P, lay: Layout) -> np.ndarray:
    """dP/dphi for each of the M free entries of one factor: shape (M, d, d)."""
    d = lay.n_features
    J = np.zeros((lay.n_factor, d, d))
    for m, (i, j) in enumerate(lay.factor_index):
        if lay.factor_kind == "spherical":
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
    blocks = factor_blocks(params)
    row = K + K * d
    entries = _natural_cov_index(lay)
    for b, P in enumerate(blocks):
        sigma = covariance_from_factor(P)
        J = factor_derivatives(P, lay)
        # d Sigma = -Sigma (dP P^T + P dP^T) Sigma
        dsigma = -np.einsum("ab,mbc,cd->mad", sigma, J @ P.T + P @ J.transpose(0, 2, 1), sigma)
        cols = lay.factor_slice(b)  # b is the block: for shared types only 0
        for r, (bb, i, j) in enumerate(entries):
            if bb == b:
                out[row + r, cols] = dsigma[:, i, j]
    return out


def logdet_coefficients(lay: Layout) -> np.ndarray:
    """Coefficients c with sum_j log P_jj = c . phi."""
    if lay.factor_kind == "spherical":
        return np.array([float(lay.n_features)])
    return lay.is_log.astype(float)
