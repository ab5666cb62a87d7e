r"""Log predictive densities: plug-in MLE and MAP against the posterior predictive.

In sample, the plug-in log-likelihood for MLE and MAP and the log pointwise predictive
density (lppd) for the posterior; out of sample, -AIC/2 for MLE and MAP and PSIS-LOO for the
posterior; on held-out data, the same formulas as in sample.

Every total is a sum of per-point terms, so two estimates are compared point by point, as
``arviz.compare`` does: the standard error of a difference comes from the spread of the
pointwise differences (:func:`paired_se`), which is far smaller than the standard error of
either total when the two estimates score the same points alike.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.comparison.draws import draw_log_likelihood, observed_e_step
from latentmix.comparison.psis import logsumexp, psis_loo
from latentmix.comparison.results import PairedDifference, PredictiveComparison, PredictiveRow
from latentmix.params import n_parameters

#: Pareto k above which PSIS-LOO is unreliable at a point (Vehtari, Gelman & Gabry 2017);
#: the one threshold the comparison, the report and the studies use.
PARETO_K_MAX = 0.7

#: Above this many bytes of pointwise log-likelihood (observations x draws, float64) the
#: comparison never holds it whole: PSIS-LOO runs over blocks of rows (:func:`loo_by_blocks`).
IN_MEMORY_BYTES = 512 * 2**20
#: Float64 values of log-likelihood per block of rows in :func:`loo_by_blocks`.
_BLOCK_VALUES = 2**23


class PointwiseLoo(NamedTuple):
    """PSIS-LOO, point by point.

    Attributes
    ----------
    loo_i : ndarray of shape (n,)
        Leave-one-out log predictive density of each point.
    pareto_k : ndarray of shape (n,)
        The Pareto shape estimate of each point's importance weights.
    lppd_i : ndarray of shape (n,)
        In-sample log predictive density of each point (:func:`pointwise_lppd`).
    """

    loo_i: np.ndarray
    pareto_k: np.ndarray
    lppd_i: np.ndarray

    @property
    def elpd(self) -> float:
        """The PSIS-LOO estimate of the expected log predictive density (the sum)."""
        return float(self.loo_i.sum())

    @property
    def se(self) -> float:
        r"""Its standard error, :math:`\sqrt{n \operatorname{var}(\mathrm{loo}_i)}` (ArviZ's)."""
        return float(np.sqrt(self.loo_i.size * np.var(self.loo_i)))

    @property
    def p_loo(self) -> float:
        """The effective number of parameters: lppd minus elpd."""
        return float(self.lppd_i.sum()) - self.elpd


def loo_in_memory(idata) -> PointwiseLoo:
    """``arviz.loo``'s PSIS-LOO of ``idata`` (with a ``log_likelihood`` group ``x``).

    Computed by :func:`latentmix.comparison.psis.psis_loo` (ArviZ's smoothing, 7x faster)
    with ArviZ's relative efficiency.
    """
    pointwise = idata.log_likelihood["x"].transpose("chain", "draw", ...).values
    flat = pointwise.reshape(-1, int(np.prod(pointwise.shape[2:])))
    return PointwiseLoo(*psis_loo(flat.T, relative_efficiency(idata.posterior)))


def relative_efficiency(posterior) -> float:
    """ArviZ's ``reff`` for PSIS: the mean bulk ESS of every posterior scalar over the draws.

    Parameters
    ----------
    posterior : xarray.Dataset
        With ``chain`` and ``draw`` dims.
    """
    import arviz as az

    n_samples = posterior.sizes["chain"] * posterior.sizes["draw"]
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess = az.ess(posterior, method="mean")
    return float(np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / n_samples)


def loo_by_blocks(X, draws, reff: float, *, membership: bool = False, block_values=_BLOCK_VALUES):
    """PSIS-LOO over blocks of rows, never holding the whole log-likelihood.

    Each point's importance weights depend on its own log-likelihood only, so PSIS runs
    block by block, as ``arviz.loo`` does on the whole (same ``reff``, same smoothing:
    :func:`latentmix.comparison.psis.psis_loo`).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    draws : MixtureParams
        Posterior draws leading with (chain, draw).
    reff : float
        :func:`relative_efficiency` of the posterior.
    membership : bool
        Also return the mean and sd over draws of the membership probabilities.
    block_values : int
        Log-likelihood values per block (rows x draws).

    Returns
    -------
    loo : PointwiseLoo
    membership_mean, membership_sd : ndarray of shape (n, K)
        Only with ``membership``.
    """
    parts = []
    for rows in _row_blocks(X, draws, block_values):
        block = draw_log_likelihood(rows, draws, return_membership=membership, rows_first=True)
        flat = block[0] if membership else block  # (rows, draws), draws in (chain, draw) order
        parts.append((*psis_loo(flat, reff), *(block[1:] if membership else ())))
    loo = PointwiseLoo(*(np.concatenate([p[j] for p in parts]) for j in range(3)))
    if not membership:
        return loo
    return loo, np.concatenate([p[3] for p in parts]), np.concatenate([p[4] for p in parts])


def held_out_rows(loo: PointwiseLoo, rows) -> PointwiseLoo:
    """PSIS-LOO over every row for a posterior that saw only ``rows``.

    A row the posterior was not conditioned on is already left out: its leave-one-out
    density is its log predictive density, exactly, with no importance sampling (Pareto k
    0); the rows the posterior saw keep their PSIS-LOO terms.

    Parameters
    ----------
    loo : PointwiseLoo
        PSIS-LOO of every row of the data (n).
    rows : ndarray of int, shape (m,)
        The rows the posterior was sampled on.

    Returns
    -------
    PointwiseLoo
    """
    held = np.ones(loo.loo_i.size, dtype=bool)
    held[np.asarray(rows, dtype=int)] = False
    return PointwiseLoo(
        np.where(held, loo.lppd_i, loo.loo_i), np.where(held, 0.0, loo.pareto_k), loo.lppd_i
    )


def held_out_lppd(X, draws, block_values=_BLOCK_VALUES) -> np.ndarray:
    """:func:`pointwise_lppd` of new points ``X`` (m, d) under the draws, by blocks of rows."""
    return np.concatenate(
        [
            pointwise_lppd(draw_log_likelihood(rows, draws))
            for rows in _row_blocks(X, draws, block_values)
        ]
    )


def _row_blocks(X, draws, block_values: int):
    """``X`` in consecutive blocks of rows of about ``block_values`` values x draws each."""
    X = np.asarray(X, dtype=float)
    step = max(1, block_values // int(np.prod(draws.means.shape[:2])))
    for start in range(0, X.shape[0], step):
        yield X[start : start + step]


def pointwise_lppd(pointwise) -> np.ndarray:
    r"""Log predictive density of every point, :math:`\log \overline{p(x_i \mid \theta_s)}`.

    Parameters
    ----------
    pointwise : ndarray of shape (C, S, n)
        Log-likelihood of every point under every draw.

    Returns
    -------
    ndarray of shape (n,)
    """
    flat = pointwise.reshape(-1, pointwise.shape[-1])
    return logsumexp(flat, axis=0) - np.log(flat.shape[0])


def paired_se(a, b) -> float:
    r"""Standard error of :math:`\sum_i (a_i - b_i)`: :math:`\sqrt{n \operatorname{var}(a - b)}`.

    The variance has divisor n, as in ``arviz.compare``'s ``dse``.

    Parameters
    ----------
    a, b : ndarray of shape (n,)
        Per-point log densities of two estimates on the same points.

    Returns
    -------
    float
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return float(np.sqrt(diff.size * np.var(diff)))


def paired_differences(pointwise: dict, on: str) -> tuple[PairedDifference, ...]:
    """Every pair of estimates compared point by point.

    Parameters
    ----------
    pointwise : dict of str to ndarray of shape (n,)
        Per-point terms of each estimate, in table order.
    on : {"out_of_sample", "held_out"}
        Recorded in each :class:`PairedDifference`.

    Returns
    -------
    tuple of PairedDifference
        One per pair, in table order of the pairs; the estimate with the higher total first.
    """
    names = list(pointwise)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diff = float(np.sum(pointwise[a]) - np.sum(pointwise[b]))
            first, second = (a, b) if diff >= 0 else (b, a)
            n = int(np.size(pointwise[a]))
            se = paired_se(pointwise[a], pointwise[b])
            out.append(PairedDifference(first, second, on, abs(diff), se, n))
    return tuple(out)


def predictive(X, X_test, loo: PointwiseLoo, draws, map_params, mle_params):
    """The predictive comparison of MLE, MAP and posterior.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    X_test : ndarray of shape (m, d) or None
    loo : PointwiseLoo
        The posterior's PSIS-LOO on ``X`` (:func:`loo_in_memory` or :func:`loo_by_blocks`).
    draws : MixtureParams
        Posterior draws leading with (chain, draw).
    map_params : MixtureParams
    mle_params : MixtureParams or None

    Returns
    -------
    PredictiveComparison
    """
    K, d = map_params.means.shape
    p = n_parameters(K, d, map_params.covariance_type)
    if X_test is not None:
        X_test = np.asarray(X_test, dtype=float)
        X_test = X_test[:, None] if X_test.ndim == 1 else X_test
    n = X.shape[0]
    rows = []
    terms = {"out_of_sample": {}, "held_out": {}}
    for name, params in (("MLE", mle_params), ("MAP", map_params)):
        if params is None:
            continue
        point = observed_e_step(X, params)[1]
        in_sample = float(point.sum())
        # -AIC/2 spread evenly over the points: the penalty is one constant per estimate, so
        # it moves a paired difference but not its standard error.
        terms["out_of_sample"][name] = point - p / n
        held = None
        if X_test is not None:
            terms["held_out"][name] = observed_e_step(X_test, params)[1]
            held = float(terms["held_out"][name].sum())
        rows.append(PredictiveRow(name, in_sample, in_sample - p, None, "-AIC/2", held))
    terms["out_of_sample"]["posterior"] = loo.loo_i
    if X_test is not None:
        terms["held_out"]["posterior"] = held_out_lppd(X_test, draws)
    rows.append(
        PredictiveRow(
            "posterior",
            float(loo.lppd_i.sum()),
            loo.elpd,
            loo.se,
            "PSIS-LOO",
            None if X_test is None else float(terms["held_out"]["posterior"].sum()),
        )
    )
    terms = {on: t for on, t in terms.items() if t}
    return PredictiveComparison(
        rows=tuple(rows),
        n_train=int(X.shape[0]),
        n_test=0 if X_test is None else int(X_test.shape[0]),
        n_parameters=p,
        p_loo=loo.p_loo,
        pareto_k_bad=int(np.sum(loo.pareto_k > PARETO_K_MAX)),
        pareto_k_max=float(np.max(loo.pareto_k)),
        paired=sum((paired_differences(t, on) for on, t in terms.items()), ()),
        pointwise=terms,
    )
