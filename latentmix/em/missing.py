r"""EM with missing cells: missingness patterns, the marginal E-step, imputation.

A NaN cell is *missing*; the cells are missing at random (MAR: whether a cell is missing may
depend on the observed cells, not on the missing value), so the likelihood of the
parameters is the *observed-data* likelihood, the marginal density of each row's observed
coordinates:

.. math::

    \log L(\theta) = \sum_i w_i \log \sum_k \pi_k
        \mathcal N\bigl(x_{i,o_i} \mid \mu_{k,o_i}, \Sigma_{k,o_io_i}\bigr),

where :math:`o_i` are the observed coordinates of row :math:`i`, :math:`m_i` the missing
ones, and :math:`w_i` its observation weight (1 without weights). EM treats the missing
cells as latent together with the component (Ghahramani & Jordan 1994).

**Patterns.** Rows are grouped by which cells are observed (:func:`missingness_patterns`);
everything below depends on a row only through its pattern :math:`p = (o, m)` and its
observed values, so each factorisation is done once per pattern and component, never per
row. With data missing by column groups the patterns are few compared with the rows.

**E-step.** For pattern :math:`p`, the marginal mixture has means :math:`\mu_{k,o}` and
covariances :math:`\Sigma_{k,oo}`; its Cholesky factors give the responsibilities
:math:`r_{ik} \propto \pi_k \mathcal N(x_{i,o} \mid \mu_{k,o}, \Sigma_{k,oo})` and the row's
log-likelihood, with the fused blocked kernel of :mod:`latentmix.em.kernels` run on the
observed columns of the pattern's rows. Given the component, the missing cells are normal:

.. math::

    x_{i,m} \mid x_{i,o}, z_i = k \sim \mathcal N\bigl(\hat x_{ik,m}, C_{k}^{(p)}\bigr), \quad
    \hat x_{ik,m} = \mu_{k,m} + B_k (x_{i,o} - \mu_{k,o}), \quad
    C_k^{(p)} = \Sigma_{k,mm} - B_k \Sigma_{k,om},

with :math:`B_k = \Sigma_{k,mo} \Sigma_{k,oo}^{-1}` computed by two triangular solves with
the Cholesky factor :math:`L` of :math:`\Sigma_{k,oo}` (:math:`W = L^{-1}\Sigma_{k,om}`,
:math:`B_k^\top = L^{-\top} W`, :math:`C_k = \Sigma_{k,mm} - W^\top W`).

**M-step statistics.** The expected complete-data log-likelihood needs the expectations, under
the E-step, of the sufficient statistics of :mod:`latentmix.em.mstep` about the centre
:math:`c`:

.. math::

    N_k = \sum_i w_i r_{ik}, \qquad
    s_k = \sum_i w_i r_{ik} (\hat x_{ik} - c), \qquad
    T_k = \sum_i w_i r_{ik} \bigl[(\hat x_{ik} - c)(\hat x_{ik} - c)^\top
        + \tilde C_k^{(p_i)}\bigr],

where :math:`\hat x_{ik}` is row :math:`i` with its missing cells replaced by
:math:`\hat x_{ik,m}` and :math:`\tilde C_k^{(p)}` is :math:`C_k^{(p)}` in the
:math:`(m, m)` block and zero elsewhere. The M-step of :func:`latentmix.em.mstep.m_step`,
MLE or MAP, applied to these statistics maximises the expected complete-data log-likelihood
(or log-posterior) for every covariance type: its derivation uses the data only through
:math:`N_k, s_k, T_k` (``tied`` through :math:`\sum_k T_k`, the diagonal types through
diagonals or traces). So the observed-data objective never falls.

No per-row work beyond the complete-data kernel is needed. The completed row is affine in
the observed one: with :math:`z_i = (x_{i,o} - c_o, 1)`,
:math:`\hat x_{ik} - c = A_k z_i`, where :math:`A_k` has rows :math:`(I, 0)` for the
observed coordinates and :math:`(B_k, a_k)`, :math:`a_k = \mu_{k,m} - c_m - B_k(\mu_{k,o} -
c_o)`, for the missing ones. Hence

.. math::

    \sum_{i \in p} w_i r_{ik} (\hat x_{ik} - c)(\hat x_{ik} - c)^\top
        = A_k M_k A_k^\top, \qquad
    M_k = \sum_{i \in p} w_i r_{ik} z_i z_i^\top
        = \begin{pmatrix} T_{k,o} & s_{k,o} \ s_{k,o}^\top & N_k \end{pmatrix},

and :math:`M_k` is exactly what the complete-data kernel returns for the observed columns
(per pattern, :math:`O(K d^3)` work after it). For the diagonal types the conditional
moments are simpler (:math:`B_k = 0`, :math:`C_k^{(p)} = \Sigma_{k,mm}`), and the kernel of
the diagonal type on the observed columns gives all that is needed.

The complete pattern (no cell missing) runs the covariance type's own kernel, so complete
data through this path give the complete-data fit to round-off.

**Imputation.** Under the fitted mixture the conditional distribution of a row's missing
cells is the mixture :math:`\sum_k r_{ik} \mathcal N(\hat x_{ik,m}, C_k^{(p)})`; its mean
:math:`\sum_k r_{ik} \hat x_{ik,m}` is the imputation and its variance
:math:`\sum_k r_{ik} [\operatorname{diag} C_k^{(p)} + \hat x_{ik,m}^2] - (\sum_k r_{ik}
\hat x_{ik,m})^2` gives the conditional sd (:func:`impute`). It carries no parameter
uncertainty; the posterior predictive of the PyMC model does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.em import kernels
from latentmix.em.estep import e_step as complete_e_step
from latentmix.em.mstep import SufficientStats
from latentmix.params import MixtureParams, full_covariances, variances
from latentmix.threads import n_threads as available_threads
from latentmix.threads import single_threaded_blas

__all__ = [
    "ObservedData",
    "conditional_moments",
    "default_prior",
    "e_step",
    "e_step_stats",
    "impute",
    "marginal_params",
    "mean_and_covariance",
    "missingness_patterns",
    "observed_data",
]

#: The kernel run on the observed columns of a pattern with missing cells: the general
#: covariance types need the cross moments of the observed columns, the diagonal types only
#: their squares or squared norms.
_BASE_TYPE = {
    "full": "full",
    "tied": "full",
    "diag": "diag",
    "tied_diag": "diag",
    "spherical": "spherical",
    "tied_spherical": "spherical",
}


def missingness_patterns(X):
    """Group the rows of ``X`` by which cells are observed.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Data; NaN marks a missing cell.

    Returns
    -------
    patterns : ndarray of bool, shape (P, d)
        One row per distinct pattern, True where the coordinate is observed. Patterns are in
        lexicographic order of the mask with observed-first, so the complete pattern (all
        True), when present, is ``patterns[0]``.
    pattern_index : ndarray of int, shape (n,)
        ``patterns[pattern_index[i]]`` is the observed mask of row ``i``.

    Notes
    -----
    A row with every cell missing gets the all-False pattern; the callers refuse such rows
    (they carry no information about the mixture), this function only groups.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d); got shape {X.shape}")
    observed = ~np.isnan(X)
    if X.shape[0] == 0:
        return np.ones((0, X.shape[1]), dtype=bool), np.zeros(0, dtype=np.intp)
    d = X.shape[1]
    if d > 62:
        # Unique on the negated mask so that observed (False in ~mask) sorts first.
        patterns, pattern_index = np.unique(~observed, axis=0, return_inverse=True)
        return ~patterns, pattern_index.reshape(-1).astype(np.intp)
    # One integer per row, first column the most significant bit of the negated mask: the
    # integers sort as the rows do, and a 1-D unique is far faster than a row-wise one.
    bits = np.left_shift(np.int64(1), np.arange(d - 1, -1, -1, dtype=np.int64))
    codes = (~observed).astype(np.int64) @ bits
    unique, pattern_index = np.unique(codes, return_inverse=True)
    patterns = (unique[:, None] & bits[None, :]) == 0
    return patterns, pattern_index.reshape(-1).astype(np.intp)


