r"""VB with missing cells: the missing coordinates are latent, beside the labels.

A row with observed coordinates :math:`o` and missing ones :math:`m` (NaN) enters the
model through :math:`p(x_o)`; VB treats :math:`x_m` as latent and extends the family to

.. math::

    q(z, x_m, \theta) = \prod_i q(z_i)\, q(x_{i,m} \mid z_i)\; q(\theta) .

Given q(theta), the optimal :math:`q(x_m \mid z = k)` is proportional to
:math:`\exp E_\theta[\log \mathcal N(x \mid \mu_k, \Sigma_k)]`, a quadratic in x with
precision :math:`E[\Lambda_k] = S_k^{-1}`, :math:`S_k = \Psi'_k/\nu'_k`: the conditional of
:math:`\mathcal N(m_k, S_k)` given :math:`x_o`,

.. math::

    q(x_m \mid z = k) = \mathcal N\bigl(m_{k,m} + S_{mo} S_{oo}^{-1} (x_o - m_{k,o}),\;
        C_k = S_{mm} - S_{mo} S_{oo}^{-1} S_{om}\bigr),

and integrating it out leaves, for the labels,

.. math::

    \log\rho_{ik} = c_k - \tfrac12 (x_o - m_{k,o})^\top S_{oo}^{-1} (x_o - m_{k,o})
        + \tfrac{d_m}2 \log 2\pi + \tfrac12 \log|C_k|

with :math:`c_k` of :func:`latentmix.vb.updates.log_rho_constants`. q(theta) is then the
usual update from the *expected* statistics: a row gives component k the weight
:math:`r_{ik}`, the completed row :math:`\hat x_{ik} = (x_o, E[x_m \mid z = k])` and the second
moment :math:`\hat x \hat x^\top + C_k` (C in the missing block). The ELBO at the recorded pair
is, as for complete data, the entropy of q(z, x_m), i.e.
:math:`H(r) + \sum_{ik} r_{ik} [\tfrac{d_m}2 (1 + \log 2\pi) + \tfrac12\log|C_k|]`, plus
:func:`latentmix.vb.updates.log_marginal` of the expected statistics; it is a lower bound on
:math:`\log p(X_o)`. Each factor's update maximises it, so it never falls.

This is a different approximation from treating :math:`p(x_o \mid z, \theta)` exactly (which
is not conjugate): the missing coordinates are independent of theta under q. With no missing
cells it is the complete-data VB exactly. Rows are processed by missingness pattern
(:func:`latentmix.em.missing.missingness_patterns`, the package's one grouping).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.em.missing import missingness_patterns
from latentmix.em.mstep import SufficientStats
from latentmix.params import full_covariances

_LOG_2PI = np.log(2 * np.pi)


class IncompleteData(NamedTuple):
    """Data with NaN cells and their missingness patterns, computed once.

    Attributes
    ----------
    X : ndarray of shape (n, d)
    patterns : ndarray of bool, shape (P, d)
        True where observed.
    pattern_index : ndarray of int, shape (n,)
    """

    X: np.ndarray
    patterns: np.ndarray
    pattern_index: np.ndarray

    @property
    def shape(self):
        """The shape of ``X``."""
        return self.X.shape


def incomplete_data(X) -> IncompleteData:
    """:class:`IncompleteData` of an (n, d) array with NaN cells."""
    X = np.asarray(X, dtype=float)
    return IncompleteData(X, *missingness_patterns(X))


def filled(data: IncompleteData, center=None) -> np.ndarray:
    """The rows with every missing cell set to its column's observed mean (for starts)."""
    center = np.nanmean(data.X, axis=0) if center is None else center
    return np.where(np.isnan(data.X), center, data.X)


