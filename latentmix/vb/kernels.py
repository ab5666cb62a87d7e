r"""The VB E-step over row blocks, on EM's fused kernels, with the entropy of q(z).

The VB update of q(z) is EM's E-step with other numbers (:mod:`latentmix.vb.updates`):
:math:`\log\rho_{ik}` is a Gaussian quadratic in :math:`x_i` at means :math:`m_k` and
"covariances" :math:`\Psi'_k/\nu'_k` plus a constant per component. So each block goes
through :func:`latentmix.em.kernels.block_log_prob` with a :class:`~latentmix.em.kernels.
BlockPlan` whose constant is replaced, and the statistics come out of the same one product
``R @ F.T`` as EM's (:func:`latentmix.em.kernels.moments_to_stats` unpacks them).

The one addition is the entropy :math:`H = -\sum_{ik} r_{ik} \log r_{ik}` that the ELBO
needs, taken inside the block from the shifted log-densities
:math:`u_{ik} = \log\rho_{ik} - \max_j \log\rho_{ij}` before they are exponentiated:
:math:`-\sum_k r_{ik}\log r_{ik} = \log \sum_k e^{u_{ik}} - \sum_k r_{ik} u_{ik}`. Both terms
are small numbers, so nothing cancels (computing it afterwards from the statistics would
subtract quantities of order n times the squared distance of a component from the data
mean). It costs one copy and one product-sum over the (K, b) block.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from latentmix.em import chunked, kernels
from latentmix.em.kernels import BLOCK_ROWS, BlockPlan, Moments, centred_block, make_plan
from latentmix.em.mstep import SufficientStats
from latentmix.threads import n_threads as available_threads
from latentmix.threads import single_threaded_blas


class BlockResult(NamedTuple):
    """The packed statistics of some rows and the two sums the ELBO needs."""

    moments: Moments
    entropy: float


def plan_for(params, center, const=None) -> BlockPlan:
    """EM's block plan at ``params``, its per-component constant replaced by ``const`` (K,)."""
    plan = make_plan(params, center)
    if const is None:
        return plan
    return plan._replace(const=np.asarray(const, dtype=float)[:, None])


def _features(xt, covariance_type):
    # The kernel's feature rows [second moments; x - c; 1] (one definition, in em.kernels).
    return kernels._features(xt, covariance_type)


def block_moments(X_block, plan: BlockPlan, sample_weight=None) -> BlockResult:
    r"""The E-step on one block: packed statistics, sum of log-normalisers and entropy.

    Parameters
    ----------
    X_block : array-like of shape (b, d)
    plan : BlockPlan
        From :func:`plan_for`.
    sample_weight : ndarray of shape (b,), optional
        Observation weights: each row's responsibilities (so its statistics), its
        log-normaliser and its entropy are multiplied by its weight, as for rows repeated.

    Returns
    -------
    BlockResult
        ``moments.log_likelihood`` holds :math:`\sum_i w_i \log\sum_k \rho_{ik}`.
    """
    xt = centred_block(X_block, plan.center)
    covariance_type = plan.covariance_type
    F = _features(xt, covariance_type)
    u = kernels.block_log_prob(xt, plan, F)
    top = u.max(axis=0)
    u -= top
    r = np.exp(u)
    total = r.sum(axis=0)
    r /= total
    log_total = np.log(total)
    row_entropy = log_total - np.einsum("kb,kb->b", r, u)
    row_log_norm = log_total + top
    if sample_weight is None:
        moments = r @ F.T
        scatter = xt @ xt.T if covariance_type == "tied" else None
        return BlockResult(
            Moments(moments, scatter, float(row_log_norm.sum())), float(row_entropy.sum())
        )
    w = np.asarray(sample_weight, dtype=float)
    r *= w
    moments = r @ F.T
    scatter = (xt * w) @ xt.T if covariance_type == "tied" else None
    return BlockResult(Moments(moments, scatter, float(row_log_norm @ w)), float(row_entropy @ w))


def _add(a: BlockResult, b: BlockResult) -> BlockResult:
    return BlockResult(kernels.add_moments(a.moments, b.moments), a.entropy + b.entropy)


_POOLS: dict = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="latentmix-vb")
    return _POOLS[workers]


def _chunk(chunk, plan, block_rows):
    # Inside a dask task: serial blocks (dask supplies the parallelism).
    chunk = np.asarray(chunk)
    parts = (
        block_moments(chunk[s : s + block_rows], plan)
        for s in range(0, chunk.shape[0], block_rows)
    )
    return functools.reduce(_add, parts)


def _over_dask(X, plan, block_rows, scheduler) -> BlockResult:
    import dask
    from dask import delayed

    plan_ref = delayed(plan, traverse=False)
    tasks = [delayed(_chunk)(c, plan_ref, block_rows) for c in X.to_delayed()[:, 0]]
    parts = dask.compute(*tasks, scheduler=scheduler)
    return functools.reduce(_add, parts)  # in chunk order, whatever ran where


def e_step_stats(
    X,
    plan: BlockPlan,
    block_rows: int = BLOCK_ROWS,
    n_threads: int | None = None,
    sample_weight=None,
    scheduler=None,
) -> tuple[SufficientStats, float, float]:
    r""":func:`block_moments` over every row of ``X``, summed and unpacked.

    For an ndarray or memmap as :func:`latentmix.em.kernels.moments_over_blocks`: one block
    and no threads for small data, otherwise blocks spread over threads with BLAS held to
    one thread, added in block order (the result does not depend on the threads). For a
    dask array as :func:`latentmix.em.chunked.moments_dask`: one task per row chunk on
    ``scheduler`` (a resolved :func:`latentmix.em.chunked.dask_scheduler` value), the
    chunk results added in chunk order.

    Returns
    -------
    stats : SufficientStats
        In the plan's covariance type, centred at ``plan.center``.
    log_normaliser : float
        :math:`\sum_i w_i \log \sum_k \rho_{ik}`.
    entropy : float
        :math:`-\sum_{ik} w_i r_{ik} \log r_{ik}`.
    """
    n = X.shape[0]
    w = sample_weight
    if chunked.is_dask_array(X):
        if w is not None:
            raise ValueError("sample_weight needs the data in memory or in a NumPy memmap.")
        total = _over_dask(X, plan, block_rows, scheduler)
    elif n <= block_rows:
        total = block_moments(X, plan, w)
    else:
        starts = range(0, n, block_rows)

        def one(start):
            stop = start + block_rows
            return block_moments(X[start:stop], plan, None if w is None else w[start:stop])

        workers = available_threads() if n_threads is None else max(int(n_threads), 1)
        with single_threaded_blas():
            parts = map(one, starts) if workers == 1 else _pool(workers).map(one, starts)
            total = functools.reduce(_add, parts)
    stats, log_normaliser = kernels.moments_to_stats(total.moments, plan)
    return stats, log_normaliser, total.entropy
