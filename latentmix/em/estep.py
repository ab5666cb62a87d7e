r"""The E-step row by row: component log-densities and responsibilities, in log space.

Who calls it: the estimator's predict, predict_proba, score and the information criteria,
the uncertainty code (:mod:`latentmix.em.information`), the trajectory of
:func:`latentmix.em.fit.run_em` and the teaching pages, all of which need per-row results in
memory. The fit does not: its E-step is :func:`latentmix.em.chunked.e_step_stats`, the fused
blocked kernel of :mod:`latentmix.em.kernels`, which computes the same densities (tests check
the two agree) but keeps only the sums the M-step needs. :func:`precision_cholesky` here is
shared by both.

Each covariance is handled through the Cholesky factor of its precision, ``P`` with
:math:`\Sigma^{-1} = P P^\top` (upper triangular for ``full``/``tied``), obtained from the
Cholesky factor of the covariance by a triangular solve, never by inverting a covariance.
Then

.. math::

    \log \mathcal N(x \mid \mu, \Sigma)
        = -\tfrac d2 \log 2\pi + \sum_j \log P_{jj} - \tfrac12 \lVert (x - \mu)^\top P \rVert^2 .
"""

from __future__ import annotations

import functools

import numpy as np

from latentmix.params import DIAGONAL_TYPES, MixtureParams

_LOG_2PI = np.log(2 * np.pi)


class DegenerateMixtureError(ValueError):
    """A covariance is singular: a component has collapsed onto too few points."""


_DEGENERATE_HINT = (
    "This happens when a component collapses onto one point or a few collinear points, where "
    "the likelihood runs to infinity. Use fewer components or a more constrained "
    "covariance_type; for an MLE, fit the MAP (prior='default'); for a MAP, give a prior with "
    "a larger scale or more degrees of freedom."
)


def precision_cholesky(covariances, covariance_type: str) -> np.ndarray:
    """Cholesky factors of the precisions, in the shape of ``covariances``.

    Parameters
    ----------
    covariances : ndarray
        (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical, (d,) tied_diag,
        () tied_spherical.
    covariance_type : str

    Returns
    -------
    ndarray
        Same shape. For full and tied, upper-triangular ``P`` with ``inv(cov) = P @ P.T``;
        for the diagonal types, ``1 / sqrt(variance)``.

    Raises
    ------
    DegenerateMixtureError
        If a covariance is not numerically positive definite.
    """
    covariances = np.asarray(covariances, dtype=float)
    if covariance_type in DIAGONAL_TYPES:
        # Every variance positive and finite (a NaN fails both comparisons).
        if not (covariances.min() > 0 and covariances.max() < np.inf):
            raise DegenerateMixtureError(f"a variance is zero or negative. {_DEGENERATE_HINT}")
        return 1.0 / np.sqrt(covariances)
    stack = covariances if covariance_type == "full" else covariances[None]
    d = stack.shape[-1]
    if not np.isfinite(stack).all():
        raise DegenerateMixtureError(f"a covariance is not finite. {_DEGENERATE_HINT}")
    try:
        chol = np.linalg.cholesky(stack)
    except np.linalg.LinAlgError:
        bad = next(k for k, cov in enumerate(stack) if not _is_cholesky_ok(cov))
        raise DegenerateMixtureError(
            f"the covariance of component {bad} is singular. {_DEGENERATE_HINT}"
        ) from None
    # P = L^{-T}: one batched solve of the triangular factors (numpy's batched solver has
    # none of the per-call overhead of scipy's triangular solver on tiny matrices).
    identity, below = _solve_constants(stack.shape[0], d)
    out = np.linalg.solve(chol, identity).transpose(0, 2, 1)
    out = np.where(below, 0.0, out)  # exactly upper triangular (np.triu, mask cached)
    return out if covariance_type == "full" else out[0]


@functools.cache
def _solve_constants(K: int, d: int):
    """The (K, d, d) identity and the strictly-lower mask of :func:`precision_cholesky`.

    Built once per shape: EM asks for the factors every iteration, and making these small
    arrays again each time cost as much as the solve.
    """
    identity = np.broadcast_to(np.eye(d), (K, d, d))
    below = np.tri(d, d, k=-1, dtype=bool)
    return identity, below