def e_step_stats(
    data: IncompleteData,
    means,
    covariances,
    kernel_type: str,
    const,
    center,
    sample_weight=None,
) -> tuple[SufficientStats, float, float]:
    r"""The E-step with missing cells and the expected statistics it gives.

    q(z) and q(x_m | z) at Gaussians :math:`\mathcal N(m_k, S_k)` plus constants.

    Parameters
    ----------
    data : IncompleteData
    means : ndarray of shape (K, d)
    covariances : ndarray
        :math:`S_k` in the shape of ``kernel_type`` (``full``, ``tied``, ``diag``,
        ``spherical``).
    kernel_type : str
    const : ndarray of shape (K,)
        :math:`c_k` (module docstring); for a starting mixture
        :math:`\log w_k - \tfrac d2 \log 2\pi - \tfrac12 \log|S_k|`, which makes
        :math:`\rho_{ik}` the weighted marginal density of the observed cells.
    center : ndarray of shape (d,)
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    stats : SufficientStats
        Expected statistics in ``kernel_type``, centred at ``center``.
    log_normaliser : float
        :math:`\sum_i w_i \log\sum_k \rho_{ik}`.
    entropy : float
        :math:`\sum_i w_i [H(r_i) + \sum_k r_{ik} H(q(x_{i,m} \mid k))]`.
    """
    X = data.X
    n, d = X.shape
    K = means.shape[0]
    S = full_covariances(covariances, kernel_type, K, d)
    mc = np.asarray(means, dtype=float) - center
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    nk = np.zeros(K)
    sum_x = np.zeros((K, d))
    sum_xx = np.zeros((K, d, d))
    log_norm = entropy = 0.0
    for p, observed in enumerate(data.patterns):
        rows = np.flatnonzero(data.pattern_index == p)
        o, m = np.flatnonzero(observed), np.flatnonzero(~observed)
        xo = X[np.ix_(rows, o)] - center[o]
        log_rho = np.empty((rows.size, K))
        completed = np.empty((rows.size, K, d))
        cond = np.zeros((K, d, d))
        h = np.zeros(K)
        for k in range(K):
            S_oo = S[k][np.ix_(o, o)]
            L = np.linalg.cholesky(S_oo)
            diff = xo - mc[k, o]
            z = np.linalg.solve(L, diff.T)
            completed[:, k, o] = xo
            log_det_c = 0.0
            if m.size:
                S_om = S[k][np.ix_(o, m)]
                B = np.linalg.solve(S_oo, S_om)  # (d_o, d_m): S_oo^{-1} S_om
                completed[:, k, m] = mc[k, m] + diff @ B
                C = S[k][np.ix_(m, m)] - S_om.T @ B
                C = 0.5 * (C + C.T)
                log_det_c = 2 * np.log(np.diag(np.linalg.cholesky(C))).sum()
                cond[k][np.ix_(m, m)] = C
                h[k] = 0.5 * m.size * (1 + _LOG_2PI) + 0.5 * log_det_c
            log_rho[:, k] = (
                const[k] - 0.5 * (z**2).sum(axis=0) + 0.5 * m.size * _LOG_2PI + 0.5 * log_det_c
            )
        top = log_rho.max(axis=1, keepdims=True)
        u = log_rho - top
        r = np.exp(u)
        total = r.sum(axis=1, keepdims=True)
        r /= total
        wp = w[rows]
        row_h = np.log(total[:, 0]) - (r * u).sum(axis=1) + r @ h
        entropy += float(row_h @ wp)
        log_norm += float((np.log(total[:, 0]) + top[:, 0]) @ wp)
        rw = r * wp[:, None]
        nk_p = rw.sum(axis=0)
        nk += nk_p
        sum_x += np.einsum("ik,ikj->kj", rw, completed)
        sum_xx += (
            np.einsum("ik,ika,ikb->kab", rw, completed, completed) + nk_p[:, None, None] * cond
        )
    sum_xx = 0.5 * (sum_xx + sum_xx.transpose(0, 2, 1))
    reduced = {
        "full": lambda: sum_xx,
        "tied": lambda: sum_xx.sum(axis=0),
        "diag": lambda: np.diagonal(sum_xx, axis1=1, axis2=2).copy(),
        "spherical": lambda: np.trace(sum_xx, axis1=1, axis2=2),
    }[kernel_type]()
    stats = SufficientStats(nk, sum_x, reduced, np.asarray(center, dtype=float), kernel_type)
    return stats, log_norm, entropy


def mixture_constants(weights, covariances, kernel_type: str, n_features: int) -> np.ndarray:
    r""":math:`\log w_k - \tfrac d2 \log 2\pi - \tfrac12\log|S_k|` of a starting mixture."""
    K = np.shape(weights)[0]
    S = full_covariances(covariances, kernel_type, K, n_features)
    log_det = np.linalg.slogdet(S)[1]
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, dtype=float))
    return log_w - 0.5 * n_features * _LOG_2PI - 0.5 * log_det
