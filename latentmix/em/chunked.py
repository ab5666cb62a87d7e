"""The passes of the fit over the data, whatever holds it: ndarray, NumPy memmap or dask.

:mod:`latentmix.em.fit` calls this module for every pass over the data: the first pass
(:func:`data_moments`), the E-step of every iteration (:func:`e_step_stats`, the fit's only
E-step entry point) and the rows starting points are drawn from (:func:`init_rows`); the
estimator calls it to check blocked data and build the default prior without reading them
whole. Everything EM needs from the data is a sum over rows (:mod:`latentmix.em.kernels`),
so the data are read one block at a time and the block results are added; only the small
per-block statistics ever meet in one place.

- **NumPy memmap** (``np.load(path, mmap_mode="r")`` or ``np.memmap``): read block by block in
  this process by :func:`latentmix.em.kernels.moments_over_blocks`; the file's pages are read
  through the operating system's cache and are never copied whole into process memory.
- **dask array**: one task per row chunk (each task works through its chunk in
  cache-sized blocks) and the per-chunk statistics are brought back and added in chunk
  order, so the result does not depend on the scheduler. Chunks along columns are merged
  first (a row needs all its features). The work runs on:

  * ``scheduler=None``: dask's current default, i.e. a ``dask.distributed.Client`` if one
    is active in the session (``Client()`` makes itself the default), else dask's threads;
  * ``scheduler="threads"``, ``"synchronous"`` or ``"processes"``: that dask scheduler;
  * ``scheduler="local"``: a ``dask.distributed.LocalCluster`` started for the fit and shut
    down after it;
  * ``scheduler="tcp://host:port"`` (any address): a ``dask.distributed.Client`` connected
    to that scheduler for the fit;
  * ``scheduler=client``: an existing ``dask.distributed.Client``.

  Each iteration reads the data again: if the array fits in the cluster's memory,
  ``X = X.persist()`` before fitting saves recomputing or re-reading it. For a .npy file use
  :func:`dask_from_npy` (each chunk read when needed); ``dask.array.from_array`` copies a
  NumPy array, a memmap included, into memory when it is called.

The result equals the in-memory fit to round-off (the block sums are added in another
order). Starting points are drawn by :mod:`latentmix.em.init` from at most
:data:`INIT_SAMPLE_ROWS` rows sampled without replacement (the same rows whatever holds the
data), so initialisation does not need the whole data in memory either.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from latentmix.em.kernels import (
    BLOCK_ROWS,
    Moments,
    add_moments,
    block_moments,
    make_plan,
    moments_over_blocks,
    moments_to_stats,
)
from latentmix.params import MixtureParams
from latentmix.threads import single_threaded_blas
from latentmix.validation import COMPLEX_DATA, as_two_dimensional

#: Starting points are drawn from at most this many rows (all rows when there are fewer).
INIT_SAMPLE_ROWS = 100_000

SCHEDULERS = ("threads", "synchronous", "processes", "local")


# --- what kind of data ------------------------------------------------------------------------


def is_dask_array(X) -> bool:
    """True for a ``dask.array.Array`` (checked without importing dask)."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks")


def is_blocked_data(X) -> bool:
    """True for data read block by block: a dask array or a NumPy memmap."""
    return is_dask_array(X) or isinstance(X, np.memmap)


def check_blocked_data(X, *, n_components: int | None = None):
    """Validate the shape and type of a dask array or memmap without reading it.

    A 1-D array becomes one feature; a dask array is rechunked so that every chunk holds
    whole rows, and cast to float64 lazily. Finiteness is checked in the first pass over the
    data (:func:`data_moments`).

    Returns
    -------
    dask array or memmap of shape (n, d)
    """
    X = as_two_dimensional(X)
    if np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(COMPLEX_DATA)  # as in memory: never cast to the real part
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"X must be real numbers; got dtype {X.dtype}.")
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(f"X is empty (shape {X.shape}); a mixture needs data.")
    if any(c is None or np.isnan(c) for c in (n, d)):
        raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() before fitting.")
    if n_components is not None and n < n_components:
        raise ValueError(
            f"X has {n} samples but n_components={n_components}; a mixture needs at least "
            "as many samples as components: lower n_components or add data."
        )
    if is_dask_array(X):
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        if X.dtype != np.float64:
            X = X.astype(np.float64)
    return X


