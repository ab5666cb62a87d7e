"""The numba kernels of the mixture log-likelihood: rows, score, and rows of many draws.

Pure numba (no PyTensor), so that :mod:`latentmix.comparison` evaluates posterior draws with
the same code as the likelihood Op of :mod:`latentmix.bayes.likelihood`, whose docstring
gives the mathematics. Each loop holds one row's ``(K, d)`` whitened residuals at a time.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["draws_rows", "mixture_rows", "mixture_score"]

_LOG_2PI = float(np.log(2 * np.pi))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _cholesky(cov, chol):
    """Lower Cholesky factors of the (K, d, d) stack into ``chol``; False if one is not PD."""
    K, d = cov.shape[0], cov.shape[1]
    for k in range(K):
        for j in range(d):
            s = cov[k, j, j]
            for m in range(j):
                s -= chol[k, j, m] * chol[k, j, m]
            if not s > 0.0:  # also catches NaN
                return False
            chol[k, j, j] = np.sqrt(s)
            for i in range(j + 1, d):
                t = cov[k, i, j]
                for m in range(j):
                    t -= chol[k, i, m] * chol[k, j, m]
                chol[k, i, j] = t / chol[k, j, j]
            for i in range(j):
                chol[k, i, j] = 0.0
    return True


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _row_terms(X, i, const, means, chol, inv_diag, z, a):
    """Row i's whitened residuals ``z`` (K, d) and responsibilities ``a`` (K,); its log-density.

    ``const[k] = log w_k - log det L_k - d log(2 pi) / 2``; ``inv_diag`` holds 1 / L_k[j, j].
    """
    K, d = means.shape
    top = -np.inf
    for k in range(K):
        maha = 0.0
        for j in range(d):  # forward substitution: L_k z = x - mu_k
            t = X[i, j] - means[k, j]
            for m in range(j):
                t -= chol[k, j, m] * z[k, m]
            t *= inv_diag[k, j]
            z[k, j] = t
            maha += t * t
        a[k] = const[k] - 0.5 * maha
        top = max(top, a[k])
    total = 0.0
    for k in range(K):
        a[k] = np.exp(a[k] - top)
        total += a[k]
    for k in range(K):
        a[k] /= total
    return top + np.log(total)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _prepare(weights, covariances):
    """Cholesky factors, their inverse diagonals and the constants of :func:`_row_terms`."""
    K, d = covariances.shape[0], covariances.shape[1]
    chol = np.zeros((K, d, d))
    ok = _cholesky(covariances, chol)
    inv_diag = np.ones((K, d))
    const = np.log(weights) - 0.5 * d * _LOG_2PI
    if ok:
        for k in range(K):
            for j in range(d):
                inv_diag[k, j] = 1.0 / chol[k, j, j]
                const[k] -= np.log(chol[k, j, j])
    return ok, chol, inv_diag, const


@numba.njit(cache=True, nogil=True, error_model="numpy")
def mixture_rows(X, weights, means, covariances):
    """Row log-densities ``log sum_k w_k N(x_i | mu_k, Sigma_k)``: (n,)."""
    n = X.shape[0]
    K, d = means.shape
    out = np.empty(n)
    ok, chol, inv_diag, const = _prepare(weights, covariances)
    if not ok:
        out[:] = -np.inf
        return out
    z = np.empty((K, d))
    a = np.empty(K)
    for i in range(n):
        out[i] = _row_terms(X, i, const, means, chol, inv_diag, z, a)
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def mixture_score(X, weights, means, covariances, row_grad):
    """Gradients of ``sum_i row_grad[i] * rows[i]`` by weights, means and covariances; rows.

    One pass: the E-step's responsibilities and the weighted sums of the module docstring,
    and the row log-densities of :func:`mixture_rows` on the way.
    """
    n = X.shape[0]
    K, d = means.shape
    ok, chol, inv_diag, const = _prepare(weights, covariances)
    g_w = np.zeros(K)
    g_means = np.zeros((K, d))
    g_cov = np.zeros((K, d, d))
    rows = np.empty(n)
    if not ok:
        g_w[:] = np.nan
        g_means[:] = np.nan
        g_cov[:] = np.nan
        rows[:] = -np.inf
        return g_w, g_means, g_cov, rows
    N = np.zeros(K)
    zbar = np.zeros((K, d))
    S = np.zeros((K, d, d))  # upper triangle only, filled below
    z = np.empty((K, d))
    a = np.empty(K)
    for i in range(n):
        rows[i] = _row_terms(X, i, const, means, chol, inv_diag, z, a)
        for k in range(K):
            r = row_grad[i] * a[k]
            N[k] += r
            for j in range(d):
                rz = r * z[k, j]
                zbar[k, j] += rz
                for m in range(j, d):
                    S[k, j, m] += rz * z[k, m]
    for k in range(K):
        g_w[k] = N[k] / weights[k]
        for j in range(d):
            for m in range(j):
                S[k, j, m] = S[k, m, j]
            S[k, j, j] -= N[k]
        L = chol[k]
        # g_means = L^{-T} zbar: back substitution with L^T.
        for j in range(d - 1, -1, -1):
            t = zbar[k, j]
            for m in range(j + 1, d):
                t -= L[m, j] * g_means[k, m]
            g_means[k, j] = t / L[j, j]
        # g_cov = 0.5 L^{-T} S L^{-1}: B = L^{-T} S (back substitution per column) ...
        B = np.empty((d, d))
        for c in range(d):
            for j in range(d - 1, -1, -1):
                t = S[k, j, c]
                for m in range(j + 1, d):
                    t -= L[m, j] * B[m, c]
                B[j, c] = t / L[j, j]
        # ... then (L^{-T} B^T)^T = B L^{-1}, B L^{-1} symmetric since S is.
        for r_ in range(d):
            for j in range(d - 1, -1, -1):
                t = B[r_, j]
                for m in range(j + 1, d):
                    t -= L[m, j] * g_cov[k, r_, m]
                g_cov[k, r_, j] = t / L[j, j]
        for j in range(d):
            for m in range(d):
                g_cov[k, j, m] *= 0.5
    return g_w, g_means, g_cov, rows


@numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def draws_rows(X, weights, means, covariances):
    """Row log-densities under every draw, and the membership sums over draws.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (S, K)
    means : ndarray of shape (S, K, d)
    covariances : ndarray of shape (S, K, d, d)

    Returns
    -------
    rows : ndarray of shape (n, S)
    total, total_sq : ndarray of shape (n, K)
        Sums over draws of each row's responsibilities and of their squares.
    """
    n, d = X.shape
    S, K = weights.shape
    chol = np.zeros((S, K, d, d))
    inv_diag = np.ones((S, K, d))
    const = np.zeros((S, K))
    ok = np.zeros(S, dtype=np.bool_)
    for s in range(S):
        ok[s], chol[s], inv_diag[s], const[s] = _prepare(weights[s], covariances[s])
    rows = np.empty((n, S))
    total = np.zeros((n, K))
    total_sq = np.zeros((n, K))
    for i in numba.prange(n):  # rows in parallel: each row's sums are its own
        z = np.empty((K, d))
        a = np.empty(K)
        for s in range(S):
            if not ok[s]:
                rows[i, s] = -np.inf
                continue
            rows[i, s] = _row_terms(X, i, const[s], means[s], chol[s], inv_diag[s], z, a)
            for k in range(K):
                total[i, k] += a[k]
                total_sq[i, k] += a[k] * a[k]
    return rows, total, total_sq