# --- the data, grouped once ---------------------------------------------------------------------


class ObservedData(NamedTuple):
    """Data with missing cells (or weights), grouped by pattern once for every E-step.

    Build it with :func:`observed_data`; :mod:`latentmix.em.fit` takes it wherever it takes
    an array.

    Attributes
    ----------
    X : ndarray of shape (n, d)
        The data, NaN for a missing cell.
    patterns : ndarray of bool, shape (P, d)
        True where observed (:func:`missingness_patterns`).
    rows : list of P ndarrays of int
        The rows of each pattern, in their original order.
    values : list of P ndarrays of shape (n_p, d_p)
        The observed columns of those rows, C-contiguous (the data itself when there is one
        complete pattern).
    weights : list of P ndarrays of shape (n_p,), or None
        The rows' observation weights; None for unit weights.
    """

    X: np.ndarray
    patterns: np.ndarray
    rows: list
    values: list
    weights: list | None

    @property
    def shape(self):
        """(n, d) of the data."""
        return self.X.shape

    @property
    def n_missing(self) -> int:
        """Number of missing cells."""
        return int(
            sum(len(r) * int((~p).sum()) for r, p in zip(self.rows, self.patterns, strict=True))
        )

    @property
    def sample_weight(self) -> np.ndarray:
        """The weight of every row, shape (n,) (ones without weights)."""
        out = np.ones(self.X.shape[0])
        if self.weights is not None:
            for rows, w in zip(self.rows, self.weights, strict=True):
                out[rows] = w
        return out


