"""Whether the MLE, the MAP and the posterior's chains describe one optimum or several.

Relabelling lines up components, not optima: an MLE and a MAP that are different clusterings
of the data still get matched entry by entry, and their intervals then look like two views of
one estimate. Two checks tell optima apart:

- *the climb*: EM for the likelihood started at the MAP. It climbs to the MLE when the MAP
  lies in the MLE's basin of attraction; it stops at another local maximum when it does not.
- *the clusterings*: the adjusted Rand index (ARI) of the hard clusterings (largest
  responsibility of each row) of the two estimates. One optimum, with a prior that only
  shrinks it, gives nearly the same clustering (ARI near 1).

The chains of the posterior start at the distinct optima the MAP's EM restarts reached
(:func:`map_optima`, best first, chain c at optimum c mod their number; with one optimum every
chain starts at the MAP), each jittered by about one posterior sd (``latentmix.bayes``). Each
chain's mode is told by the ARI of the clustering at its posterior mean against the clustering
of every distinct optimum (the MAP's first) and the MLE's.

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
    optima_objectives : list of float
        The objective (log-likelihood + log prior) of each distinct optimum of the MAP's
        restarts (:func:`map_optima`: objectives apart and clusterings different), best
        first: the first is the MAP's.
    optima_restarts : list of int
        How many of the MAP's restarts reached each of those optima.
    chain_start : list of int
        Per chain, the optimum (index into ``optima_objectives``) it started near.
    chain_optimum : list of int or None
        Per chain, the optimum whose clustering the chain's posterior mean shares (the
        highest ARI, at least :data:`SAME_PARTITION_ARI`); None: none of them.
    chain_reordered : list of bool
        Per chain, whether the relabelling moved every one of its draws by one and the same
        permutation: the chain sat in its mode with the components in another order than its
        start's (it came from another optimum), which is not label switching within it.
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
    optima_objectives: list | None = None
    optima_restarts: list | None = None
    chain_start: list | None = None
    chain_optimum: list | None = None
    chain_reordered: list | None = None


class Optimum(NamedTuple):
    """One distinct optimum of the MAP's EM restarts (:func:`map_optima`).

    Attributes
    ----------
    params : MixtureParams
        In the reference's component order.
    objective : float
        Log-likelihood + log prior there.
    n_restarts : int
        Restarts that stopped at it.
    """

    params: object
    objective: float
    n_restarts: int


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


def map_optima(X, em_map, reference=None, tol: float = 1e-6) -> list[Optimum]:
    """The distinct optima the MAP's EM restarts stopped at, best first.

    A restart is a new optimum when its objective is more than ``tol`` (relative) from that
    of every better one kept and its hard clustering differs from theirs (ARI below
    :data:`SAME_PARTITION_ARI`); otherwise it counts as reaching the first it matches.
    Degenerate restarts are left out. The first optimum is the MAP itself.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The fitted rows (NaN cells allowed).
    em_map : EMGaussianMixture
        Fitted; ``restarts_`` holds each restart's ``params`` and ``objective``.
    reference : MixtureParams, optional
        The MAP in the report's component order (``em_map.params_`` if not given): the first
        optimum, and the order every other optimum's components are put in
        (:func:`latentmix.matching.align`), so that draws of a chain started there are
        relabelled against the reference with little to undo.
    tol : float

    Returns
    -------
    list of Optimum
        At least one (the MAP).
    """
    from latentmix.comparison.membership import adjusted_rand_index
    from latentmix.matching import align

    reference = em_map.params_ if reference is None else reference
    best = em_map.best_restart_
    runs = [
        (i, r)
        for i, r in enumerate(em_map.restarts_)
        if i == best or (not r.get("degenerate") and "params" in r and np.isfinite(r["objective"]))
    ]
    # The reported best run first (others within round-off of it count as reaching it).
    runs.sort(key=lambda item: (item[0] != best, -item[1]["objective"]))
    scale = tol * max(1.0, abs(em_map.objective_))
    kept = []  # [params, objective, labels, restarts]
    for i, run in runs:
        params = reference if i == best else align(run["params"], reference)
        labels = hard_labels(X, params)
        for other in kept:
            if abs(other[1] - run["objective"]) <= scale or (
                adjusted_rand_index(other[2], labels) >= SAME_PARTITION_ARI
            ):
                other[3] += 1
                break
        else:
            kept.append([params, float(run["objective"]), labels, 1])
    return [Optimum(params, objective, n) for params, objective, _, n in kept]


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
    X,
    mle,
    em_map,
    idata,
    *,
    comparison=None,
    sample_weight=None,
    missing: str = "error",
    optima=None,
) -> Modes:
    """Run the optimum checks of this module's docstring.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The fitted rows (NaN cells allowed).
    mle : EMGaussianMixture or None
    em_map : EMGaussianMixture
    idata : arviz.InferenceData
        The relabelled posterior draws; ``posterior.attrs["chain_start"]`` says which of
        ``optima`` each chain started at (every chain at the first without it).
    comparison : Comparison, optional
        Its tables' entries are checked for multimodal marginals (none without it).
    sample_weight : ndarray of shape (n,), optional
    missing : str
        The estimators' ``missing`` setting.
    optima : list of Optimum, optional
        :func:`map_optima` of ``em_map`` (computed if not given), the first of which the
        chains were started at; each chain's mode is told against all of them.

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
    if optima is None:
        optima = map_optima(X, em_map)

    draws = posterior_draws(idata, em_map.covariance_type)
    chain_means = [
        MixtureParams(*(np.mean(a[c], axis=0) for a in draws[:3]), draws.covariance_type)
        for c in range(draws.weights.shape[0])
    ]
    chain_labels = [hard_labels(X, p) for p in chain_means]
    chain_ari_map = [adjusted_rand_index(map_labels, lab) for lab in chain_labels]
    attrs = idata.posterior.attrs
    chain_start = [
        int(c) for c in np.atleast_1d(attrs.get("chain_start", [0] * len(chain_labels)))
    ]
    optima_labels = [map_labels] + [hard_labels(X, o.params) for o in optima[1:]]
    chain_reordered = [False] * len(chain_labels)
    if "sample_stats" in idata.groups() and "component_order" in idata.sample_stats:
        order = idata.sample_stats["component_order"].transpose("chain", "draw", ...).values
        identity = np.arange(order.shape[-1])
        chain_reordered = [bool((o == o[0]).all() and (o[0] != identity).any()) for o in order]
    chain_optimum = []
    for lab in chain_labels:
        aris = [adjusted_rand_index(ref, lab) for ref in optima_labels]
        k = int(np.argmax(aris))
        chain_optimum.append(k if aris[k] >= SAME_PARTITION_ARI else None)
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
        optima_objectives=[float(o.objective) for o in optima],
        optima_restarts=[int(o.n_restarts) for o in optima],
        chain_start=chain_start,
        chain_optimum=chain_optimum,
        chain_reordered=chain_reordered,
    )


