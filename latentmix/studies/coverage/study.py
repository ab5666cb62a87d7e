"""The settings that define a coverage study, and running (or resuming) it."""

from __future__ import annotations

from latentmix.params import MixtureParams
from latentmix.studies.coverage.replicate import BOOTSTRAP_SOURCES, coverage_replicate
from latentmix.studies.coverage.truth import truth_to_dict
from latentmix.studies.runner import check_count, replicates, run_study

#: The command recorded in the output directory's manifest.
COMMAND = "study coverage"


def study_config(
    truth: MixtureParams,
    truth_name: str,
    sizes,
    n_replications: int,
    *,
    random_state: int = 0,
    level: float = 0.95,
    n_boot: int = 100,
    bootstrap=("nonparametric", "parametric"),
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    posterior_replications: int | None = None,
    vb: bool = True,
) -> dict:
    """The settings that define a coverage study (stored in OUT/study.json).

    Parameters
    ----------
    truth : MixtureParams
    truth_name : str
    sizes : iterable of int
        Sample sizes n, each at least 5 per component.
    n_replications : int
        Replicates per n.
    random_state : int
        The study seed, stored as ``seed`` (every replicate's seed is spawned from it).
    level : float
        Interval probability.
    n_boot : int
        Bootstrap refits per interval.
    bootstrap : iterable of {"nonparametric", "parametric", "weighted"}
        The bootstrap resampling schemes to run (``"weighted"``: the weighted-likelihood
        bootstrap, mclust's ``"wlbs"``).
    draws, tune, chains : int
        Posterior sampling per replicate; ``draws=0`` skips the posterior.
    posterior_replications : int, optional
        Sample the posterior on the first R replicates of each n only (default: all).
    vb : bool
        Run the variational Bayes arm (source ``"vb"``). Stored as ``"vb": true`` only when
        on: the settings of a study without it are those of a study made before the arm
        existed, so such a study resumes, and its records (made without VB) are redone when
        the arm is asked for (their settings hash differs).

    Returns
    -------
    dict
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1; got {level}.")
    sizes = [int(n) for n in sizes]
    if any(n < truth.n_components * 5 for n in sizes):
        raise ValueError(
            f"every n must be at least 5 per component ({5 * truth.n_components}); got {sizes}."
        )
    bootstrap = list(bootstrap)
    unknown = set(bootstrap) - set(BOOTSTRAP_SOURCES)
    if unknown:
        raise ValueError(
            "bootstrap resampling is 'nonparametric', 'parametric' or 'weighted'; got "
            f"{sorted(unknown)}."
        )
    check_count("--replications", n_replications, 1)
    if bootstrap:
        check_count("--n-boot", n_boot, 1)
    check_count("--draws", draws, 0)
    if draws:
        check_count("--tune", tune, 0)
        check_count("--chains", chains, 1)
    if posterior_replications is not None:
        check_count("--posterior-replications", posterior_replications, 0)
    config = {
        "study": "coverage",
        "truth_name": truth_name,
        "truth": truth_to_dict(truth),
        "sizes": sizes,
        "replications": int(n_replications),
        "seed": int(random_state),
        "level": float(level),
        "n_boot": int(n_boot),
        "bootstrap": bootstrap,
        "draws": int(draws),
        "tune": int(tune),
        "chains": int(chains),
        "posterior_replications": int(
            n_replications if posterior_replications is None else posterior_replications
        ),
    }
    if vb:
        config["vb"] = True
    return config


def run_coverage(config: dict, out, *, scheduler=None, n_workers=2, processes=True, quiet=False):
    """Run (or resume) a coverage study; returns every replicate record.

    ``scheduler``, ``n_workers`` and ``processes`` as in
    :func:`latentmix.studies.runner.run_study`.
    """
    return run_study(
        coverage_replicate,
        config,
        replicates(config["sizes"], config["replications"]),
        out,
        command=COMMAND,
        scheduler=scheduler,
        n_workers=n_workers,
        processes=processes,
        quiet=quiet,
        required=("sources",),
    )


def replicate_failed(record: dict) -> bool:
    """Whether a replicate failed as a whole: its task raised, or every source failed."""
    if record.get("status") != "ok":
        return True
    sources = record.get("sources") or {}
    return all(s.get("status") != "ok" for s in sources.values())