# --- schedulers -------------------------------------------------------------------------------


@contextlib.contextmanager
def dask_scheduler(scheduler=None, *, local_cluster: dict | None = None):
    """The ``scheduler=`` value to pass to ``dask.compute``, set up for one fit or study.

    The one resolver of ``scheduler`` in the package: EM and the studies pass their
    ``scheduler`` here, so the same value means the same place everywhere.

    Parameters
    ----------
    scheduler : None, str or dask.distributed.Client
        - None: dask's current default, that is the ``dask.distributed.Client`` active in
          the session if there is one (``Client()`` makes itself the default), else dask's
          threads. None never starts a cluster.
        - ``"threads"``, ``"synchronous"`` or ``"processes"``: that dask scheduler.
        - ``"local"``: a ``dask.distributed.LocalCluster`` started here and shut down when
          the context ends (by default ``processes=False``: worker threads in this process).
          The client is closed first, then each worker is given
          :data:`LOCAL_CLOSE_SECONDS` to exit on its own, so a worker slow to shut down is
          not killed (and no warning is logged); after an exception, dask's own timeouts.
        - an address such as ``"tcp://127.0.0.1:8786"``: a Client connected to that
          scheduler, closed when the context ends.
        - a ``dask.distributed.Client``: used as it is (not closed).
    local_cluster : dict, optional
        Keyword arguments for the ``"local"`` LocalCluster, replacing the defaults
        (``processes=False``, ``dashboard_address=":0"``); a study passes, say,
        ``{"n_workers": 2, "threads_per_worker": 1, "processes": True}``. Ignored otherwise.

    Yields
    ------
    None, str or Client
        What to pass as ``dask.compute(..., scheduler=...)``.

    Raises
    ------
    ValueError
        For any other value.
    """
    if scheduler is None or (isinstance(scheduler, str) and scheduler in SCHEDULERS[:3]):
        yield scheduler
        return
    if isinstance(scheduler, str):
        from distributed import Client, LocalCluster

        if scheduler == "local":
            settings = {"processes": False, "dashboard_address": ":0", **(local_cluster or {})}
            with LocalCluster(**settings) as cluster:
                client = Client(cluster, set_as_default=False)
                try:
                    if settings["processes"]:
                        client.run(_exit_quickly)
                    yield client
                except BaseException:
                    # Interrupted or failed: a worker may be stuck in a task; do not wait.
                    _close_local(client, cluster, timeout=None)
                    raise
                _close_local(client, cluster, timeout=LOCAL_CLOSE_SECONDS)
            return
        if "://" not in scheduler and ":" not in scheduler:
            raise ValueError(
                f"scheduler must be None, one of {', '.join(SCHEDULERS)}, a scheduler address "
                f"such as 'tcp://127.0.0.1:8786', or a dask.distributed Client; got "
                f"{scheduler!r}."
            )
        with Client(scheduler, set_as_default=False) as client:
            yield client
        return
    if type(scheduler).__name__ == "Client" and hasattr(scheduler, "get"):
        yield scheduler
        return
    raise ValueError(
        f"scheduler must be None, one of {', '.join(SCHEDULERS)}, a scheduler address or a "
        f"dask.distributed Client; got {scheduler!r}."
    )


#: Seconds a local cluster's worker gets to exit on its own at the end of a fit or study
#: before it is killed (dask's own default is 5, of which a worker process waits 4).
LOCAL_CLOSE_SECONDS = 60.0


def _close_local(client, cluster, timeout: float | None) -> None:
    """Close the client, then every worker of ``cluster`` with ``timeout`` (None: dask's)."""
    import asyncio

    client.close()
    workers = list(cluster.workers.values())
    if timeout is None or not workers:
        return  # the cluster's context exit closes them

    async def close_all():
        await asyncio.gather(*(worker.close(timeout=timeout) for worker in workers))

    cluster.sync(close_all)


