"""Whether the MLE, the MAP and the posterior's chains describe one optimum or several.

Relabelling lines up components, not optima: an MLE and a MAP that are different clusterings
of the data still get matched entry by entry, and their intervals then look like two views of
one estimate. Two checks tell optima apart:

- *the climb*: EM for the likelihood started at the MAP. It climbs to the MLE when the MAP
  lies in the MLE's basin of attraction; it stops at another local maximum when it does not.
- *the clusterings*: the adjusted Rand index (ARI) of the hard clusterings (largest
  responsibility of each row) of the two estimates. One optimum, with a prior that only
  shrinks it, gives nearly the same clustering (ARI near 1).

The chains of the posterior all start near the EM MAP (``latentmix.bayes``); each chain's mode is
told by the ARI of the clustering at its posterior mean against the MAP's and the MLE's.

Within the draws, a marginal with two or more peaks is flagged (:func:`count_peaks`): label
switching the relabelling did not undo, or a posterior of several modes, which a mean and an
interval summarise badly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Clusterings with at least this ARI are taken as the same partition of the data.
SAME_PARTITION_ARI = 0.9
#: A peak of a marginal's density counts when it is at least this fraction of the highest,
#: and is apart from its neighbour when the density between them dips below this fraction of
#: the lower of the two.
PEAK_MIN_HEIGHT, PEAK_MAX_DIP = 0.1, 0.8
#: The check named on the page.
PEAK_CHECK = (
    "peaks of a Gaussian kernel density estimate (Silverman's bandwidth) at least "
    f"{PEAK_MIN_HEIGHT:.0%} of the highest, separated by a dip below {PEAK_MAX_DIP:.0%} of "
    "the lower peak"
)


class Modes(NamedTuple):
    """What the optimum checks found (None where there is no MLE).

    Attributes
    ----------
    ari_mle_map : float or None
        ARI of the MLE's and the MAP's hard clusterings.
    climb_log_likelihood : float or None
        Log-likelihood where EM for the likelihood, started at the MAP, stopped (None when it
        collapsed a component: then ``climb_collapsed``).
    climb_collapsed : bool
    mle_log_likelihood : float or None
    same_optimum : bool or None
        The climb reached the MLE's log-likelihood and the clusterings agree.
    n_map_optima : int
        Distinct objectives among the MAP's EM restarts (1: every restart found one optimum).
    n_reach_map : int
        Restarts of the MAP that reached its objective.
    n_map_restarts : int
    chain_ari_map, chain_ari_mle : list of float
        Per chain, the ARI of the clustering at the chain's posterior mean against the MAP's
        and (None entries without an MLE) the MLE's.
    multimodal : list of str
        Labels of the table entries whose marginal posterior has two or more peaks.
    """

    ari_mle_map: float | None
    climb_log_likelihood: float | None
    climb_collapsed: bool
    mle_log_likelihood: float | None
    same_optimum: bool | None
    n_map_optima: int
    n_reach_map: int
    n_map_restarts: int
    chain_ari_map: list
    chain_ari_mle: list
    multimodal: list


def count_peaks(x, grid: int = 512) -> int:
    """Peaks of the density of the draws ``x`` (any shape), by :data:`PEAK_CHECK`.

    A Gaussian kernel density estimate on a grid (binned, Silverman's rule-of-thumb
    bandwidth, which errs towards one peak); local maxima below :data:`PEAK_MIN_HEIGHT` of the
    highest are ignored, and two neighbouring maxima count as two peaks only when the density
    between them falls below :data:`PEAK_MAX_DIP` of the lower one. On 4000 draws it gives 1
    for normal, gamma, lognormal and t3 samples and 2 for a 90/10 mixture of normals 5 sds
    apart (see tests/report/test_modes.py).
    """
    x = np.asarray(x, float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        return 1
    iqr = np.subtract(*np.percentile(x, [75, 25]))
    sd = x.std(ddof=1)
    spread = min(sd, iqr / 1.349) if iqr > 0 else sd
    if not spread > 0:
        return 1
    h = 0.9 * spread * x.size ** (-0.2)
    counts, edges = np.histogram(x, bins=grid, range=(x.min() - 3 * h, x.max() + 3 * h))
    step = edges[1] - edges[0]
    half = int(np.ceil(4 * h / step))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step / h) ** 2)
    density = np.convolve(counts, kernel, mode="same")
    inner = density[1:-1]
    peaks = np.flatnonzero((inner > density[:-2]) & (inner >= density[2:])) + 1
    peaks = peaks[density[peaks] >= PEAK_MIN_HEIGHT * density.max()]
    n, last = 1, peaks[0]
    for p in peaks[1:]:
        if density[last : p + 1].min() < PEAK_MAX_DIP * min(density[last], density[p]):
            n, last = n + 1, p
        elif density[p] > density[last]:
            last = p
    return n


def multimodal_entries(idata, comparison) -> list[str]:
    """Labels of the entries of ``comparison.tables`` whose posterior draws have 2+ peaks."""
    post = idata.posterior
    out = []
    for table in comparison.tables.values():
        for e in table.entries:
            draws = np.asarray(post[e.parameter].transpose("chain", "draw", ...).values)
            if count_peaks(draws[(slice(None), slice(None), *e.index)]) > 1:
                out.append(e.label)
    return out


def hard_labels(X, params) -> np.ndarray:
    """The component of largest responsibility of each row, shape (n,) (NaN cells allowed)."""
    from latentmix.comparison.draws import observed_e_step

    return np.argmax(observed_e_step(X, params)[0], axis=1)


def distinct_optima(objectives, tol: float = 1e-6) -> int:
    """How many distinct values (within ``tol`` relative) a list of objectives holds."""
    values = np.sort(np.asarray(objectives, float))[::-1]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0
    scale = tol * max(1.0, abs(values[0]))
    return int(1 + np.sum(np.diff(values) < -scale))


def climb_from(X, start, sample_weight=None, missing: str = "error"):
    """EM for the likelihood from the parameters ``start``.

    Returns the fitted EMGaussianMixture, or None when a component collapsed on the way.
    """
    from latentmix.em.estep import DegenerateMixtureError
    from latentmix.estimator import EMGaussianMixture

    model = EMGaussianMixture(
        start.weights.shape[-1],
        covariance_type=start.covariance_type,
        init=start,
        n_init=1,
        missing=missing,
    )
    try:
        return model.fit(X, sample_weight=sample_weight)
    except DegenerateMixtureError:
        return None


def check_modes(
    X, mle, em_map, idata, *, comparison=None, sample_weight=None, missing: str = "error"
) -> Modes:
    """Run the optimum checks of this module's docstring.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The fitted rows (NaN cells allowed).
    mle : EMGaussianMixture or None
    em_map : EMGaussianMixture
    idata : arviz.InferenceData
        The relabelled posterior draws.
    comparison : Comparison, optional
        Its tables' entries are checked for multimodal marginals (none without it).
    sample_weight : ndarray of shape (n,), optional
    missing : str
        The estimators' ``missing`` setting.

    Returns
    -------
    Modes
    """
    from latentmix.comparison.draws import posterior_draws
    from latentmix.comparison.membership import adjusted_rand_index
    from latentmix.params import MixtureParams

    map_labels = hard_labels(X, em_map.params_)
    mle_labels = None if mle is None else hard_labels(X, mle.params_)
    objectives = [r["objective"] for r in em_map.restarts_ if not r.get("degenerate")]
    scale = 1e-6 * max(1.0, abs(em_map.objective_))
    n_reach = sum(abs(o - em_map.objective_) <= scale for o in objectives)

    draws = posterior_draws(idata, em_map.covariance_type)
    chain_means = [
        MixtureParams(*(np.mean(a[c], axis=0) for a in draws[:3]), draws.covariance_type)
        for c in range(draws.weights.shape[0])
    ]
    chain_labels = [hard_labels(X, p) for p in chain_means]
    chain_ari_map = [adjusted_rand_index(map_labels, lab) for lab in chain_labels]
    chain_ari_mle = [
        None if mle_labels is None else adjusted_rand_index(mle_labels, lab)
        for lab in chain_labels
    ]
    ari = climb_ll = same = None
    collapsed = False
    if mle is not None:
        ari = adjusted_rand_index(mle_labels, map_labels)
        climbed = climb_from(X, em_map.params_, sample_weight, missing)
        collapsed = climbed is None
        if climbed is not None:
            climb_ll = float(climbed.log_likelihood_)
        reached = climb_ll is not None and climb_ll >= mle.log_likelihood_ - 1e-6 * max(
            1.0, abs(mle.log_likelihood_)
        )
        same = bool(reached and ari >= SAME_PARTITION_ARI)
    return Modes(
        ari_mle_map=ari,
        climb_log_likelihood=climb_ll,
        climb_collapsed=collapsed,
        mle_log_likelihood=None if mle is None else float(mle.log_likelihood_),
        same_optimum=same,
        n_map_optima=distinct_optima(objectives),
        n_reach_map=int(n_reach),
        n_map_restarts=len(em_map.restarts_),
        chain_ari_map=chain_ari_map,
        chain_ari_mle=chain_ari_mle,
        multimodal=[] if comparison is None else multimodal_entries(idata, comparison),
    )


def _chains_text(modes: Modes) -> str:
    at_map = sum(a >= SAME_PARTITION_ARI for a in modes.chain_ari_map)
    n = len(modes.chain_ari_map)
    text = (
        f"Every one of the {n} chains started near the EM MAP (a jitter of about one posterior "
        f"sd); at its posterior mean, "
        f"{at_map} of {n} cluster the data as the MAP does (ARI at least "
        f"{SAME_PARTITION_ARI})"
    )
    if modes.same_optimum is False:
        at_mle = sum(a is not None and a >= SAME_PARTITION_ARI for a in modes.chain_ari_mle)
        text += f" and {at_mle} of {n} as the MLE does"
    return text + "."


def modes_sentences(modes: Modes) -> list[str]:
    """The page's paragraph on optima and where the chains started and went."""
    out = []
    if modes.n_map_optima > 1:
        out.append(
            f"The MAP's {modes.n_map_restarts} EM restarts stopped at {modes.n_map_optima} "
            f"distinct optima; {modes.n_reach_map} reached the best, which is the MAP."
        )
    if modes.same_optimum is True:
        out.append(
            "The MLE and the MAP are one optimum: EM for the likelihood started at the MAP "
            f"climbs to the MLE, and their clusterings agree (ARI {modes.ari_mle_map:.3f})."
        )
    elif modes.same_optimum is False:
        out.append(_different_optima(modes))
    out.append(_chains_text(modes))
    return out


