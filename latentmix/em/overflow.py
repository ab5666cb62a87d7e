r"""The E-step for rows so far from every component that their squared distances overflow.

For a row :math:`x` with entries of order 1e160, the Mahalanobis distances
:math:`m_k = (x - \mu_k)^\top \Sigma_k^{-1} (x - \mu_k)` exceed the largest float64, and the
row-by-row E-step (:func:`latentmix.em.estep.e_step`) gives NaN (``inf - inf``); somewhat
nearer (entries of order 1e153) it gives finite numbers whose responsibilities no longer sum
to one, the differences between the components lost to round-off in numbers of order 1e306.
The answer is still well defined. With :math:`s = \max_j |x_j|`, :math:`u = x / s`, and for
each component :math:`A_k = u^\top \Sigma_k^{-1} u`, :math:`B_k = u^\top \Sigma_k^{-1} \mu_k`,
:math:`C_k = \mu_k^\top \Sigma_k^{-1} \mu_k` (all of ordinary size),

.. math::

    m_k = s\,(s A_k - 2 B_k) + C_k,

and the responsibilities need only the differences :math:`m_k - m_r` to a reference
component :math:`r` (the smallest :math:`A`, then the largest :math:`B`), formed as
:math:`s\,(s\,(A_k - A_r) - 2 (B_k - B_r)) + (C_k - C_r)`, without the cancellation of the
huge common part. Where a product overflows it is ``inf`` with the right sign, never NaN:
the log-likelihood is then ``-inf`` (below the float64 range, which is what it is) and the
responsibilities those of the limit (the component nearest in its own metric; for shared
covariances, the one furthest out in the row's direction), 0 and 1 exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from latentmix.params import MixtureParams

_LOG_2PI = np.log(2 * np.pi)


def far_e_step(X, params: MixtureParams):
    """Log responsibilities and row log-likelihoods that survive overflowing distances.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Finite rows (any magnitude).
    params : MixtureParams

    Returns
    -------
    log_resp : ndarray of shape (n, K)
        Rows sum (in probability) to one; ``-inf`` where a responsibility is 0 in float64.
    sample_log_lik : ndarray of shape (n,)
        ``-inf`` where the log-density is below the float64 range.
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    K = params.n_components
    s = np.max(np.abs(X), axis=1)
    s = np.where(s > 0, s, 1.0)[:, None]
    chol = np.linalg.cholesky(params.full_covariances())  # (K, d, d)
    w = np.linalg.solve(np.broadcast_to(chol, (n, K, d, d)), (X / s)[:, None, :, None])[..., 0]
    v = np.linalg.solve(chol, params.means[..., None])[..., 0]  # (K, d)
    A = np.einsum("nkd,nkd->nk", w, w)
    B = np.einsum("nkd,kd->nk", w, v)
    C = np.einsum("kd,kd->k", v, v)[None]
    rows = np.arange(n)
    ref = _reference(A, B)
    a = A - A[rows, ref][:, None]
    b = B - B[rows, ref][:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        delta = s * (s * a - 2 * b) + (C - C[0, ref][:, None])
        m_ref = s[:, 0] * (s[:, 0] * A[rows, ref] - 2 * B[rows, ref]) + C[0, ref]
    log_det = -np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    with np.errstate(divide="ignore"):
        c = np.log(params.weights) + log_det - 0.5 * d * _LOG_2PI
    terms = c[None] - 0.5 * delta
    norm = logsumexp(terms, axis=1)
    return terms - norm[:, None], norm - 0.5 * m_ref


def _reference(A, B):
    # Per row: the smallest A (the leading term), ties (shared covariances) broken by the
    # largest B, so that no other component's difference runs to -inf.
    ref = np.empty(A.shape[0], dtype=int)
    for i in range(A.shape[0]):
        tied = np.flatnonzero(A[i] == A[i].min())
        ref[i] = tied[np.argmax(B[i, tied])]
    return ref