def _exit_quickly() -> None:
    """In a worker process: skip the interpreter's last garbage collections at exit.

    A worker that compiled a PyMC model holds millions of PyTensor graph objects; the
    collections Python runs over them while it shuts down take seconds (longer than dask
    waits before killing the worker), and free nothing the operating system does not free
    when the process ends. Freezing the heap at exit makes them skip it.
    """
    import atexit
    import gc

    atexit.register(gc.freeze)


def _compute(*tasks, scheduler=None):
    import dask

    # BLAS held to one thread here so dask's threads do not each start BLAS threads.
    with single_threaded_blas():
        return dask.compute(*tasks, scheduler=scheduler)


# --- first pass: size, mean, variance, finiteness ---------------------------------------------


def _block_summary(block):
    """(rows, mean, scatter matrix about the mean, first non-finite row or -1) of a block."""
    block = np.asarray(block, dtype=float)
    finite = np.isfinite(block).all(axis=1)
    bad = -1 if finite.all() else int(np.argmin(finite))
    n = block.shape[0]
    mean = block.mean(axis=0)
    dev = block - mean
    return n, mean, dev.T @ dev, bad


def _merge_summary(a, b):
    # Chan, Golub & LeVeque's pairwise update: accurate without a second pass.
    na, ma, sa, bad_a = a
    nb, mb, sb, bad_b = b
    n = na + nb
    delta = mb - ma
    mean = ma + delta * (nb / n)
    scatter = sa + sb + np.outer(delta, delta) * (na * nb / n)
    bad = bad_a if bad_a >= 0 else (na + bad_b if bad_b >= 0 else -1)
    return n, mean, scatter, bad


def _chunk_summary(chunk, block_rows):
    parts = (
        _block_summary(chunk[s : s + block_rows]) for s in range(0, chunk.shape[0], block_rows)
    )
    return functools.reduce(_merge_summary, parts)


def data_summary(X, block_rows: int = BLOCK_ROWS, scheduler=None):
    r"""Row count, mean and scatter matrix in one blocked pass, with the finiteness check.

    Parameters
    ----------
    X : ndarray, memmap or dask array of shape (n, d)
    block_rows : int
    scheduler : see :func:`dask_scheduler` (dask arrays only)

    Returns
    -------
    n : int
    mean : ndarray of shape (d,)
    scatter : ndarray of shape (d, d)
        :math:`\sum_i (x_i - \bar x)(x_i - \bar x)^\top`.

    Raises
    ------
    ValueError
        If a value is NaN or infinite (naming the first such row).
    """
    if is_dask_array(X):
        from dask import delayed

        tasks = [delayed(_chunk_summary)(c, block_rows) for c in X.to_delayed()[:, 0]]
        parts = _compute(*tasks, scheduler=scheduler)
        n, mean, scatter, bad = functools.reduce(_merge_summary, parts)
    else:
        n, mean, scatter, bad = _chunk_summary(X, block_rows)
    if bad >= 0:
        raise ValueError(
            f"X has a NaN or infinite value in row {bad}; remove or impute such rows before "
            "fitting."
        )
    return n, mean, 0.5 * (scatter + scatter.T)


def data_moments(X, block_rows: int = BLOCK_ROWS, scheduler=None):
    """Per-feature mean and population variance (divided by n) in one blocked pass.

    Returns
    -------
    mean : ndarray of shape (d,)
    variance : ndarray of shape (d,)
    """
    n, mean, scatter = data_summary(X, block_rows, scheduler)
    return mean, np.diag(scatter) / n


# --- the E-step pass --------------------------------------------------------------------------


def _chunk_moments(chunk, plan, block_rows):
    # Inside a dask task: serial blocks (dask supplies the parallelism).
    chunk = np.asarray(chunk)
    parts = (
        Moments(*block_moments(chunk[s : s + block_rows], plan))
        for s in range(0, chunk.shape[0], block_rows)
    )
    return functools.reduce(add_moments, parts)


def moments_dask(X, plan, block_rows: int = BLOCK_ROWS, scheduler=None) -> Moments:
    """:func:`latentmix.em.kernels.moments_over_blocks` for a dask array."""
    from dask import delayed

    plan_ref = delayed(plan, traverse=False)
    tasks = [delayed(_chunk_moments)(c, plan_ref, block_rows) for c in X.to_delayed()[:, 0]]
    parts = _compute(*tasks, scheduler=scheduler)
    return functools.reduce(add_moments, parts)