def _is_cholesky_ok(cov) -> bool:
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return False
    return True


#: The per-component type whose E-step a shared diagonal type reuses: a shared variance is
#: the same variance repeated for every component.
PER_COMPONENT_TYPE = {"tied_diag": "diag", "tied_spherical": "spherical"}


def per_component_precision(prec_chol, covariance_type: str, n_components: int):
    """A shared diagonal type's precision factors repeated for every component.

    Parameters
    ----------
    prec_chol : ndarray
        :func:`precision_cholesky` of the covariances.
    covariance_type : str
    n_components : int

    Returns
    -------
    kind : str
        ``diag`` for ``tied_diag``, ``spherical`` for ``tied_spherical``, else
        ``covariance_type`` itself.
    prec_chol : ndarray
        (K, d) or (K,) for the two shared diagonal types (a read-only broadcast view),
        else ``prec_chol`` unchanged.
    """
    kind = PER_COMPONENT_TYPE.get(covariance_type, covariance_type)
    if kind == covariance_type:
        return kind, prec_chol
    prec_chol = np.asarray(prec_chol, dtype=float)
    return kind, np.broadcast_to(prec_chol, (n_components, *prec_chol.shape))


def log_det_precision_cholesky(prec_chol, covariance_type: str, n_features: int) -> np.ndarray:
    """Sum of the log-diagonal of each precision factor, shape (K,) (a scalar if shared)."""
    if covariance_type == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diag(prec_chol)).sum()
    if covariance_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    if covariance_type == "tied_diag":
        return np.log(prec_chol).sum()
    return n_features * np.log(prec_chol)


def component_log_prob(X, params: MixtureParams, prec_chol=None) -> np.ndarray:
    r"""Log-density of every sample under every component, without the weights.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
    prec_chol : ndarray, optional
        Precomputed :func:`precision_cholesky` of ``params.covariances``.

    Returns
    -------
    ndarray of shape (n, K)
        :math:`\log \mathcal N(x_i \mid \mu_k, \Sigma_k)`.
    """
    means = params.means
    d = X.shape[1]
    if prec_chol is None:
        prec_chol = precision_cholesky(params.covariances, params.covariance_type)
    log_det = log_det_precision_cholesky(prec_chol, params.covariance_type, d)
    covariance_type, prec_chol = per_component_precision(
        prec_chol, params.covariance_type, params.n_components
    )
    if covariance_type != "full":
        # The other types expand the quadratic; centring at the component means' average
        # (densities are translation invariant) keeps data far from the origin from
        # cancelling x^2 against mu^2 (the fitting kernel centres at the data mean).
        center = np.asarray(means, dtype=float).mean(axis=0)
        X = np.asarray(X, dtype=float) - center
        means = means - center
    if covariance_type == "full":
        maha = _maha_full(X, means, prec_chol)
    elif covariance_type == "tied":
        y = _stacked_product(X, prec_chol)
        mu_y = means @ prec_chol
        maha = (
            np.einsum("ij,ij->i", y, y)[:, None]
            - 2 * _stacked_product(y, mu_y.T)
            + (mu_y**2).sum(axis=1)[None]
        )
        maha = np.maximum(maha, 0.0)
    elif covariance_type == "diag":
        prec = prec_chol**2
        maha = (
            _stacked_product(X**2, prec.T)
            - 2 * _stacked_product(X, (means * prec).T)
            + ((means**2) * prec).sum(axis=1)[None]
        )
        maha = np.maximum(maha, 0.0)
    else:
        prec = prec_chol**2
        maha = (
            np.einsum("ij,ij->i", X, X)[:, None]
            - 2 * _stacked_product(X, means.T)
            + (means**2).sum(axis=1)[None]
        ) * prec[None]
        maha = np.maximum(maha, 0.0)
    return -0.5 * (d * _LOG_2PI + maha) + log_det


#: Rows per chunk of the fused full-covariance product: keeps the (rows, K * d) temporary
#: small enough to stay in cache.
_CHUNK_ROWS = 16384


