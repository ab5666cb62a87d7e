"""``latentmix select``: the settings, the resumable run on Dask, the summary, the exit status.

The run has up to three phases, each a list of tasks run by
:func:`latentmix.studies.runner.run_study` into the same output directory (one stored file a
task, so an interrupted run resumes where it stopped):

1. the grid: one task per (K, covariance type) cell, the MLE and, under a prior, the MAP
   (:func:`latentmix.selection.grid.fit_cell`);
2. the bootstrap LRT (``bootstrap > 0``) within the structure of the best BIC cell: one
   task per replicate, K against K + 1 in turn until a test is not significant
   (:mod:`latentmix.selection.lrt`);
3. with ``posterior``, PSIS-LOO for each K of that structure, one task per K
   (:mod:`latentmix.selection.loo`);
4. VB in that structure with the largest K and a small Dirichlet concentration, counting
   the components that keep weight (scikit-learn's route; :func:`vb_task`), one task.

Data with missing cells (``missing="ignore"``) and observation weights (``weights``, a
column of the CSV) reach every phase: EM and VB fit the observed cells with the weights, the
LRT's replicates lose the data's missing cells and carry its weights
(:func:`latentmix.selection.lrt.bootstrap_replicate`), and the posterior of PSIS-LOO is the
weighted, observed-data one. Both settings are stored, so a run is resumed only with them.

The structure, the fitted estimates the LRT simulates from and the MAP every chain starts at
are computed from the stored grid, which the settings determine; they are passed to the
tasks beside the settings. :func:`summarise` computes ``summary.json`` from the stored
records, and the pages are made from ``summary.json`` and ``study.json`` alone
(:func:`rewrite_pages`).
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

import numpy as np

from latentmix.params import COVARIANCE_TYPES, mclust_name
from latentmix.selection import grid as G
from latentmix.selection import lrt as L
from latentmix.studies.runner import (
    Replicate,
    check_choice,
    check_count,
    check_scheduler,
    read_stored,
    run_study,
    write_pages,
)

#: The command recorded in the manifest of the output directory.
COMMAND = "select"
#: The older spelling, ``latentmix study select``: the same run, its own manifest name.
STUDY_COMMAND = "study select"

#: Default component counts of ``latentmix select`` (mclust's ``G = 1:9``).
DEFAULT_KS = tuple(range(1, 10))

#: Spawn keys of the seeds of the grid, the posterior and VB (the LRT's is ``lrt.SEED_KEY``).
GRID_SEED_KEY, LOO_SEED_KEY, VB_SEED_KEY = 1, 3, 4

#: scikit-learn's route to K by VB: fit the largest K with a small Dirichlet concentration
#: and count the components whose expected weight stays above VB_KEEP_WEIGHT.
VB_CONCENTRATION, VB_KEEP_WEIGHT = 0.01, 0.01


# --- settings ---------------------------------------------------------------------------------


def covariance_list(text, n_features: int) -> list[str]:
    """``--covariance``: ``all`` or comma-separated types, checked; in order, no repeats.

    ``all`` is every type of :data:`latentmix.params.COVARIANCE_TYPES`; in one dimension, where
    the types are two models (mclust's V and E), the first type of each.
    """
    if isinstance(text, str):
        names = [t.strip() for t in text.split(",") if t.strip()]
    else:
        names = list(text)
    if names == ["all"]:
        if n_features > 1:
            return list(COVARIANCE_TYPES)
        seen, kept = set(), []
        for t in COVARIANCE_TYPES:
            if mclust_name(t, 1) not in seen:
                seen.add(mclust_name(t, 1))
                kept.append(t)
        return kept
    if not names:
        raise ValueError(f"--covariance needs 'all' or types from {', '.join(COVARIANCE_TYPES)}.")
    for t in names:
        check_choice(
            "--covariance", t, ("all", *COVARIANCE_TYPES) if len(names) == 1 else COVARIANCE_TYPES
        )
    return list(dict.fromkeys(names))


def prior_setting(prior) -> str | dict:
    """The prior as it is stored in the settings: ``"none"``, ``"default"`` or its values."""
    from latentmix.priors import ConjugatePrior

    if prior is None or prior == "none":
        return "none"
    if prior == "default":
        return "default"
    if isinstance(prior, ConjugatePrior):
        return prior.to_dict()
    raise ValueError(f"--prior must be none, default or a prior file; got {prior!r}.")


def resolve_prior(setting):
    """The settings' prior as :class:`latentmix.EMGaussianMixture` takes it (None for none)."""
    from latentmix.priors import ConjugatePrior

    if setting == "none":
        return None
    if setting == "default":
        return "default"
    return ConjugatePrior.from_dict(setting)


#: Changes when a task's fit changes (2: the LRT's replicates fitted by the grid's own fit,
#: ``grid.fit_estimate``): an output directory made by an earlier method is refused, not
#: resumed with records its tasks would no longer write.
METHOD = 2


def select_config(
    data: str,
    ks=DEFAULT_KS,
    *,
    covariance="all",
    columns=None,
    prior="default",
    random_state: int = 0,
    n_init: int = G.N_INIT,
    bootstrap: int = 99,
    level: float = L.LEVEL,
    posterior: bool = False,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    missing: str = "error",
    weights: str | None = None,
) -> dict:
    """The settings of ``latentmix select``, every one checked (the data must load).

    Parameters
    ----------
    data : str
        A CSV path or a shipped data set's name.
    ks : iterable of int
        Component counts.
    covariance : "all", str or list of str
        Covariance types (comma-separated in a str).
    columns : str, optional
        Comma-separated columns (default: all).
    prior : "none", "default", None or ConjugatePrior
        The MAP's prior; "none" (or None) fits the MLE only. The posterior always needs a
        prior: with "none" it uses the default one.
    random_state : int
    n_init : int
        EM restarts per fit, of the grid's cells and of the LRT's replicates alike.
    bootstrap : int
        Bootstrap replicates of each LRT (0: no LRT).
    level : float
        Level of each test of the sequential LRT.
    posterior : bool
        PSIS-LOO of the posterior for each K of the chosen structure.
    draws, tune, chains : int
        The sampler's settings.
    missing : {"error", "ignore"}
        What an empty, ``NA`` or ``nan`` CSV cell means (:func:`latentmix.datasets.read_csv`):
        an error naming its row, column and this option, or a cell missing at random.
    weights : str, optional
        A column of observation weights, taken out of the data. They are read as counts:
        the BIC's n is their total, so integer weights give the tables of the data with rows
        repeated.

    Returns
    -------
    dict
        JSON-ready settings (stored as ``study.json``).
    """
    from latentmix.datasets import DataWarning, load_data, split_columns
    from latentmix.priors import ConjugatePrior

    ks = sorted({check_count("-k", k, 1) for k in ks})
    if not ks:
        raise ValueError("-k needs at least one component count.")
    n_init = check_count("--n-init", n_init, 1)
    bootstrap = check_count("--bootstrap", bootstrap, 0)
    check_count("--tune", tune, 0)
    if posterior:
        from latentmix.bayes.diagnostics import check_run_size

        check_count("--draws", draws, 1)
        check_count("--chains", chains, 1)
        try:
            check_run_size(chains, draws)
        except ValueError as err:
            raise ValueError(f"--draws/--chains: {err}") from None
    if isinstance(level, bool) or not 0 < float(level) < 1:
        raise ValueError(f"--level must be between 0 and 1 (mclust uses 0.05); got {level!r}.")
    # The smallest p-value of B replicates is 1 / (B + 1): fewer could never reject.
    needed = int(np.ceil(1.0 / float(level) - 1.0 - 1e-9))
    if 0 < bootstrap < needed:
        raise ValueError(
            f"--bootstrap {bootstrap} cannot reject at --level {level:g}: the smallest "
            f"p-value of B replicates is 1/(B + 1); use at least {needed} (or 0 for no LRT)."
        )
    cols = split_columns(columns) if isinstance(columns, str) or columns is None else columns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        dataset = load_data(data, cols, missing=missing, weights=weights)
    said = [w for w in caught if issubclass(w.category, DataWarning)]
    for w in caught:  # said once here, not again by every task that reads the data
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if said and cols is None:
        cols = list(dataset.feature_names)
    X = dataset.data
    n, d = X.shape
    types = covariance_list(covariance, d)
    if ks[-1] >= n:
        raise ValueError(
            f"K = {ks[-1]} needs more than {ks[-1]} observations; {data} has {n}. Choose -k "
            f"up to {n - 1}."
        )
    setting = prior_setting(prior)
    if isinstance(setting, dict):
        given = ConjugatePrior.from_dict(setting)
        bad = []
        for t in types:
            try:
                for K in ks:
                    given.check(d, K, t)
            except ValueError as err:
                bad.append(f"{t} ({err})")
        if bad:
            raise ValueError(
                "the prior file does not fit every covariance type asked for: "
                + "; ".join(bad)
                + ". Choose --covariance types that match its scale, or use --prior default."
            )
    return {
        "study": "select",
        "method": METHOD,
        "data": str(data),
        "columns": None if cols is None else list(cols),
        "ks": ks,
        "covariance_types": types,
        "prior": setting,
        "seed": int(random_state),
        "n_init": n_init,
        "bootstrap": bootstrap,
        "level": float(level),
        "posterior": bool(posterior),
        "draws": int(draws),
        "tune": int(tune),
        "chains": int(chains),
        "missing": missing,
        "weights": weights,
    }


def load_config_dataset(config: dict):
    """The :class:`latentmix.datasets.Dataset` of a run, with its weights (if any).

    Settings stored before ``missing`` and ``weights`` existed mean complete, unweighted data.
    """
    from latentmix.datasets import load_data

    return load_data(
        config["data"],
        config["columns"],
        missing=config.get("missing", "error"),
        weights=config.get("weights"),
    )


def load_config_data(config: dict) -> np.ndarray:
    """The data of a run, shape (n, d); NaN marks a missing cell."""
    return load_config_dataset(config).data


def _data_options(config: dict) -> tuple[np.ndarray, dict]:
    """The data and the ``missing`` and ``sample_weight`` keywords of the estimators."""
    dataset = load_config_dataset(config)
    return dataset.data, {
        "missing": config.get("missing", "error"),
        "sample_weight": dataset.sample_weight,
    }


# --- tasks (module level: pickled to the workers) -------------------------------------------


def grid_task(config: dict, n: int, index: int) -> dict:
    """The grid cell K = ``n``, covariance type ``COVARIANCE_TYPES[index]``."""
    X, options = _data_options(config)
    covariance_type = COVARIANCE_TYPES[index]
    seeds = np.random.SeedSequence(config["seed"], spawn_key=(GRID_SEED_KEY, n, index))
    return G.fit_cell(
        X, n, covariance_type, resolve_prior(config["prior"]), seeds, config["n_init"], **options
    )


def lrt_task(null: dict, alt: dict, config: dict, n: int, index: int) -> dict:
    """Replicate ``index`` of the test of K = ``n`` against K + 1 (fits given as records)."""
    X, options = _data_options(config)
    holes = np.isnan(X)
    record = L.bootstrap_replicate(
        G.params_from_record(null),
        G.params_from_record(alt),
        X.shape[0],
        L.replicate_rng(config["seed"], n, index),
        n_init=config["n_init"],
        holes=holes if holes.any() else None,
        sample_weight=options["sample_weight"],
    )
    return {"K": n, **record}


def loo_task(covariance_type: str, references: dict, config: dict, n: int, index: int) -> dict:
    """PSIS-LOO of the posterior for K = ``n``; ``references``: K -> the grid's MAP record."""
    from latentmix.selection.loo import posterior_loo

    X, options = _data_options(config)
    prior = resolve_prior(config["prior"]) or "default"
    seed = np.random.SeedSequence(config["seed"], spawn_key=(LOO_SEED_KEY, n)).generate_state(1)
    return {
        "K": n,
        "covariance_type": covariance_type,
        "posterior": posterior_loo(
            X,
            n,
            covariance_type,
            prior,
            draws=config["draws"],
            tune=config["tune"],
            chains=config["chains"],
            random_state=int(seed[0] % (2**31 - 1)),
            reference=G.params_from_record(references[n]) if n in references else None,
            **options,
        ),
    }


def vb_task(covariance_type: str, config: dict, n: int, index: int) -> dict:
    """VB with K = ``n`` components and Dirichlet concentration :data:`VB_CONCENTRATION`.

    The other hyperparameters are the MAP's prior (the default one under ``--prior none``)
    for K = ``n``. Returns the expected weights and how many keep :data:`VB_KEEP_WEIGHT`.
    """
    import dataclasses
    import warnings

    from latentmix.em.missing import default_prior
    from latentmix.priors import ConjugatePrior
    from latentmix.vb import VBGaussianMixture

    X, options = _data_options(config)
    prior = resolve_prior(config["prior"])
    if not isinstance(prior, ConjugatePrior) and (
        options["sample_weight"] is not None or np.isnan(X).any()
    ):
        # EM's prior="default" of incomplete or weighted rows.
        prior = default_prior(X, n, covariance_type, options["sample_weight"])
    elif not isinstance(prior, ConjugatePrior):
        prior = ConjugatePrior.default(X, n, covariance_type)
    prior = dataclasses.replace(prior, weight_concentration=VB_CONCENTRATION)
    seed = np.random.SeedSequence(config["seed"], spawn_key=(VB_SEED_KEY, n)).generate_state(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vb = VBGaussianMixture(
            n,
            covariance_type=covariance_type,
            prior=prior,
            n_init=config["n_init"],
            random_state=int(seed[0]),
            missing=options["missing"],
        ).fit(X, sample_weight=options["sample_weight"])
    weights = np.sort(np.asarray(vb.weights_, dtype=float))[::-1]
    return {
        "K": n,
        "covariance_type": covariance_type,
        "concentration": VB_CONCENTRATION,
        "keep_weight": VB_KEEP_WEIGHT,
        "weights": weights.tolist(),
        "n_kept": int((weights > VB_KEEP_WEIGHT).sum()),
        "elbo": float(vb.elbo_),
        "converged": bool(vb.converged_),
        "warnings": sorted({str(w.message) for w in caught}),
    }


# --- running ----------------------------------------------------------------------------------


def grid_replicates(config: dict) -> list[Replicate]:
    """One replicate per cell: ``n`` is K, ``index`` the type's place in COVARIANCE_TYPES."""
    return [
        Replicate(K, COVARIANCE_TYPES.index(t), "grid-k")
        for t in config["covariance_types"]
        for K in config["ks"]
    ]


def choose_structure(cells: list[dict]) -> tuple[str, str] | None:
    """The covariance type of the best BIC cell, and which estimate decided it.

    The MLE's BIC when any MLE succeeded (mclust's ``Mclust`` without a prior), else the
    MAP's; None when every fit failed.
    """
    cells = [c for c in cells if c.get("status") == "ok"]  # a task that raised has no fit
    for estimate in G.ESTIMATES:
        best = G.grid_table(cells, estimate, "bic")["best"]
        if best is not None:
            return best[1], estimate
    return None


def _cells_by_k(cells, covariance_type, estimate="mle") -> dict:
    return {
        c["K"]: c[estimate]
        for c in cells
        if c["covariance_type"] == covariance_type
        and (c.get(estimate) or {}).get("status") == "ok"
    }


def run_select(
    config: dict,
    out,
    *,
    command: str = COMMAND,
    scheduler=None,
    n_workers: int = 2,
    processes: bool = True,
    quiet: bool = False,
) -> dict:
    """Run (or resume) every phase and return the stored records.

    Parameters
    ----------
    config : dict
        From :func:`select_config`.
    out : path
        The output directory (claimed for ``command``).
    command : str
        ``"select"`` or ``"study select"`` (the manifest's command).
    scheduler, n_workers, processes, quiet
        As :func:`latentmix.studies.runner.run_study`; a ``"local"`` cluster is started once
        for every phase.

    Returns
    -------
    dict
        ``grid`` (cell records), ``lrt`` ({K: replicate records}), ``loo`` (records),
        ``vb`` (one record) and ``structure`` ((covariance type, estimate) or None).
    """
    from latentmix.em.chunked import dask_scheduler
    from latentmix.progress import Progress

    check_scheduler(scheduler, n_workers)
    progress = Progress(quiet)
    local = {"n_workers": n_workers, "threads_per_worker": 1, "processes": processes}
    run = functools.partial(run_study, command=command, quiet=quiet)
    with dask_scheduler(scheduler, local_cluster=local) as where:
        run = functools.partial(run, scheduler=where, n_workers=n_workers, processes=processes)
        reps = grid_replicates(config)
        progress(
            f"grid: {len(reps)} cells (K x covariance type), MLE"
            + ("" if config["prior"] == "none" else " and MAP")
        )
        cells = run(grid_task, config, reps, out, required=("K", "covariance_type", "mle"))
        result = {
            "grid": cells,
            "lrt": {},
            "loo": [],
            "vb": [],
            "structure": choose_structure(cells),
        }
        if result["structure"] is None:
            return result
        structure = result["structure"][0]
        K_max = config["ks"][-1]
        progress(f"VB: K = {K_max}, Dirichlet concentration {VB_CONCENTRATION}, {structure}")
        task = functools.partial(vb_task, structure)
        result["vb"] = run(task, config, [Replicate(K_max, 0, "vb-k")], out, required=("K",))
        if config["bootstrap"] > 0:
            result["lrt"] = _run_lrt(run, config, cells, structure, out, progress)
        if config["posterior"]:
            maps = _cells_by_k(cells, structure, "map")
            references = {K: fit["params"] for K, fit in maps.items()}
            reps = [Replicate(K, 0, "loo-k") for K in config["ks"]]
            progress(f"posterior: PSIS-LOO for K = {_span(config['ks'])}, {structure}")
            task = functools.partial(loo_task, structure, references)
            result["loo"] = run(task, config, reps, out, required=("K", "posterior"))
    return result


def _run_lrt(run, config, cells, structure, out, progress) -> dict:
    """The sequential tests: K against K + 1 until one is not significant or cannot be made."""
    fits = _cells_by_k(cells, structure)
    ks = config["ks"]
    stored = {}
    for K in ks:
        if K + 1 not in ks or K not in fits or K + 1 not in fits:
            break
        reps = [Replicate(K, b, "lrt-k") for b in range(config["bootstrap"])]
        progress(f"bootstrap LRT: {structure}, K = {K} against {K + 1}, {len(reps)} replicates")
        task = functools.partial(lrt_task, fits[K]["params"], fits[K + 1]["params"])
        stored[K] = run(task, config, reps, out, required=("K", "lrts"))
        observed = L.lrts(fits[K]["log_likelihood"], fits[K + 1]["log_likelihood"])
        if not L.lrt_result(observed, stored[K], config["level"])["significant"]:
            break
    return stored


def _span(ks) -> str:
    ks = list(ks)
    return f"{ks[0]}..{ks[-1]}" if ks == list(range(ks[0], ks[-1] + 1)) else ",".join(map(str, ks))


def exit_status(summary: dict, out, command: str = COMMAND) -> int:
    """1 with a line on stderr when every fit failed, or when every posterior failed."""
    where = Path(out).absolute() / "replicates"
    if summary["chosen"] is None:
        print(
            f"latentmix {command}: error: every EM fit of every cell failed; the reasons are "
            f"listed on the page and stored in {where}/grid-*.json.",
            file=sys.stderr,
        )
        return 1
    loo = summary.get("loo")
    if loo and loo["rows"] and all(r["status"] != "ok" for r in loo["rows"]):
        print(
            f"latentmix {command}: error: EM succeeded but the posterior failed for every K "
            f"({loo['covariance_type']}); each error is on the page and in "
            f"{where}/loo-*.json (field 'error').",
            file=sys.stderr,
        )
        return 1
    return 0


# --- pages ------------------------------------------------------------------------------------


def write_select_pages(result: dict, config: dict, out, command: str = COMMAND):
    """Compute ``summary.json`` and write the page; returns (html, md, summary)."""
    from latentmix.selection.page import render
    from latentmix.selection.summary import summarise

    summary = {**summarise(config, result), "command": command}
    html, md = write_pages(out, command, lambda directory: render(summary, config, directory))
    return html, md, summary


def rewrite_pages(out, command: str = COMMAND):
    """Make the pages of a finished run again from ``summary.json`` and ``study.json``."""
    from latentmix.selection.page import render

    config, summary = read_stored(out)
    return write_pages(out, command, lambda directory: render(summary, config, directory))