def _different_optima(modes: Modes) -> str:
    if modes.climb_collapsed:
        climb = "collapses a component (the likelihood runs to infinity from there)"
    else:
        climb = (
            f"stops at log-likelihood {modes.climb_log_likelihood:.2f}, not at the MLE's "
            f"{modes.mle_log_likelihood:.2f}"
        )
        if modes.climb_log_likelihood > modes.mle_log_likelihood:
            climb += " (higher: the MLE's restarts missed it)"
    return (
        "The MLE and the MAP are different optima: their clusterings agree with ARI "
        f"{modes.ari_mle_map:.3f} only, and EM for the likelihood started at the MAP {climb}."
    )


def modes_warnings(modes: Modes) -> list[str]:
    """Sentences for the warning box: only when the estimates are not of one optimum."""
    out = []
    if modes.same_optimum is False:
        out.append(
            _different_optima(modes)
            + " The tables still line their entries up component by component, but the MLE "
            "and the MAP answer with two different clusterings: read their intervals as two "
            "answers, not as one estimate with two sets of error bars. The posterior's chains "
            "started near the MAP, so the posterior describes the MAP's optimum (see "
            "'Optima and chains')."
        )
    if modes.multimodal:
        out.append(
            f"The posterior of {len(modes.multimodal)} entr"
            f"{'y' if len(modes.multimodal) == 1 else 'ies'} has two or more peaks "
            f"({', '.join(modes.multimodal)}; the check: {PEAK_CHECK}): a mean and an "
            "interval describe such a marginal badly; look at its histogram in the figures."
        )
    strays = [i + 1 for i, a in enumerate(modes.chain_ari_map) if a < SAME_PARTITION_ARI]
    if strays:
        out.append(
            f"Chain(s) {', '.join(map(str, strays))} left the MAP's optimum: at their "
            "posterior means they cluster the data differently (ARI below "
            f"{SAME_PARTITION_ARI}), so the draws mix two or more modes and the "
            "component-wise summaries average over them."
        )
    return out