def observed_data(X, sample_weight=None) -> ObservedData:
    """Group validated data by missingness pattern, with optional observation weights.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Float data; NaN marks a missing cell, every other value finite (validated by the
        caller). A NumPy memmap without NaN is used as it is, never copied.
    sample_weight : ndarray of shape (n,), optional
        Validated weights (:func:`latentmix.validation.check_sample_weight`).

    Returns
    -------
    ObservedData

    Raises
    ------
    ValueError
        If a row has every cell missing.
    """
    if isinstance(X, np.memmap) and not np.isnan(X).any():
        patterns = np.ones((1, X.shape[1]), dtype=bool)
        index = None
    else:
        X = np.asarray(X, dtype=float)
        patterns, index = missingness_patterns(X)
    if not patterns[-1].any():
        row = int(np.flatnonzero(index == patterns.shape[0] - 1)[0])
        count = int((index == patterns.shape[0] - 1).sum())
        raise ValueError(
            f"row {row} of X has every cell missing ({count} such row(s)); such rows carry "
            "no information about the mixture: drop them before fitting."
        )
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if patterns.shape[0] == 1:
        rows = [np.arange(X.shape[0])]
        values = [X]
    else:
        order = np.argsort(index, kind="stable")  # rows of each pattern, in their order
        rows = np.split(order, np.cumsum(np.bincount(index, minlength=len(patterns)))[:-1])
        values = [np.ascontiguousarray(X[r][:, o]) for r, o in zip(rows, patterns, strict=True)]
    weights = None if w is None else [w[r] for r in rows]
    return ObservedData(X, patterns, rows, values, weights)


def data_moments(data: ObservedData):
    """Per-feature (weighted) mean and variance of the observed cells.

    The centre of the statistics and the units of the collapse test of
    :mod:`latentmix.em.fit`; with complete data, the data's mean and variance (divisor n).

    Returns
    -------
    mean : ndarray of shape (d,)
    variance : ndarray of shape (d,)
    """
    X = np.asarray(data.X, dtype=float)
    observed = ~np.isnan(X)
    w = data.sample_weight[:, None] * observed
    total = w.sum(axis=0)
    filled = np.where(observed, X, 0.0)
    mean = (w * filled).sum(axis=0) / np.maximum(total, np.finfo(float).tiny)
    dev = np.where(observed, X - mean, 0.0)
    variance = (w * dev**2).sum(axis=0) / np.maximum(total, np.finfo(float).tiny)
    return mean, variance


def mean_imputed(data: ObservedData, mean=None) -> np.ndarray:
    """The data with each missing cell replaced by its column's mean (for starting points)."""
    X = np.asarray(data.X, dtype=float)
    if mean is None:
        mean = data_moments(data)[0]
    return np.where(np.isnan(X), mean, X)


# --- marginal and conditional distributions -------------------------------------------------


