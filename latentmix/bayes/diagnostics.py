"""Sampler diagnostics on relabelled draws, reported loudly when something is wrong.

Computed with ArviZ: rank-normalised split R-hat, bulk and tail effective sample sizes,
divergent transitions and E-BFMI. Run them on relabelled draws (see
:mod:`latentmix.bayes.relabel`): before relabelling, label switching between chains makes
R-hat meaningless.

A run has a problem when any R-hat exceeds 1.01, any transition diverged, any bulk or tail
ESS is below 100 per chain, or a chain's E-BFMI is below 0.3 (:data:`THRESHOLDS`).
Problems are listed in :attr:`Diagnostics.problems` and raised as a
:class:`SamplingWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from latentmix.bayes.spec import FEATURE, covariance_type_of, entry_label
from latentmix.jsonio import to_jsonable
from latentmix.params import PARAMETER_NAMES

__all__ = [
    "MIN_CHAINS",
    "MIN_DRAWS",
    "THRESHOLDS",
    "Diagnostics",
    "SamplingWarning",
    "check_run_size",
    "diagnose",
    "entry_diagnostics",
]

MIN_CHAINS = 2
MIN_DRAWS = 100
THRESHOLDS = {"r_hat": 1.01, "ess_per_chain": 100.0, "ebfmi": 0.3}


class SamplingWarning(UserWarning):
    """The sampler's output shows a problem: divergences, R-hat > 1.01, low ESS or E-BFMI."""


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of one sampling run.

    Attributes
    ----------
    max_r_hat : float
        Largest rank-normalised split R-hat over every scalar of ``weights``, ``means`` and
        ``covariances``.
    min_ess_bulk, min_ess_tail : float
        Smallest bulk and tail effective sample size over the same scalars.
    n_divergent : int
        Divergent transitions after tuning, all chains.
    ebfmi : tuple of float
        Energy Bayesian fraction of missing information, one per chain.
    n_chains, n_draws : int
        Chains and draws per chain.
    n_relabelled : int or None
        Draws whose labels the relabelling changed (``posterior.attrs["n_relabelled"]``);
        None for draws that were not relabelled.
    n_switched : int or None
        Draws whose order is not their chain's most common one
        (``posterior.attrs["n_switched"]``): label switching within chains. A chain that
        sampled a relabelled copy of the mode throughout counts in ``n_relabelled`` only.
    relabelling : str or None
        ``"assignment"`` or ``"stephens"`` (``posterior.attrs["relabelling"]``), or None.
    table : pandas.DataFrame
        One row per scalar parameter: ``r_hat``, ``ess_bulk``, ``ess_tail``, ``mcse_mean``,
        ``mcse_sd`` (``arviz.summary(kind="diagnostics")``).
    problems : tuple of str
        One sentence per problem found; empty when the run looks healthy.
    """

    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    n_divergent: int
    ebfmi: tuple
    n_chains: int
    n_draws: int
    table: object = field(repr=False)
    problems: tuple = ()
    n_relabelled: int | None = None
    n_switched: int | None = None
    relabelling: str | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict:
        """Every field but the table, JSON-ready: the one diagnostics block of a run.

        NaN (an R-hat or ESS that could not be estimated) becomes None.
        """
        return to_jsonable(
            {
                "max_r_hat": self.max_r_hat,
                "min_ess_bulk": self.min_ess_bulk,
                "min_ess_tail": self.min_ess_tail,
                "n_divergent": self.n_divergent,
                "ebfmi": list(self.ebfmi),
                "n_chains": self.n_chains,
                "n_draws": self.n_draws,
                "n_relabelled": self.n_relabelled,
                "n_switched": self.n_switched,
                "relabelling": self.relabelling,
                "problems": list(self.problems),
            }
        )


def check_run_size(chains: int, draws: int) -> None:
    """Raise a ValueError unless R-hat and ESS can be estimated from this many draws."""
    for name, value in (("chains", chains), ("draws", draws)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1; got {value!r}.")
    if chains < MIN_CHAINS or draws < MIN_DRAWS:
        raise ValueError(
            f"{chains} chain(s) x {draws} draws is too few to diagnose convergence: R-hat "
            f"compares chains and needs chains >= {MIN_CHAINS}, and R-hat and ESS need "
            f"draws >= {MIN_DRAWS} per chain. Sample more, e.g. chains=4, draws=1000 "
            "(the defaults)."
        )


def diagnose(
    idata, var_names=PARAMETER_NAMES, warn: bool = True, stacklevel: int = 2
) -> Diagnostics:
    """Diagnostics of the (relabelled) draws in ``idata``.

    Parameters
    ----------
    idata : arviz.InferenceData
        With ``posterior`` and, for divergences and E-BFMI, ``sample_stats`` holding
        ``diverging`` and ``energy``.
    var_names : sequence of str
        Posterior variables to diagnose.
    warn : bool
        Raise a :class:`SamplingWarning` listing the problems, if any.
    stacklevel : int
        Passed to ``warnings.warn`` (2: the caller of this function).

    Returns
    -------
    Diagnostics
        With ``n_relabelled`` and ``relabelling`` from ``posterior.attrs`` when
        :func:`~latentmix.bayes.relabel.relabel` wrote them.
    """
    import arviz as az

    posterior = idata.posterior
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    check_run_size(n_chains, n_draws)
    table = az.summary(idata, var_names=list(var_names), kind="diagnostics", round_to="none")
    # Entries fixed by symmetry or constant (none here, but a 1-D tied model has one) give
    # NaN R-hat; they carry no information about convergence.
    r_hat = table["r_hat"].to_numpy(dtype=float)
    ess_bulk = table["ess_bulk"].to_numpy(dtype=float)
    ess_tail = table["ess_tail"].to_numpy(dtype=float)
    max_r_hat = float(np.nanmax(r_hat)) if np.isfinite(r_hat).any() else float("nan")
    min_ess_bulk = float(np.nanmin(ess_bulk)) if np.isfinite(ess_bulk).any() else float("nan")
    min_ess_tail = float(np.nanmin(ess_tail)) if np.isfinite(ess_tail).any() else float("nan")

    stats = getattr(idata, "sample_stats", None)
    n_divergent = 0
    ebfmi = ()
    if stats is not None and "diverging" in stats:
        n_divergent = int(stats["diverging"].values.sum())
    if stats is not None and "energy" in stats:
        ebfmi = tuple(float(v) for v in az.bfmi(idata))

    problems = []
    if n_divergent > 0:
        problems.append(
            f"{n_divergent} divergent transition(s) after tuning: the draws may be biased. "
            "Look at where they occur (arviz.plot_pair(idata, divergences=True)); more tuning "
            "or a stronger prior can help."
        )
    if np.nanmax(r_hat, initial=0.0) > THRESHOLDS["r_hat"]:
        worst = _row_label(posterior, var_names, int(np.nanargmax(r_hat)), table.index)
        problems.append(
            f"R-hat up to {max_r_hat:.3f} ({worst}) exceeds {THRESHOLDS['r_hat']}: the chains "
            "disagree. Sample longer, or check for a multimodal posterior (too many "
            "components?)."
        )
    min_ess = THRESHOLDS["ess_per_chain"] * n_chains
    if min(min_ess_bulk, min_ess_tail) < min_ess:
        problems.append(
            f"effective sample size down to {min(min_ess_bulk, min_ess_tail):.0f} (bulk "
            f"{min_ess_bulk:.0f}, tail {min_ess_tail:.0f}) is below {min_ess:.0f} "
            f"({THRESHOLDS['ess_per_chain']:.0f} per chain): draw more samples."
        )
    n_relabelled = posterior.attrs.get("n_relabelled")
    n_switched = posterior.attrs.get("n_switched")
    low = [i for i, v in enumerate(ebfmi) if v < THRESHOLDS["ebfmi"]]
    if low:
        problems.append(
            f"E-BFMI below {THRESHOLDS['ebfmi']} in chain(s) {low}: the sampler explores the "
            "energy poorly; the posterior may have heavy tails or funnels."
        )
    result = Diagnostics(
        max_r_hat=max_r_hat,
        min_ess_bulk=min_ess_bulk,
        min_ess_tail=min_ess_tail,
        n_divergent=n_divergent,
        ebfmi=ebfmi,
        n_chains=int(n_chains),
        n_draws=int(n_draws),
        table=table,
        problems=tuple(problems),
        n_relabelled=None if n_relabelled is None else int(n_relabelled),
        n_switched=None if n_switched is None else int(n_switched),
        relabelling=posterior.attrs.get("relabelling"),
    )
    if warn and problems:
        warnings.warn(
            "sampling problems:\n  - " + "\n  - ".join(problems),
            SamplingWarning,
            stacklevel=stacklevel,
        )
    return result


def _row_label(posterior, var_names, row: int, arviz_names) -> str:
    """The label people read for row ``row`` of the ArviZ summary: components from 1.

    ArviZ lists each variable's entries in C order; the row's (variable, index) is found by
    walking them in the same order. A posterior this package did not write keeps ArviZ's
    (0-based) row name.
    """
    keys = [(name, index) for name in var_names for index in np.ndindex(posterior[name].shape[2:])]
    covariance_type = (
        covariance_type_of(posterior["covariances"].dims[2:])
        if "covariances" in posterior
        else None
    )
    name, index = keys[row]
    if len(keys) != len(arviz_names) or covariance_type is None or name not in PARAMETER_NAMES:
        return str(arviz_names[row])
    features = [str(f) for f in posterior[FEATURE].values]
    return entry_label(name, covariance_type, index, features)


def entry_diagnostics(idata, var_names=PARAMETER_NAMES) -> dict:
    """R-hat and ESS of every entry, as arrays in each variable's shape (ArviZ's estimators).

    Run on relabelled draws, as :func:`diagnose`; unlike it, this never raises for a short
    run: entries that cannot be estimated are NaN.

    Returns
    -------
    dict
        ``{"r_hat" | "ess_bulk" | "ess_tail": {variable: ndarray in its shape}}``; empty
        when there are too few draws to estimate them.
    """
    import arviz as az

    post = idata.posterior
    if post.sizes.get("chain", 1) < 2 and post.sizes.get("draw", 0) < 8:
        return {}
    names = list(var_names)
    out = {}
    with warnings.catch_warnings():
        # ArviZ warns about too few draws/chains for its estimates; NaN says it in the table.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        for key, fn in (
            ("r_hat", lambda: az.rhat(post, var_names=names)),
            ("ess_bulk", lambda: az.ess(post, var_names=names, method="bulk")),
            ("ess_tail", lambda: az.ess(post, var_names=names, method="tail")),
        ):
            ds = fn()
            out[key] = {g: np.asarray(ds[g].values) for g in names}
    return out
