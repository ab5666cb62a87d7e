r"""Fused E-step and sufficient statistics over row blocks: one pass, a few matrix products.

This is the E-step that fitting runs, called only through
:func:`latentmix.em.chunked.e_step_stats` (which spreads the blocks over threads or dask
tasks); :mod:`latentmix.em.estep` is the row-by-row E-step for predict, score and teaching.

An EM iteration over a million rows is limited by passes over memory, not by arithmetic.
Here each block of rows is read once and everything the next M-step needs is produced from
it, with the per-component work fused into a handful of matrix products:

1. The block is centred at the data mean :math:`c` and transposed to ``(d, b)`` (features by
   rows), so every elementwise operation runs along long contiguous rows.
2. Mahalanobis terms of all K components at once. ``full``: one product of the stacked
   precision factors :math:`[P_1 \dots P_K]^\top` (``(K d, d)``) with the block, then
   :math:`\lVert P_k^\top (x - \mu_k) \rVert^2` as a sum of squares (exact, never
   negative). ``tied``: one product with :math:`P^\top`, then the same sums of squares.
   ``diag`` and ``spherical``: the quadratic expanded,
   :math:`\sum_j \lambda_{kj} x_j^2 - 2 \lambda_{kj}\mu_{kj} x_j + \lambda_{kj}\mu_{kj}^2`,
   one ``(K, 2d + 1)`` by ``(2d + 1, b)`` product (as :mod:`latentmix.em.estep` does).
   ``tied_diag`` and ``tied_spherical`` are ``diag`` and ``spherical`` with the shared
   precisions repeated for every component (:func:`~latentmix.em.estep.per_component_precision`).
3. Log-sum-exp over components, then the responsibilities ``R`` (``(K, b)``) in place.
4. All the statistics in one product ``R @ F.T`` with the feature rows
   ``F = [second-moment features; x - c; 1]``: the last column gives :math:`N_k`, the middle
   ones :math:`s_k`, the first ones :math:`T_k`. The second-moment features are the packed
   upper triangle of :math:`(x - c)(x - c)^\top` (``full``, :math:`d(d+1)/2` rows), the
   squares (``diag``), or the squared norm (``spherical``). ``tied`` needs only the total
   scatter, which does not depend on the responsibilities: one ``(d, b)`` by ``(b, d)``
   product. ``tied_diag`` and ``tied_spherical`` take the moments of ``diag`` and
   ``spherical`` and sum them over components when unpacking (:func:`moments_to_stats`).

The moments are summed over blocks in packed form (:func:`moments_over_blocks`) and unpacked
once into :class:`~latentmix.em.mstep.SufficientStats` (:func:`moments_to_stats`). Centring at
the data mean keeps the one-pass scatter :math:`T_k - s_k s_k^\top / N_k` accurate; the E-step
for ``full`` and ``tied`` never expands the quadratic, so a tight component far from the data
mean loses nothing to cancellation.

Blocks of 8192 rows keep the ``(K d, b)`` and ``(d(d+1)/2 + d + 1, b)`` temporaries (about
5 MB and 4 MB at d = 10, K = 8) in the processor's cache; 2048 to 16384 rows were timed and
8192 was fastest on the benchmark machine (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from latentmix.em.estep import PER_COMPONENT_TYPE, per_component_precision, precision_cholesky
from latentmix.params import MixtureParams
from latentmix.threads import n_threads as available_threads
from latentmix.threads import single_threaded_blas

_LOG_2PI = np.log(2 * np.pi)

#: Rows per block: the temporaries of one block stay in cache (measured, see module doc).
BLOCK_ROWS = 8192


class BlockPlan(NamedTuple):
    r"""What every block needs from the current parameters, computed once per iteration.

    Attributes
    ----------
    covariance_type : str
    center : ndarray of shape (d,)
        The data are centred here before anything else.
    const : ndarray of shape (K, 1)
        :math:`\log w_k + \log|P_k| - \tfrac d2 \log 2\pi`.
    proj : ndarray
        ``full``: (K d, d), the stacked transposed precision factors; ``tied``: (d, d),
        the transposed factor; the diagonal types: (K, D) coefficients of the expanded
        quadratic on the feature rows.
    offset : ndarray or None
        ``full``: (K d, 1) projected centred means; ``tied``: (K, d, 1); else None.
    """

    covariance_type: str
    center: np.ndarray
    const: np.ndarray
    proj: np.ndarray
    offset: np.ndarray | None


# --- the plan ---------------------------------------------------------------------------------


def make_plan(params: MixtureParams, center, prec_chol=None) -> BlockPlan:
    """Precompute the per-iteration quantities the block kernel needs.

    Parameters
    ----------
    params : MixtureParams
    center : ndarray of shape (d,)
        Centring point (the data mean); the same for every block.
    prec_chol : ndarray, optional
        Precision factors of ``params.covariances`` if already computed.

    Returns
    -------
    BlockPlan
    """
    covariance_type = params.covariance_type
    center = np.asarray(center, dtype=float)
    means = np.asarray(params.means, dtype=float) - center
    K, d = means.shape
    if prec_chol is None:
        prec_chol = precision_cholesky(params.covariances, covariance_type)
    weights = np.asarray(params.weights, dtype=float)
    if weights.min() > 0:  # the usual case: no np.errstate (it costs more than the log)
        log_w = np.log(weights)
    else:
        with np.errstate(divide="ignore"):
            log_w = np.log(weights)
    # The shared diagonal types are diag/spherical with the precisions repeated.
    kind, prec_chol = per_component_precision(prec_chol, covariance_type, K)
    if kind == "full":
        log_det = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
        # Row k*d + j of proj is column j of P_k: proj @ x stacks P_k^T x for all k.
        proj = np.ascontiguousarray(prec_chol.transpose(0, 2, 1).reshape(K * d, d))
        offset = np.einsum("ki,kij->kj", means, prec_chol).reshape(K * d, 1)
    elif kind == "tied":
        log_det = np.full(K, np.log(np.diag(prec_chol)).sum())
        proj = np.ascontiguousarray(prec_chol.T)
        offset = (means @ prec_chol)[:, :, None]
    elif kind == "diag":
        prec = prec_chol**2
        log_det = np.log(prec_chol).sum(axis=1)
        # Coefficients on the feature rows [x^2; x; 1] giving the Mahalanobis term.
        proj = np.concatenate(
            [prec, -2 * means * prec, ((means**2) * prec).sum(axis=1, keepdims=True)], axis=1
        )
        offset = None
    else:
        prec = prec_chol**2
        log_det = d * np.log(prec_chol)
        proj = np.concatenate(
            [prec[:, None], -2 * means * prec[:, None], ((means**2).sum(axis=1) * prec)[:, None]],
            axis=1,
        )
        offset = None
    const = (log_w + log_det - 0.5 * d * _LOG_2PI)[:, None]
    return BlockPlan(covariance_type, center, const, proj, offset)


# --- one block --------------------------------------------------------------------------------


def n_moment_rows(covariance_type: str, n_features: int) -> int:
    """Number of feature rows D (columns of the packed moments)."""
    d = n_features
    kind = PER_COMPONENT_TYPE.get(covariance_type, covariance_type)
    return {"full": d * (d + 1) // 2, "tied": 0, "diag": d, "spherical": 1}[kind] + (d + 1)


def _features(xt, covariance_type):
    """Feature rows ``[second-moment features; x; 1]`` of a centred block ``xt`` (d, b)."""
    covariance_type = PER_COMPONENT_TYPE.get(covariance_type, covariance_type)
    d, b = xt.shape
    D = n_moment_rows(covariance_type, d)
    F = np.empty((D, b))
    q = D - d - 1
    if covariance_type == "full":
        start = 0
        for i in range(d):  # packed upper triangle, row by row: x_i * x_j for j >= i
            np.multiply(xt[i], xt[i:], out=F[start : start + d - i])
            start += d - i
    elif covariance_type == "diag":
        np.multiply(xt, xt, out=F[:d])
    elif covariance_type == "spherical":
        np.einsum("ij,ij->j", xt, xt, out=F[0])
    F[q : q + d] = xt
    F[-1] = 1.0
    return F


def block_log_prob(xt, plan: BlockPlan, F=None):
    r"""Weighted log-densities of a centred, transposed block, shape (K, b).

    Parameters
    ----------
    xt : ndarray of shape (d, b)
        ``(X_block - center).T``, C-contiguous.
    plan : BlockPlan
    F : ndarray, optional
        The block's feature rows (``diag``/``spherical`` use them for the quadratic).

    Returns
    -------
    ndarray of shape (K, b)
        :math:`\log w_k + \log \mathcal N(x_i \mid \mu_k, \Sigma_k)`.
    """
    covariance_type = plan.covariance_type
    d, b = xt.shape
    K = plan.const.shape[0]
    if covariance_type == "full":
        y = plan.proj @ xt
        np.subtract(y, plan.offset, out=y)
        np.multiply(y, y, out=y)
        maha = y.reshape(K, d, b).sum(axis=1)
    elif covariance_type == "tied":
        y = plan.proj @ xt
        diff = y[None] - plan.offset
        np.multiply(diff, diff, out=diff)
        maha = diff.sum(axis=1)
    else:
        if F is None:
            F = _features(xt, covariance_type)
        maha = plan.proj @ F
        np.maximum(maha, 0.0, out=maha)  # the expanded quadratic can round below zero
    maha *= -0.5
    maha += plan.const
    return maha


def _log_normalise(wlp):
    """In place: weighted log-densities (K, b) -> responsibilities; returns log p(x_i) (b,)."""
    top = wlp.max(axis=0)
    np.subtract(wlp, top, out=wlp)
    np.exp(wlp, out=wlp)
    total = wlp.sum(axis=0)
    np.divide(wlp, total, out=wlp)
    return np.log(total) + top


def centred_block(X_block, center, out=None):
    """``(X_block - center).T`` as a C-contiguous (d, b) float array."""
    X_block = np.asarray(X_block)
    b, d = X_block.shape
    if out is None or out.shape != (d, b):
        out = np.empty((d, b))
    np.subtract(X_block.T, center[:, None], out=out)
    return out


class PreparedBlock(NamedTuple):
    """What a block of rows gives the kernel whatever the parameters: kept for a whole run.

    Attributes
    ----------
    xt : ndarray of shape (d, b)
        The centred, transposed rows (:func:`centred_block`).
    features : ndarray of shape (D, b)
        Their feature rows (:func:`_features`).
    scatter : ndarray of shape (d, d) or None
        ``tied`` only: their total scatter about the centre.
    """

    xt: np.ndarray
    features: np.ndarray
    scatter: np.ndarray | None


def prepare_block(X_block, center, covariance_type: str) -> PreparedBlock:
    """The parameter-free part of :func:`block_moments` for rows that stay in memory.

    A fit whose rows fit in one block computes this once and passes it to every
    iteration's :func:`block_moments` (with tiny data, making these arrays again each
    iteration was a noticeable part of it); the results are the same to the last bit.

    Parameters
    ----------
    X_block : array-like of shape (b, d)
    center : ndarray of shape (d,)
    covariance_type : str

    Returns
    -------
    PreparedBlock
    """
    xt = centred_block(X_block, np.asarray(center, dtype=float))
    F = _features(xt, covariance_type)
    scatter = xt @ xt.T if covariance_type == "tied" else None
    return PreparedBlock(xt, F, scatter)


def block_moments(X_block, plan: BlockPlan, sample_weight=None, prepared=None):
    """E-step on one block of rows and the packed statistics it gives.

    Parameters
    ----------
    X_block : array-like of shape (b, d)
        Raw (uncentred) rows; ndarray, memmap slice, or anything ``np.asarray`` takes.
    plan : BlockPlan
    sample_weight : ndarray of shape (b,), optional
        Observation weights: each row's responsibilities, scatter and log-likelihood are
        multiplied by its weight (one pass over ``R`` before the product; the unweighted
        path does no extra work).
    prepared : PreparedBlock, optional
        :func:`prepare_block` of these rows at ``plan.center`` (the rows themselves are then
        not read).

    Returns
    -------
    moments : ndarray of shape (K, D)
        ``R @ F.T``: packed second moments, centred first moments, :math:`N_k`
        (see :func:`moments_to_stats`).
    scatter : ndarray of shape (d, d) or None
        ``tied`` only: the block's total scatter about the centre.
    log_lik_sum : float
        Sum of the block's per-row log-likelihoods (weighted).
    """
    covariance_type = plan.covariance_type
    if prepared is None:
        xt = centred_block(X_block, plan.center)
        F = _features(xt, covariance_type)
    else:
        xt, F = prepared.xt, prepared.features
    wlp = block_log_prob(xt, plan, F)
    sample_log_lik = _log_normalise(wlp)
    if sample_weight is None:
        moments = wlp @ F.T
        if prepared is not None:
            scatter = prepared.scatter
        else:
            scatter = xt @ xt.T if covariance_type == "tied" else None
        return moments, scatter, float(sample_log_lik.sum())
    w = np.asarray(sample_weight, dtype=float)
    np.multiply(wlp, w, out=wlp)
    moments = wlp @ F.T
    scatter = (xt * w) @ xt.T if covariance_type == "tied" else None
    return moments, scatter, float(sample_log_lik @ w)


# --- summing and unpacking --------------------------------------------------------------------


class Moments(NamedTuple):
    """Packed statistics summed over blocks (see :func:`block_moments`)."""

    moments: np.ndarray
    scatter: np.ndarray | None
    log_likelihood: float


def add_moments(a: Moments, b: Moments) -> Moments:
    """Sum of the packed statistics of two sets of rows."""
    scatter = None if a.scatter is None else a.scatter + b.scatter
    return Moments(a.moments + b.moments, scatter, a.log_likelihood + b.log_likelihood)


def moments_over_blocks(
    X,
    plan: BlockPlan,
    block_rows: int = BLOCK_ROWS,
    n_threads: int | None = None,
    sample_weight=None,
) -> Moments:
    """:func:`block_moments` over all rows of ``X`` in blocks of ``block_rows``, summed.

    ``X`` may be an ndarray or a NumPy memmap: only the blocks being worked on are in
    memory. With ``n <= block_rows`` there is one block, no loop and no threads (small fits
    pay no overhead). Otherwise blocks are spread over ``n_threads`` threads (default: the
    usable cores) while BLAS is held to one thread per call: the products of one block are
    too small to split, and a split BLAS call stalls when another process takes a core. The
    block results are added in block order, so the sum does not depend on the threads.
    ``sample_weight`` (n,) weights the rows (see :func:`block_moments`).
    """
    n = X.shape[0]
    w = sample_weight
    if n <= block_rows:
        return Moments(*block_moments(X, plan, w))
    starts = range(0, n, block_rows)

    def one(start):
        stop = start + block_rows
        return Moments(*block_moments(X[start:stop], plan, None if w is None else w[start:stop]))

    workers = available_threads() if n_threads is None else max(int(n_threads), 1)
    with single_threaded_blas():
        parts = map(one, starts) if workers == 1 else _pool(workers).map(one, starts)
        return functools.reduce(add_moments, parts)


# --- threads ------------------------------------------------------------------------------------

_POOLS: dict = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="latentmix-em")
    return _POOLS[workers]


@functools.cache
def _triu(d):
    return np.triu_indices(d)


def moments_to_stats(total: Moments, plan: BlockPlan):
    """Unpack summed moments into :class:`~latentmix.em.mstep.SufficientStats`.

    Returns
    -------
    stats : SufficientStats
    log_likelihood : float
    """
    from latentmix.em.mstep import SufficientStats

    covariance_type = plan.covariance_type
    m = total.moments
    d = plan.center.shape[0]
    K = m.shape[0]
    nk = m[:, -1].copy()
    sum_x = m[:, -1 - d : -1].copy()
    if covariance_type == "full":
        iu = _triu(d)
        sum_xx = np.empty((K, d, d))
        sum_xx[:, iu[0], iu[1]] = m[:, : iu[0].size]
        sum_xx[:, iu[1], iu[0]] = m[:, : iu[0].size]
    elif covariance_type == "tied":
        sum_xx = 0.5 * (total.scatter + total.scatter.T)
    elif covariance_type == "diag":
        sum_xx = m[:, :d].copy()
    elif covariance_type == "spherical":
        sum_xx = m[:, 0].copy()
    elif covariance_type == "tied_diag":
        sum_xx = m[:, :d].sum(axis=0)
    else:
        sum_xx = m[:, 0].sum()
    stats = SufficientStats(nk, sum_x, sum_xx, plan.center, covariance_type)
    return stats, total.log_likelihood