def e_step_stats(
    X,
    params: MixtureParams,
    center,
    *,
    block_rows: int = BLOCK_ROWS,
    scheduler=None,
    prec_chol=None,
):
    """The E-step of the fit: sufficient statistics and log-likelihood over all rows of X.

    The one entry point for "E-step statistics over data": the fused kernel of
    :mod:`latentmix.em.kernels` over blocks of ``block_rows`` rows (threads for an ndarray
    or memmap, one dask task per chunk for a dask array), the block results added in order.

    Parameters
    ----------
    X : ndarray, NumPy memmap or dask array of shape (n, d)
    params : MixtureParams
    center : ndarray of shape (d,)
        The centring point of the statistics (the data mean).
    block_rows : int
        Rows per block (one block, no loop, when ``n <= block_rows``).
    scheduler : None, str or dask.distributed.Client
        A resolved :func:`dask_scheduler` value (dask arrays only).
    prec_chol : ndarray, optional
        :func:`~latentmix.em.estep.precision_cholesky` of ``params.covariances``.

    Returns
    -------
    stats : SufficientStats
    log_likelihood : float
    """
    plan = make_plan(params, center, prec_chol)
    if is_dask_array(X):
        total = moments_dask(X, plan, block_rows, scheduler)
    else:
        total = moments_over_blocks(X, plan, block_rows)
    return moments_to_stats(total, plan)


# --- starting points --------------------------------------------------------------------------


def init_rows(X, rng: np.random.Generator, max_rows: int = INIT_SAMPLE_ROWS, scheduler=None):
    """The rows starting points are drawn from, as an in-memory float array.

    All rows if there are at most ``max_rows``, else ``max_rows`` rows drawn without
    replacement (in their original order). The draw depends only on ``n`` and ``rng``, so an
    ndarray, a memmap and a dask array of the same data give the same rows.

    Returns
    -------
    ndarray of shape (min(n, max_rows), d)
    """
    n = X.shape[0]
    if n <= max_rows:
        rows = X
    else:
        index = np.sort(rng.choice(n, size=max_rows, replace=False))
        rows = X[index]
    if is_dask_array(rows):
        (rows,) = _compute(rows, scheduler=scheduler)
    return np.asarray(rows, dtype=float)


def default_prior(X, n_components: int, covariance_type: str, scheduler=None):
    """``ConjugatePrior.default`` for a memmap or dask array, from one blocked pass.

    The default prior depends on the data only through their mean and sample covariance,
    gathered here block by block.

    Returns
    -------
    ConjugatePrior
    """
    from latentmix.priors import ConjugatePrior

    with dask_scheduler(scheduler) as where:
        n, mean, scatter = data_summary(X, scheduler=where)
    cov = scatter / max(n - 1, 1)
    return ConjugatePrior.from_moments(mean, cov, n_components, covariance_type)


def _load_rows(path, start, stop):
    return np.load(path, mmap_mode="r")[start:stop]


def dask_from_npy(path, chunk_rows: int = 1_000_000):
    """A dask array of a .npy file's rows that reads each chunk from disk when needed.

    ``dask.array.from_array`` copies a NumPy array, a memmap included, into memory when it is
    called; this builds the array from per-chunk reads of the memory-mapped file instead, so
    the file is never held whole.

    Parameters
    ----------
    path : str or path-like
        A 2-D .npy file.
    chunk_rows : int
        Rows per dask chunk.

    Returns
    -------
    dask.array.Array of shape (n, d)
    """
    import dask
    import dask.array as da

    path = str(path)
    header = np.load(path, mmap_mode="r")
    n = header.shape[0]
    parts = [
        da.from_delayed(
            dask.delayed(_load_rows)(path, start, min(start + chunk_rows, n)),
            shape=(min(start + chunk_rows, n) - start, *header.shape[1:]),
            dtype=header.dtype,
        )
        for start in range(0, n, chunk_rows)
    ]
    return da.concatenate(parts, axis=0)