def _several_starts(modes: Modes) -> bool:
    """Whether the chains started at more than one optimum."""
    return len(set(modes.chain_start or [0])) > 1


def _numbered(word: str, numbers) -> str:
    """``chain 2``, ``chains 1 and 3``, ``chains 1, 2 and 4``."""
    numbers = [str(n) for n in numbers]
    if len(numbers) == 1:
        return f"{word} {numbers[0]}"
    return f"{word}s {', '.join(numbers[:-1])} and {numbers[-1]}"


def _optimum(modes: Modes, k: int, *, objective: bool = False) -> str:
    """``optimum 1 (the MAP)``; with ``objective`` its objective and gap to the MAP."""
    if not objective:
        return f"optimum {k + 1}" + (" (the MAP)" if k == 0 else "")
    value, best = modes.optima_objectives[k], modes.optima_objectives[0]
    restarts = modes.optima_restarts[k]
    reached = f"{restarts} restart{'' if restarts == 1 else 's'}"
    if k == 0:
        return f"optimum 1, the MAP (objective {value:.2f}; {reached})"
    return f"optimum {k + 1} (objective {value:.2f}, {best - value:.2f} below the MAP; {reached})"


def _by_optimum(modes: Modes, per_chain, *, objective: bool = False) -> list[str]:
    """``chains 1 and 3 at optimum 1 (the MAP)``, one phrase per optimum (None: none)."""
    out = []
    for k in sorted({k for k in per_chain if k is not None}):
        chains = [c + 1 for c, j in enumerate(per_chain) if j == k]
        out.append(f"{_numbered('chain', chains)} at {_optimum(modes, k, objective=objective)}")
    lost = [c + 1 for c, j in enumerate(per_chain) if j is None]
    if lost:
        out.append(f"{_numbered('chain', lost)} at none of them")
    return out


