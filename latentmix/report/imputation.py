"""Missing cells in a report: the EM imputation at the MAP against the posterior predictive.

For each missing cell EM gives the conditional distribution of the cell given the row's
observed cells under the MAP (a mixture of Gaussians over the components; its mean and sd
by :func:`latentmix.em.missing.impute`). The posterior predictive of the same cell
(:func:`latentmix.bayes.predictive.predict_missing`) averages that distribution over the
posterior draws, so it also carries the uncertainty of the parameters. The report shows the
cells where EM is least sure (largest conditional sd).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Cells shown in the table and the figure.
N_CELLS = 8


@dataclass(frozen=True)
class ImputedCell:
    """One missing cell: its EM imputation and its posterior predictive.

    Attributes
    ----------
    row : int
        Row of the data set (from 0).
    column : int
        Feature index (from 0).
    feature : str
    em_mean, em_sd : float
        Conditional mean and sd of the cell under the MAP.
    plug_in_lower, plug_in_upper : float
        Central interval of that conditional distribution at the report's level (quantiles of
        draws from it: it is a mixture, not a Gaussian).
    mean, sd, lower, upper : float
        Posterior predictive mean, sd and central interval of the cell.
    """

    row: int
    column: int
    feature: str
    em_mean: float
    em_sd: float
    plug_in_lower: float
    plug_in_upper: float
    mean: float
    sd: float
    lower: float
    upper: float

    @property
    def sd_ratio(self) -> float:
        """Posterior predictive sd over the EM conditional sd."""
        return self.sd / self.em_sd if self.em_sd > 0 else float("nan")


@dataclass(frozen=True)
class Imputation:
    """The missing cells of the fitted rows and the most uncertain of them.

    Attributes
    ----------
    n_cells, n_rows : int
        Missing cells, and rows with at least one.
    n_total_cells, n_total_rows : int
        Cells and rows of the fitted data.
    level : float
    cells : tuple of ImputedCell
        Largest EM conditional sd first.
    plug_in_draws, posterior_draws : ndarray of shape (S, len(cells))
        Draws of each shown cell from the MAP's conditional distribution and from the
        posterior predictive (for the figure).
    """

    n_cells: int
    n_rows: int
    n_total_cells: int
    n_total_rows: int
    level: float
    cells: tuple
    plug_in_draws: np.ndarray
    posterior_draws: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready: counts, level and the shown cells (``estimates.json``'s ``missing``)."""
        return {
            "n_cells": self.n_cells,
            "n_rows": self.n_rows,
            "level": self.level,
            "cells": [
                {**{k: getattr(c, k) for k in c.__dataclass_fields__}, "sd_ratio": c.sd_ratio}
                for c in self.cells
            ],
        }


def point_posterior(idata, params, n_draws: int):
    """An InferenceData whose every draw is ``params``: a posterior that is a point mass.

    Parameters
    ----------
    idata : arviz.InferenceData
        A posterior of the same model (for the covariance dims).
    params : MixtureParams
    n_draws : int

    Returns
    -------
    arviz.InferenceData
        One chain of ``n_draws`` identical draws, dims as ``idata``'s.
    """
    import arviz as az

    dims = {name: list(idata.posterior[name].dims[2:]) for name in ("weights", "means")}
    dims["covariances"] = list(idata.posterior["covariances"].dims[2:])
    posterior = {
        name: np.broadcast_to(np.asarray(value, float), (1, n_draws, *np.shape(value))).copy()
        for name, value in (
            ("weights", params.weights),
            ("means", params.means),
            ("covariances", params.covariances),
        )
    }
    return az.from_dict(posterior=posterior, dims=dims)


def imputation(
    X, params, idata, feature_names, *, level=0.95, data_rows=None, n_cells=N_CELLS, seed=0
) -> Imputation | None:
    """EM imputation against the posterior predictive for the most uncertain missing cells.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The fitted rows; NaN marks a missing cell.
    params : MixtureParams
        The MAP.
    idata : arviz.InferenceData
        The posterior draws (components in the MAP's order).
    feature_names : sequence of str
    level : float
        Probability of the central intervals.
    data_rows : ndarray of int, shape (n,), optional
        Row of the data set of each row of ``X`` (default: the same).
    n_cells : int
        How many cells to show.
    seed : int

    Returns
    -------
    Imputation or None
        None when ``X`` has no missing cell.
    """
    from latentmix.bayes.predictive import predict_missing
    from latentmix.em.missing import impute

    X = np.asarray(X, dtype=float)
    missing = np.isnan(X)
    if not missing.any():
        return None
    data_rows = np.arange(len(X)) if data_rows is None else np.asarray(data_rows)
    mean, sd = impute(X, params, return_std=True)
    cell_rows, cell_cols = np.nonzero(missing)
    # Largest sd first; ties by position, so the choice does not depend on the sort.
    order = np.lexsort((cell_cols, cell_rows, -sd[cell_rows, cell_cols]))[:n_cells]
    cell_rows, cell_cols = cell_rows[order], cell_cols[order]
    rows, where = np.unique(cell_rows, return_inverse=True)
    posterior = predict_missing(idata, X, rows=rows, random_state=seed).draws
    n_draws = posterior.shape[0]
    plug_in = predict_missing(
        point_posterior(idata, params, n_draws), X, rows=rows, random_state=seed + 1
    ).draws
    post = posterior[:, where, cell_cols]  # (S, m)
    plug = plug_in[:, where, cell_cols]
    tail = (1 - level) / 2
    q_post = np.quantile(post, [tail, 1 - tail], axis=0)
    q_plug = np.quantile(plug, [tail, 1 - tail], axis=0)
    cells = tuple(
        ImputedCell(
            row=int(data_rows[r]),
            column=int(j),
            feature=str(feature_names[j]),
            em_mean=float(mean[r, j]),
            em_sd=float(sd[r, j]),
            plug_in_lower=float(q_plug[0, i]),
            plug_in_upper=float(q_plug[1, i]),
            mean=float(post[:, i].mean()),
            sd=float(post[:, i].std(ddof=1)),
            lower=float(q_post[0, i]),
            upper=float(q_post[1, i]),
        )
        for i, (r, j) in enumerate(zip(cell_rows, cell_cols, strict=True))
    )
    return Imputation(
        n_cells=int(missing.sum()),
        n_rows=int(missing.any(axis=1).sum()),
        n_total_cells=int(X.size),
        n_total_rows=len(X),
        level=float(level),
        cells=cells,
        plug_in_draws=plug,
        posterior_draws=post,
    )