def marginal_params(params: MixtureParams, observed) -> MixtureParams:
    """The mixture of the observed coordinates, in the covariance type the kernels run.

    Parameters
    ----------
    params : MixtureParams
    observed : ndarray of bool, shape (d,)

    Returns
    -------
    MixtureParams
        Means (K, d_o); covariances (K, d_o, d_o) ``full`` for the ``full`` and ``tied``
        types, (K, d_o) ``diag`` for ``diag`` and ``tied_diag``, (K,) ``spherical`` for
        ``spherical`` and ``tied_spherical``.
    """
    covariance_type = params.covariance_type
    base = _BASE_TYPE[covariance_type]
    K, d = params.means.shape
    o = np.asarray(observed, dtype=bool)
    if base == "full":
        cov = full_covariances(params.covariances, covariance_type, K, d)[:, o][:, :, o]
    elif base == "diag":
        cov = variances(params.covariances, covariance_type, K, d)[:, o]
    else:
        cov = variances(params.covariances, covariance_type, K, d)[:, 0]
    return MixtureParams(params.weights, params.means[:, o], np.ascontiguousarray(cov), base)


class Conditional(NamedTuple):
    r"""The missing cells of one pattern given the observed ones, per component.

    Attributes
    ----------
    coef : ndarray of shape (K, d_m, d_o)
        :math:`B_k = \Sigma_{k,mo} \Sigma_{k,oo}^{-1}` (zero for the diagonal types).
    covariance : ndarray of shape (K, d_m, d_m)
        :math:`C_k = \Sigma_{k,mm} - B_k \Sigma_{k,om}`.
    """

    coef: np.ndarray
    covariance: np.ndarray


def conditional_moments(params: MixtureParams, observed) -> Conditional:
    """Regression coefficients and covariance of the missing coordinates on the observed.

    Parameters
    ----------
    params : MixtureParams
    observed : ndarray of bool, shape (d,)

    Returns
    -------
    Conditional
    """
    K, d = params.means.shape
    o = np.asarray(observed, dtype=bool)
    m = ~o
    cov = full_covariances(params.covariances, params.covariance_type, K, d)
    s_oo = cov[:, o][:, :, o]
    s_om = cov[:, o][:, :, m]
    s_mm = cov[:, m][:, :, m]
    L = np.linalg.cholesky(s_oo)
    W = np.linalg.solve(L, s_om)  # L^{-1} Sigma_om, (K, d_o, d_m)
    coef = np.linalg.solve(np.swapaxes(L, 1, 2), W).transpose(0, 2, 1)
    cond = s_mm - np.swapaxes(W, 1, 2) @ W
    return Conditional(coef, 0.5 * (cond + np.swapaxes(cond, 1, 2)))


# --- the E-step of the fit ----------------------------------------------------------------------


def _expand_full(stats_o, params, observed, center):
    """Full (K, d, d) T_k and (K, d) s_k from the observed columns' moments (module doc)."""
    K, d = params.means.shape
    o = observed
    m = ~o
    d_o = int(o.sum())
    cond = conditional_moments(params, o)
    nk = stats_o.nk
    # A_k: (K, d, d_o + 1); M_k: (K, d_o + 1, d_o + 1).
    A = np.zeros((K, d, d_o + 1))
    A[:, o, :d_o] = np.eye(d_o)
    a = (params.means[:, m] - center[m]) - np.einsum(
        "kmo,ko->km", cond.coef, params.means[:, o] - center[o]
    )
    A[:, m, :d_o] = cond.coef
    A[:, m, d_o] = a
    M = np.empty((K, d_o + 1, d_o + 1))
    M[:, :d_o, :d_o] = stats_o.sum_xx
    M[:, :d_o, d_o] = stats_o.sum_x
    M[:, d_o, :d_o] = stats_o.sum_x
    M[:, d_o, d_o] = nk
    T = A @ M @ np.swapaxes(A, 1, 2)
    T[:, m[:, None] & m[None, :]] += (nk[:, None, None] * cond.covariance).reshape(K, -1)
    s = np.einsum("kdj,kj->kd", A, M[:, :, d_o])
    return nk, s, 0.5 * (T + np.swapaxes(T, 1, 2))