def _chains_text(modes: Modes) -> str:
    n = len(modes.chain_ari_map)
    if _several_starts(modes):
        m = len(set(modes.chain_start))
        which = f"these {m}" if m == len(modes.optima_objectives) else f"the {m} best of these"
        ended = set(modes.chain_optimum)
        if len(ended) == 1 and None not in ended:
            (k,) = ended
            where = (
                f"every chain at {_optimum(modes, k)}, so the other optima held no chain "
                "through the tuning steps and the posterior describes one mode"
            )
        else:
            where = "; ".join(_by_optimum(modes, modes.chain_optimum))
            if len(ended) > 1:
                where += ". The chains ended in different optima: the posterior has several modes"
        text = (
            f"The chains started at {which} optima, numbered best first, chain c at optimum c "
            "in turn, each jittered by about one posterior sd: "
            + "; ".join(_by_optimum(modes, modes.chain_start, objective=True))
            + ". Where they ended, by the clustering at each chain's posterior mean (ARI at "
            f"least {SAME_PARTITION_ARI} against an optimum's): {where}"
        )
    else:
        at_map = sum(a >= SAME_PARTITION_ARI for a in modes.chain_ari_map)
        found = len(modes.optima_objectives or [])
        text = f"Every one of the {n} chains started near the EM MAP (a jitter of about one "
        if found > 1:  # --chain-starts map
            text += f"posterior sd), though the MAP's restarts found {found} distinct optima"
        else:
            text += "posterior sd)"
        text += (
            "; at its posterior mean, "
            f"{at_map} of {n} cluster the data as the MAP does (ARI at least "
            f"{SAME_PARTITION_ARI})"
        )
    if modes.same_optimum is False:
        at_mle = sum(a is not None and a >= SAME_PARTITION_ARI for a in modes.chain_ari_mle)
        if _several_starts(modes):
            text += f"; {at_mle} of {n} chains cluster the data as the MLE does"
        else:
            text += f" and {at_mle} of {n} as the MLE does"
    moved = _reordered(modes)
    if moved and _several_starts(modes):
        who = "it" if sum(modes.chain_reordered) == 1 else "each"
        text += (
            f". The relabelling moved every draw of {moved}: {who} settled with the components "
            "in another order than at its start, which is not label switching within a chain"
        )
    return text + "."


def _reordered(modes: Modes) -> str:
    """``chain 3 by one permutation``, ``chains 2 and 3 each by one permutation``, or ''."""
    moved = [c + 1 for c, r in enumerate(modes.chain_reordered or []) if r]
    if not moved:
        return ""
    return f"{_numbered('chain', moved)} {'by' if len(moved) == 1 else 'each by'} one permutation"


