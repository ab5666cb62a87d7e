"""The report's variational Bayes column: mean-field VB of the same model and prior.

:class:`~latentmix.vb.VBGaussianMixture` is fitted to the same rows (same weights, same
missing cells) with the report's prior; its posterior q is put in the MAP's component order,
so each entry of the parameter tables gets q's mean and central interval at the report's
level beside MLE, MAP, Laplace and the NUTS posterior. Mean-field VB is known to be
overconfident: the ratio of its interval widths to the NUTS posterior's is the summary.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

# Draws of q for the marginal figures.
N_DRAWS = 4000


@dataclass(frozen=True)
class VBResult:
    """VB of the report's model, its components in the MAP's order.

    Attributes
    ----------
    elbo : float
        The evidence lower bound at convergence: a lower bound on log p(X), not a predictive
        density.
    n_iter : int
    converged : bool
    mean : MixtureParams
        The mixture at the means of q.
    intervals : latentmix.em.intervals.Intervals
        Source ``"vb"``; entries indexed as Wald's and Laplace's (``entry.column``).
    draws : tuple of ndarray
        Weights (S, K), means (S, K, d), covariances (S, *shape): draws of q.
    """

    elbo: float
    n_iter: int
    converged: bool
    mean: object
    intervals: object
    draws: tuple

    def entry(self, entry) -> tuple[float, float, float]:
        """(mean, lower, upper) of q for one table entry (a ParameterEntry)."""
        group = entry.label.split("[")[0]
        mean = float(np.asarray(getattr(self.mean, group))[tuple(entry.index)])
        if entry.column is None:
            return mean, float("nan"), float("nan")
        return (
            mean,
            float(self.intervals.lower[entry.column]),
            float(self.intervals.upper[entry.column]),
        )

    def samples(self, group: str, index) -> np.ndarray:
        """Draws of q of one entry of ``group``, shape (S,)."""
        from latentmix.params import PARAMETER_NAMES

        return self.draws[PARAMETER_NAMES.index(group)][(slice(None), *index)]


def fit_vb(X, settings, prior, reference, sample_weight=None) -> VBResult:
    """Fit VB as the report's EM fits are fitted, and align it to ``reference`` (the MAP).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    settings : ReportSettings
    prior : ConjugatePrior
    reference : MixtureParams
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    VBResult
    """
    from latentmix.vb import VBGaussianMixture
    from latentmix.vb.intervals import align_posterior, vb_intervals
    from latentmix.vb.predictive import sample_posterior_arrays
    from latentmix.vb.updates import posterior_mean

    model = VBGaussianMixture(
        settings.n_components,
        covariance_type=settings.covariance_type,
        prior=prior,
        n_init=settings.n_init,
        random_state=settings.seed,
        missing=settings.missing,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(X, sample_weight=sample_weight)
    post = align_posterior(model.posterior_, reference)
    rng = np.random.default_rng(settings.seed)
    return VBResult(
        elbo=float(model.elbo_),
        n_iter=int(model.n_iter_),
        converged=bool(model.converged_),
        mean=posterior_mean(post),
        intervals=vb_intervals(post, level=settings.level, n_draws=N_DRAWS, random_state=rng),
        draws=tuple(sample_posterior_arrays(post, N_DRAWS, rng)),
    )


def width_ratios(vb: VBResult, comparison) -> np.ndarray:
    """VB interval width over the NUTS posterior's, one per table entry with both."""
    ratios = []
    for table in comparison.tables.values():
        for e in table.entries:
            _, lo, hi = vb.entry(e)
            width = e.upper - e.lower
            if np.isfinite(lo) and np.isfinite(hi) and width > 0:
                ratios.append((hi - lo) / width)
    return np.asarray(ratios)


def to_dict(vb: VBResult | None, comparison, error: str | None = None) -> dict:
    """``estimates.json``'s ``vb`` block."""
    if vb is None:
        return {"error": error}
    ratios = width_ratios(vb, comparison)
    entries = []
    for group, table in comparison.tables.items():
        for e in table.entries:
            mean, lo, hi = vb.entry(e)
            entries.append({"parameter": group, "label": e.label, "mean": mean,
                            "lower": lo, "upper": hi})  # fmt: skip
    return {
        "error": None,
        "elbo": vb.elbo,
        "n_iter": vb.n_iter,
        "converged": vb.converged,
        "level": float(vb.intervals.level),
        "width_ratio": {
            "median": float(np.median(ratios)) if ratios.size else None,
            "min": float(ratios.min()) if ratios.size else None,
            "max": float(ratios.max()) if ratios.size else None,
        },
        "entries": entries,
    }