def _expand_diagonal(stats_o, params, observed, center):
    """Diagonals (K, d) of T_k and (K, d) s_k for the diagonal types (B_k = 0)."""
    K, d = params.means.shape
    o = observed
    m = ~o
    nk = stats_o.nk
    var = variances(params.covariances, params.covariance_type, K, d)
    mean_m = params.means[:, m] - center[m]
    s = np.empty((K, d))
    s[:, o] = stats_o.sum_x
    s[:, m] = nk[:, None] * mean_m
    diagonal = np.empty((K, d))
    if stats_o.sum_xx.ndim == 2:  # diag kernel: the squares of the observed columns
        diagonal[:, o] = stats_o.sum_xx
        diagonal[:, m] = nk[:, None] * (mean_m**2 + var[:, m])
        return nk, s, diagonal
    # spherical kernel: only the squared norm of the observed columns; return the trace.
    trace = stats_o.sum_xx + (nk[:, None] * (mean_m**2 + var[:, m])).sum(axis=1)
    return nk, s, trace


def _to_layout(sum_xx, covariance_type):
    """Expected second moments in the layout of the type's SufficientStats."""
    if covariance_type in ("full", "diag", "spherical"):
        return sum_xx
    if covariance_type == "tied":
        return sum_xx.sum(axis=0)
    return sum_xx.sum(axis=0)  # tied_diag: (d,), tied_spherical: a 0-d array


def _pattern_plan(params, observed, center):
    """The kernel's plan for one pattern: the model's own, or its observed marginal's."""
    if observed.all():
        return kernels.make_plan(params, center)
    return kernels.make_plan(marginal_params(params, observed), center[observed])


def _pattern_stats(total, plan, params, observed, center):
    """Native SufficientStats and log-likelihood of one pattern from its summed moments."""
    stats_o, log_lik = kernels.moments_to_stats(total, plan)
    if observed.all():
        return stats_o, log_lik
    if _BASE_TYPE[params.covariance_type] == "full":
        nk, s, T = _expand_full(stats_o, params, observed, center)
    else:
        nk, s, T = _expand_diagonal(stats_o, params, observed, center)
    covariance_type = params.covariance_type
    sum_xx = _to_layout(T, covariance_type)
    return SufficientStats(nk, s, sum_xx, center, covariance_type), log_lik


def e_step_stats(
    data: ObservedData,
    params: MixtureParams,
    center,
    *,
    block_rows: int = kernels.BLOCK_ROWS,
    n_threads: int | None = None,
):
    """The E-step of the fit on data with missing cells: expected statistics, log-likelihood.

    Every pattern's rows are cut into blocks of ``block_rows``; the blocks of all patterns
    are spread over ``n_threads`` threads (default: the usable cores) with BLAS held to one
    thread, as in :func:`latentmix.em.kernels.moments_over_blocks`, so many small patterns
    keep the cores busy. Block results are added per pattern in block order, so the result
    does not depend on the threads.

    Parameters
    ----------
    data : ObservedData
    params : MixtureParams
    center : ndarray of shape (d,)
        The centring point of the statistics.
    block_rows : int
        Rows per block of the kernel (within each pattern).
    n_threads : int, optional

    Returns
    -------
    stats : SufficientStats
        The expected complete-data statistics (module docstring), summed over patterns.
    log_likelihood : float
        The observed-data log-likelihood (weighted).
    """
    center = np.asarray(center, dtype=float)
    plans = [_pattern_plan(params, observed, center) for observed in data.patterns]
    tasks = [
        (p, start)
        for p, values in enumerate(data.values)
        for start in range(0, values.shape[0], block_rows)
    ]

    def one(task):
        p, start = task
        stop = start + block_rows
        w = None if data.weights is None else data.weights[p][start:stop]
        return kernels.Moments(*kernels.block_moments(data.values[p][start:stop], plans[p], w))

    workers = available_threads() if n_threads is None else max(int(n_threads), 1)
    with single_threaded_blas():
        if workers == 1 or len(tasks) == 1:
            parts = [one(t) for t in tasks]
        else:
            parts = list(kernels._pool(workers).map(one, tasks))
    totals = {}
    for (p, _), part in zip(tasks, parts, strict=True):
        totals[p] = part if p not in totals else kernels.add_moments(totals[p], part)
    total = None
    log_lik = 0.0
    for p, observed in enumerate(data.patterns):
        stats, ll = _pattern_stats(totals[p], plans[p], params, observed, center)
        log_lik += ll
        total = (
            stats
            if total is None
            else total._replace(
                nk=total.nk + stats.nk,
                sum_x=total.sum_x + stats.sum_x,
                sum_xx=total.sum_xx + stats.sum_xx,
            )
        )
    return total, float(log_lik)