def modes_sentences(modes: Modes) -> list[str]:
    """The page's paragraph on optima and where the chains started and went."""
    out = []
    n_optima = len(modes.optima_objectives or [None])
    if n_optima > 1:
        out.append(
            f"The MAP's {modes.n_map_restarts} EM restarts stopped at {n_optima} distinct "
            f"optima (objectives apart and clusterings different); {modes.n_reach_map} "
            "reached the best, which is the MAP."
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
    several = _several_starts(modes)
    if modes.same_optimum is False:
        if several:
            n = len(modes.chain_ari_mle)
            at_mle = sum(a is not None and a >= SAME_PARTITION_ARI for a in modes.chain_ari_mle)
            chains = (
                f"The posterior's chains started at {len(set(modes.chain_start))} optima of "
                "the MAP's restarts"
            )
            if all(k == 0 for k in modes.chain_optimum):
                chains += " and every one ended at the MAP's, so the posterior describes it"
            else:
                chains += f"; {at_mle} of {n} ended clustering the data as the MLE does"
        else:
            chains = (
                "The posterior's chains started near the MAP, so the posterior describes the "
                "MAP's optimum"
            )
        out.append(
            _different_optima(modes)
            + " The tables still line their entries up component by component, but the MLE "
            "and the MAP answer with two different clusterings: read their intervals as two "
            f"answers, not as one estimate with two sets of error bars. {chains} (see "
            "'Optima and chains')."
        )
    if modes.multimodal:
        out.append(
            f"The posterior of {len(modes.multimodal)} entr"
            f"{'y' if len(modes.multimodal) == 1 else 'ies'} has two or more peaks "
            f"({', '.join(modes.multimodal)}; the check: {PEAK_CHECK}): a mean and an "
            "interval describe such a marginal badly; look at its histogram in the figures."
        )
    if several:
        out += _apart_warnings(modes)
        moved = _reordered(modes)
        if moved:
            out.append(
                f"The relabelled draws counted above include every draw of {moved}: a chain "
                "started at another optimum settled with its components in another order than "
                "at its start, which the relabelling undid; that is not components swapping "
                "within a chain."
            )
        return out
    strays = [i + 1 for i, a in enumerate(modes.chain_ari_map) if a < SAME_PARTITION_ARI]
    if strays:
        out.append(
            f"Chain(s) {', '.join(map(str, strays))} left the MAP's optimum: at their "
            "posterior means they cluster the data differently (ARI below "
            f"{SAME_PARTITION_ARI}), so the draws mix two or more modes and the "
            "component-wise summaries average over them."
        )
    return out


def _apart_warnings(modes: Modes) -> list[str]:
    """What chains started at several optima mean when they end in different places."""
    ended = set(modes.chain_optimum)
    if len(ended) > 1:
        lower = [
            f"optimum {k + 1}'s is {modes.optima_objectives[0] - modes.optima_objectives[k]:.2f} "
            "lower"
            for k in sorted(j for j in ended if j)
        ]
        heights = (
            f" The objective is the log posterior density (up to a constant) at a mode's peak: "
            f"{', '.join(lower)} than the MAP's (a height, not a probability mass)."
            if lower
            else ""
        )
        return [
            "The chains ended in different optima: "
            + "; ".join(_by_optimum(modes, modes.chain_optimum))
            + ". The posterior has several modes, and NUTS does not move between them within "
            "a run. R-hat and ESS across these chains are poor because the chains sit in "
            "different modes, not because a chain failed to converge in its own; the tables' "
            "posterior means, sds and intervals pool every chain, so they average over the "
            "modes and describe none of them. Nor is the share of chains in a mode its "
            f"posterior probability: it is where the chains were started.{heights} For the "
            "posterior around one mode, read the chains that ended in it alone "
            "(estimates.json's modes.chain_optimum; in posterior.nc, "
            "idata.posterior.isel(chain=[...]))."
        ]
    if None in ended:  # every chain at none of the optima
        return [
            "No chain ended at one of the MAP's distinct optima: at their posterior means the "
            f"chains cluster the data otherwise (ARI below {SAME_PARTITION_ARI} against each), "
            "so the draws mix two or more modes and the component-wise summaries average over "
            "them."
        ]
    return []
