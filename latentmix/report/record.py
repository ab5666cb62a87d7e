"""``estimates.json``: every number of a report, for programs (the schema is an API).

The fields are documented in ``docs/estimates-json.md``. Components are numbered from 0
everywhere in the file (array positions, ``index`` fields, ``row`` of the data set); only
the ``label`` strings, which are text for people, count components and features from 1.

:data:`SCHEMA_VERSION` changes when a field is removed or renamed, or its type or meaning
changes; adding a field does not change it. A program reading the file checks it first.
"""

from __future__ import annotations

import platform
from importlib import metadata

import numpy as np

from latentmix.comparison import PARETO_K_MAX
from latentmix.report.vb import to_dict as vb_record

SCHEMA_VERSION = 2

# The packages whose versions a report records (with Python's).
PACKAGES = (
    "latentmix", "numpy", "scipy", "pymc", "pytensor", "arviz", "nutpie", "matplotlib",
)  # fmt: skip


def package_versions() -> list[dict]:
    """Versions of Python and of :data:`PACKAGES`, as ``{"package", "version"}`` rows."""
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in PACKAGES:
        try:
            rows.append({"package": name, "version": metadata.version(name)})
        except metadata.PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    return rows


def thresholds(chains: int) -> dict:
    """Where each diagnostic turns from good to bad, for a run of ``chains`` chains.

    Returns
    -------
    dict
        ``max_r_hat`` (R-hat is good at or below it), ``min_ess`` (bulk and tail ESS are good
        at or above it: the sampler's per-chain minimum times ``chains``), ``min_ebfmi``,
        ``max_pareto_k`` (PSIS-LOO is reliable at a point whose Pareto k is at or below it).
    """
    from latentmix.bayes.diagnostics import THRESHOLDS

    return {
        "max_r_hat": THRESHOLDS["r_hat"],
        "min_ess": round(THRESHOLDS["ess_per_chain"] * chains),
        "min_ebfmi": THRESHOLDS["ebfmi"],
        "max_pareto_k": PARETO_K_MAX,
    }


def estimates_record(analysis, warnings: list[str]) -> dict:
    """The content of ``estimates.json``, JSON-ready.

    Parameters
    ----------
    analysis : latentmix.report.analysis.Analysis
    warnings : list of str
        The sentences of the page's warning box.

    Returns
    -------
    dict
        See ``docs/estimates-json.md``.
    """
    from latentmix.jsonio import to_jsonable

    s = analysis.settings
    w = analysis.sample_weight
    comparison = analysis.comparison.to_dict(analysis.X)
    # Rows of the data file (from 0), not of the training subset.
    data_rows = analysis.data_rows()
    for rec in comparison["membership"]["top"]:
        rec["row"] = int(data_rows[rec["row"]])
    em = {
        name: None
        if model is None
        else {
            "objective": model.objective_,
            "log_likelihood": model.log_likelihood_,
            "log_prior": model.log_prior_,
            "n_iter": model.n_iter_,
            "converged": model.converged_,
            # 0-based, as all indices here; the warning box says why (latentmix.em.spurious).
            "spurious_components": [int(k) for k in getattr(model, "spurious_components_", [])],
        }
        for name, model in (("mle", analysis.mle), ("map", analysis.map))
    }
    em["mle_error"] = analysis.mle_error
    record = {
        "schema_version": SCHEMA_VERSION,
        "command": analysis.command,
        "data": {
            "name": analysis.dataset.name,
            "n_train": int(analysis.X.shape[0]),
            "n_test": 0 if analysis.X_test is None else int(analysis.X_test.shape[0]),
            "n_features": int(analysis.X.shape[1]),
            "n_missing_cells": analysis.n_missing_cells,
            "n_incomplete_rows": int(np.isnan(analysis.X).any(axis=1).sum()),
            "weights_column": getattr(analysis.dataset, "weights_column", None),
            "total_weight": None if w is None else float(w.sum()),
        },
        "settings": {
            "n_components": s.n_components,
            "covariance_type": s.covariance_type,
            "prior": "default" if isinstance(s.prior, str) else "file",
            "draws": s.draws,
            "tune": s.tune,
            "chains": s.chains,
            "seed": s.seed,
            "test_fraction": s.test_fraction,
            "posterior_rows": getattr(s, "posterior_rows", None),
            "chain_starts": getattr(s, "chain_starts", "optima"),
            "n_init": s.n_init,
            "sampler": s.sampler,
            "level": s.level,
            "order": s.order,
            "missing": s.missing,
            "weighted": w is not None,
        },
        "prior": analysis.prior.to_dict(),
        "em": em,
        "diagnostics": {**analysis.diagnostics, "thresholds": thresholds(s.chains)},
        "warnings": list(warnings),
        "comparison": comparison,
        "vb": vb_record(analysis.vb, analysis.comparison, getattr(analysis, "vb_error", None)),
        "missing": None if analysis.imputation is None else analysis.imputation.to_dict(),
        "modes": None if getattr(analysis, "modes", None) is None else analysis.modes._asdict(),
        "timings_seconds": dict(analysis.timings),
        "versions": {r["package"]: r["version"] for r in package_versions()},
    }
    return to_jsonable(record)