# --- row by row: predict, score, impute --------------------------------------------------------


def _groups(X):
    X = np.asarray(X, dtype=float)
    patterns, index = missingness_patterns(X)
    for p, observed in enumerate(patterns):
        rows = np.flatnonzero(index == p)
        if not observed.any():
            raise ValueError(
                f"row {int(rows[0])} of X has every cell missing ({rows.size} such row(s)); "
                "a row needs at least one observed cell."
            )
        yield rows, observed, X[np.ix_(rows, observed)]


def e_step(X, params: MixtureParams):
    """Responsibilities and log-likelihood of every row from its observed cells.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        NaN marks a missing cell; rows need at least one observed cell.
    params : MixtureParams

    Returns
    -------
    log_resp : ndarray of shape (n, K)
    sample_log_lik : ndarray of shape (n,)
        The log marginal density of each row's observed coordinates.
    """
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    K = params.n_components
    log_resp = np.empty((n, K))
    sample_log_lik = np.empty(n)
    for rows, observed, values in _groups(X):
        if observed.all():
            lr, ll = complete_e_step(values, params)
        else:
            lr, ll = complete_e_step(values, marginal_params(params, observed))
        log_resp[rows] = lr
        sample_log_lik[rows] = ll
    return log_resp, sample_log_lik


def impute(X, params: MixtureParams, return_std: bool = False):
    r"""Conditional expectations of the missing cells under a mixture (and their sd).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        NaN marks a missing cell; rows need at least one observed cell.
    params : MixtureParams
    return_std : bool
        Also return the conditional standard deviation of every cell.

    Returns
    -------
    X_imputed : ndarray of shape (n, d)
        ``X`` with each missing cell replaced by :math:`E[x_{ij} \mid x_{i,o}]`.
    std : ndarray of shape (n, d)
        With ``return_std``: the conditional sd of each missing cell (0 for observed cells).
    """
    X = np.asarray(X, dtype=float)
    out = X.copy()
    std = np.zeros_like(X)
    for rows, observed, values in _groups(X):
        if observed.all():
            continue
        m = ~observed
        resp = np.exp(complete_e_step(values, marginal_params(params, observed))[0])
        cond = conditional_moments(params, observed)
        # Conditional means per component: (n_p, K, d_m).
        xhat = params.means[None, :, m] + np.einsum(
            "kmo,nko->nkm", cond.coef, values[:, None, :] - params.means[None, :, observed]
        )
        mean = np.einsum("nk,nkm->nm", resp, xhat)
        out[np.ix_(rows, m)] = mean
        if return_std:
            second = np.einsum(
                "nk,nkm->nm", resp, xhat**2 + np.diagonal(cond.covariance, axis1=1, axis2=2)
            )
            std[np.ix_(rows, m)] = np.sqrt(np.maximum(second - mean**2, 0.0))
    return (out, std) if return_std else out


# --- the default prior on incomplete or weighted data ----------------------------------------


def mean_and_covariance(X, sample_weight=None, *, tol: float = 1e-10, max_iter: int = 1000):
    r"""Mean and sample covariance of data with missing cells and/or observation weights.

    What ``prior="default"`` sees (:func:`default_prior`), for EM and the PyMC model alike.

    - Complete data: the weighted mean :math:`m = \sum_i w_i x_i / W` and
      :math:`\sum_i w_i (x_i - m)(x_i - m)^\top / (W - 1)`, :math:`W = \sum_i w_i`: without
      weights :func:`numpy.cov`; with integer weights the data with rows repeated.
    - With missing cells: the maximum-likelihood mean and covariance of one Gaussian from the
      observed cells (EM with one component), the covariance times :math:`W / (W - 1)`.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    mean : ndarray of shape (d,)
    covariance : ndarray of shape (d, d)
    """
    from latentmix.em.mstep import m_step

    X = np.asarray(X, dtype=float)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    W = w.sum()
    if not np.isnan(X).any():
        if sample_weight is None:
            return X.mean(axis=0), np.atleast_2d(np.cov(X, rowvar=False))
        mean = w @ X / W
        dev = X - mean
        cov = (w[:, None] * dev).T @ dev / (W - 1)
        return mean, 0.5 * (cov + cov.T)
    data = observed_data(X, sample_weight)
    mean, var = data_moments(data)
    params = MixtureParams(np.ones(1), mean[None], np.diag(var)[None], "full")
    previous = -np.inf
    for _ in range(max_iter):
        stats, log_lik = e_step_stats(data, params, mean)
        if abs(log_lik - previous) <= tol * abs(log_lik):
            break
        previous = log_lik
        params = m_step(stats)
    return params.means[0], params.covariances[0] * W / (W - 1)