def _maha_full(X, means, prec_chol):
    """Squared Mahalanobis distances (n, K) for full covariances, one product per chunk."""
    n, d = X.shape
    K = means.shape[0]
    # Column block k of P_all is P_k: every component's projection in one matrix product.
    P_all = prec_chol.transpose(1, 0, 2).reshape(d, K * d)
    shift = np.einsum("ki,kij->kj", means, prec_chol).reshape(K * d)
    # Summing each block of d squared columns is a product with a 0/1 matrix: much faster
    # than a reduction over a short axis.
    block_sum = np.repeat(np.eye(K), d, axis=0)
    maha = np.empty((n, K))
    for start in range(0, n, _CHUNK_ROWS):
        y = _stacked_product(X[start : start + _CHUNK_ROWS], P_all)
        y -= shift
        y *= y
        maha[start : start + _CHUNK_ROWS] = _stacked_product(y, block_sum)
    return maha


#: Rows per slice of a stacked product: small enough that BLAS does not start threads.
_SLICE_ROWS = 256


def _stacked_product(A, B):
    """``A @ B`` for tall A (n, p), as a stack of products over row slices.

    BLAS spreads one big product over threads; on a busy machine waiting for those threads
    costs more than the product. Products of ``_SLICE_ROWS`` rows stay on one thread.
    """
    n = A.shape[0]
    m = n - n % _SLICE_ROWS
    out = np.empty((n, B.shape[1]))
    if m:
        stacked = np.matmul(A[:m].reshape(-1, _SLICE_ROWS, A.shape[1]), B)
        out[:m] = stacked.reshape(m, B.shape[1])
    out[m:] = A[m:] @ B
    return out


def weighted_log_prob(X, params: MixtureParams, prec_chol=None) -> np.ndarray:
    r""":math:`\log w_k + \log \mathcal N(x_i \mid \mu_k, \Sigma_k)`, shape (n, K)."""
    with np.errstate(divide="ignore"):
        log_w = np.log(params.weights)
    return component_log_prob(X, params, prec_chol) + log_w


def e_step(X, params: MixtureParams, prec_chol=None):
    r"""Responsibilities and per-sample log-likelihood.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams

    Returns
    -------
    log_resp : ndarray of shape (n, K)
        :math:`\log p(z_i = k \mid x_i)`, the log responsibilities.
    sample_log_lik : ndarray of shape (n,)
        :math:`\log p(x_i)`.
    """
    wlp = weighted_log_prob(X, params, prec_chol)
    top = _row_max(wlp)
    sample_log_lik = np.log(np.exp(wlp - top[:, None]).sum(axis=1)) + top
    return wlp - sample_log_lik[:, None], sample_log_lik


_RESP_FLOOR = 1e-100


def responsibilities(X, params: MixtureParams, prec_chol=None):
    """Responsibilities (not their logs) and per-sample log-likelihood, in one pass.

    Responsibilities below 1e-100 are returned as exactly 0 (see the comment in the code).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
    prec_chol : ndarray, optional

    Returns
    -------
    resp : ndarray of shape (n, K)
    sample_log_lik : ndarray of shape (n,)
    """
    wlp = weighted_log_prob(X, params, prec_chol)
    top = _row_max(wlp)
    wlp -= top[:, None]
    resp = np.exp(wlp, out=wlp)
    total = resp.sum(axis=1)
    resp /= total[:, None]
    # Responsibilities below 1e-100 change no statistic measurably, but their products with
    # the data underflow to subnormal numbers, which slow matrix products down many times.
    resp[resp < _RESP_FLOOR] = 0.0
    return resp, np.log(total) + top


def _row_max(a):
    # Rows that are all -inf (a zero-weight mixture) keep 0 so nothing becomes NaN.
    top = a.max(axis=1)
    return np.where(np.isfinite(top), top, 0.0)


def log_likelihood(X, params: MixtureParams) -> float:
    r"""Total data log-likelihood :math:`\sum_i \log \sum_k w_k \mathcal N(x_i)`."""
    return float(e_step(X, params)[1].sum())