def default_prior(X, n_components: int, covariance_type: str, sample_weight=None):
    """``ConjugatePrior.default`` for data with missing cells and/or weights.

    :meth:`latentmix.priors.ConjugatePrior.from_moments` of :func:`mean_and_covariance`; on
    complete, unweighted data the same prior as ``ConjugatePrior.default(X, ...)``.

    Returns
    -------
    ConjugatePrior
    """
    from latentmix.priors import ConjugatePrior

    mean, cov = mean_and_covariance(X, sample_weight)
    return ConjugatePrior.from_moments(
        mean, cov, n_components, covariance_type, n_samples=np.asarray(X).shape[0]
    )


# --- curvature of the observed-data objective ----------------------------------------------------


def objective(X, params: MixtureParams, prior=None, sample_weight=None) -> float:
    """The observed-data objective: weighted log-likelihood (plus the log prior for a MAP).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        NaN marks a missing cell.
    params : MixtureParams
    prior : ConjugatePrior, optional
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    float
    """
    return _objective(list(_groups(X)), params, prior, sample_weight)


def _objective(groups, params, prior, sample_weight) -> float:
    from latentmix.priors import log_prior

    total = 0.0
    for rows, observed, values in groups:
        marginal = params if observed.all() else marginal_params(params, observed)
        sample_ll = complete_e_step(values, marginal)[1]
        total += sample_ll.sum() if sample_weight is None else sample_ll @ sample_weight[rows]
    return float(total if prior is None else total + log_prior(params, prior))


def observed_information(X, params: MixtureParams, prior=None, sample_weight=None, step=1e-4):
    r"""Observed information in theta of the observed-data objective, by central differences.

    Minus the Hessian of :func:`objective` in the unconstrained coordinates of
    :mod:`latentmix.em.parameterisation`, for data with missing cells and/or weights (the
    exact Hessian of :mod:`latentmix.em.information` is for complete, unweighted rows). Each
    entry is a four-point central difference with steps :math:`h_j = \text{step} \cdot
    \max(1, |\theta_j|)`: truncation error :math:`O(h^2)`, round-off
    :math:`O(\epsilon |\ell| / h^2)`, both about 1e-8 relative at the default step for the
    objectives here. It costs :math:`2p^2` evaluations of the objective (p parameters).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
    prior : ConjugatePrior, optional
    sample_weight : ndarray of shape (n,), optional
    step : float

    Returns
    -------
    ndarray of shape (p, p)
    """
    from latentmix.em.parameterisation import from_unconstrained, to_unconstrained
    from latentmix.threads import single_threaded_blas

    K, d, covariance_type = params.n_components, params.n_features, params.covariance_type
    X = np.asarray(X, dtype=float)
    theta = to_unconstrained(params)
    h = step * np.maximum(1.0, np.abs(theta))

    groups = list(_groups(X))
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)

    def f(t):
        return _objective(groups, from_unconstrained(t, K, d, covariance_type), prior, w)

    # Hundreds of tiny factorisations: BLAS threads would only wait on each other.
    with single_threaded_blas():
        return -_central_hessian(f, theta, h)


def _central_hessian(f, theta, h):
    p = theta.size
    f0 = f(theta)
    E = np.diag(h)
    plus = np.array([f(theta + E[i]) for i in range(p)])
    minus = np.array([f(theta - E[i]) for i in range(p)])
    H = np.empty((p, p))
    H[np.diag_indices(p)] = (plus - 2 * f0 + minus) / h**2
    for i in range(p):
        for j in range(i):
            pp = f(theta + E[i] + E[j])
            pm = f(theta + E[i] - E[j])
            mp = f(theta - E[i] + E[j])
            mm = f(theta - E[i] - E[j])
            H[i, j] = H[j, i] = (pp - pm - mp + mm) / (4 * h[i] * h[j])
    return H
