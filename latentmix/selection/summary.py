"""``summary.json`` of ``latentmix select``: everything the page shows, from the stored records.

Criteria carry mclust's sign (larger is better; :mod:`latentmix.selection.criteria`). Cells
are named ``[K, covariance_type]``; components are counted from 1 in the text a person reads.
"""

from __future__ import annotations

import json

from latentmix.jsonio import dumps
from latentmix.params import mclust_name
from latentmix.selection import criteria
from latentmix.selection import grid as G
from latentmix.selection import lrt as L

#: How the criteria are signed, stated on the page and in summary.json.
SIGN = (
    "BIC = 2 log L - p log n, ICL = BIC + 2 sum_i log t_i,z_i and AIC = 2 log L - 2 p: larger "
    "is better (mclust's sign; EMGaussianMixture.bic is scikit-learn's, its negative)"
)
CRITERIA = ("bic", "icl", "aic")
BOUNDS = (2.0, 6.0, 10.0)


def _cell_summary(cell: dict) -> dict:
    out = {k: cell[k] for k in ("K", "covariance_type", "model")}
    for estimate in G.ESTIMATES:
        fit = cell.get(estimate)
        out[estimate] = None if fit is None else {k: v for k, v in fit.items() if k != "params"}
    return out


def _table(cells, estimate):
    tables = {c: G.grid_table(cells, estimate, c) for c in CRITERIA}
    bic = tables["bic"]
    return {
        "best": {c: None if t["best"] is None else list(t["best"]) for c, t in tables.items()},
        "within": {f"{b:g}": [list(k) for k in bic["within"][b]] for b in BOUNDS},
        "bic_difference": [
            [K, t, d] for (K, t), d in sorted(bic["difference"].items(), key=lambda kv: kv[1])
        ],
    }


def _lrt(config, result, structure) -> dict | None:
    if config["bootstrap"] == 0 or structure is None:
        return None
    fits = {
        c["K"]: c["mle"]
        for c in result["grid"]
        if c["covariance_type"] == structure and (c.get("mle") or {}).get("status") == "ok"
    }
    tests = []
    for K, records in sorted(result["lrt"].items()):
        observed = L.lrts(fits[K]["log_likelihood"], fits[K + 1]["log_likelihood"])
        test = L.lrt_result(observed, records, config["level"])
        errors = sorted({r.get("error", "") for r in records if r.get("status") != "ok"})
        tests.append({"K": K, "alternative": K + 1, **test, "errors": errors})
    ks = config["ks"]
    pick, note = None, ""
    for t in tests:
        if not t["significant"]:
            pick = t["K"]
            break
    else:
        if tests:
            last = tests[-1]["alternative"]
            pick = last
            if last == ks[-1]:
                note = f"every test was significant: at least {last} components"
            else:
                note = f"the test of {last} against {last + 1} could not be made (a fit failed)"
        else:
            first = ks[0]
            note = f"no test: -k must hold K and K + 1 with both MLEs fitted (from K = {first})"
    return {
        "covariance_type": structure,
        "level": config["level"],
        "n_boot": config["bootstrap"],
        "tests": tests,
        "k": pick,
        "note": note,
    }


def _loo(config, result, structure) -> dict | None:
    from latentmix.comparison import PARETO_K_MAX
    from latentmix.selection.loo import compare_loo

    if not config["posterior"] or structure is None:
        return None
    ok = {r["K"]: r["posterior"] for r in result["loo"] if r.get("status") == "ok"}
    compared = {row["K"]: row for row in compare_loo(ok, config["seed"])}
    rows = []
    for r in sorted(result["loo"], key=lambda r: r["n"]):
        K = r["n"]
        row = {"K": K, "status": r.get("status"), "error": r.get("error")}
        if K in ok:
            p = ok[K]
            row.update(
                {
                    k: p[k]
                    for k in (
                        "elpd_loo",
                        "se",
                        "p_loo",
                        "n_bad_k",
                        "max_k",
                        "max_r_hat",
                        "divergences",
                        "warnings",
                    )
                }
            )
            row.update(
                {
                    k: compared[K][k]
                    for k in ("rank", "elpd_diff", "dse", "weight_stacking", "weight_pseudo_bma")
                }
            )
        rows.append(row)
    best = min(compared.values(), key=lambda r: r["rank"])["K"] if compared else None
    return {
        "covariance_type": structure,
        "prior": {
            "none": "the default prior (mclust's defaultPrior; --prior none fits no MAP, but "
            "a posterior needs a proper prior)",
            "default": "the default prior (mclust's defaultPrior), the MAP's",
        }.get(config["prior"], "the prior of the prior file, the MAP's")
        if isinstance(config["prior"], str)
        else "the prior of the prior file, the MAP's",
        "pareto_k_max": PARETO_K_MAX,
        "rows": rows,
        "k": best,
    }


def data_notes(dataset) -> dict:
    """The missing cells and the observation weights of the data, counted for the page.

    Parameters
    ----------
    dataset : latentmix.datasets.Dataset

    Returns
    -------
    dict
        ``n_cells``, ``n_missing_cells``, ``n_incomplete_rows``, ``missing_by_column``
        ({column: missing cells}, the columns with any), and ``weights`` (None, or
        ``column``, ``total``, ``min``, ``max`` and ``n_zero``: rows of weight 0).
    """
    import numpy as np

    holes = np.isnan(dataset.data)
    names = list(dataset.feature_names)
    counts = holes.sum(axis=0)
    w = dataset.sample_weight
    return {
        "n_cells": int(holes.size),
        "n_missing_cells": int(holes.sum()),
        "n_incomplete_rows": int(holes.any(axis=1).sum()),
        "missing_by_column": {name: int(c) for name, c in zip(names, counts, strict=True) if c},
        "weights": None
        if w is None
        else {
            "column": dataset.weights_column,
            "total": float(w.sum()),
            "min": float(w.min()),
            "max": float(w.max()),
            "n_zero": int((w == 0).sum()),
        },
    }


def _vb(result) -> dict | None:
    records = [r for r in result.get("vb") or () if r.get("status") == "ok"]
    failed = [r for r in result.get("vb") or () if r.get("status") != "ok"]
    if records:
        keep = {
            "K",
            "covariance_type",
            "concentration",
            "keep_weight",
            "weights",
            "n_kept",
            "elbo",
            "converged",
            "warnings",
        }
        return {k: v for k, v in records[0].items() if k in keep}
    if failed:
        return {"error": failed[0].get("error", ""), "n_kept": None}
    return None


def _picks(tables, lrt, loo, structure, vb=None) -> list[dict]:
    picks = []
    names = {"bic": "BIC", "icl": "ICL", "aic": "AIC"}
    for estimate, label in (("mle", ""), ("map", " (MAP)")):
        if estimate not in tables:
            continue
        for c in CRITERIA if estimate == "mle" else ("bic",):
            best = tables[estimate]["best"][c]
            if best is not None:
                picks.append(
                    {
                        "criterion": names[c] + label,
                        "K": best[0],
                        "covariance_type": best[1],
                        "note": "",
                    }
                )
    if lrt is not None:
        picks.append(
            {
                "criterion": "bootstrap LRT",
                "K": lrt["k"],
                "covariance_type": structure,
                "note": lrt["note"],
            }
        )
    if loo is not None and loo["k"] is not None:
        picks.append(
            {"criterion": "PSIS-LOO", "K": loo["k"], "covariance_type": structure, "note": ""}
        )
    if vb is not None and vb.get("n_kept") is not None:
        note = (
            f"components with expected weight above {vb['keep_weight']:g} out of {vb['K']}, "
            f"Dirichlet concentration {vb['concentration']:g}"
        )
        if vb["n_kept"] == vb["K"]:
            note += "; every one kept weight, so K may be larger"
        picks.append(
            {"criterion": "VB", "K": vb["n_kept"], "covariance_type": structure, "note": note}
        )
    return picks


def paragraph(picks, chosen, n_cells) -> str:
    """The page's one-paragraph summary: which K each criterion picks, and whether they agree."""
    if chosen is None:
        return f"Every EM fit of the {n_cells} cells failed, so no model is chosen."
    parts = []
    for p in picks:
        where = f" {mclust_name(p['covariance_type'], chosen['n_features'])}"
        k = "no K" if p["K"] is None else f"K = {p['K']}"
        parts.append(
            f"{p['criterion']} picks {k}{where}" + (f" ({p['note']})" if p["note"] else "")
        )
    ks = {p["K"] for p in picks if p["K"] is not None}
    verdict = (
        f"they agree on {ks.pop()} components."
        if len(ks) == 1
        else f"they disagree: {', '.join(map(str, sorted(ks)))} components are each picked by "
        "some criterion, which says the data do not settle K."
    )
    return (
        f"The chosen model is {chosen['model']} ({chosen['covariance_type']}) with K = "
        f"{chosen['K']}, the best BIC of the {chosen['estimate'].upper()}. "
        + "; ".join(parts)
        + "; "
        + verdict
    )


def summarise(config: dict, result: dict) -> dict:
    """The summary of a run from its records (:func:`latentmix.selection.run.run_select`).

    Returns
    -------
    dict
        JSON-ready: ``sign``, ``n_samples``, ``n_features``, ``feature_names``, ``cells``,
        ``tables`` (per estimate: ``best`` per criterion, cells ``within`` 2, 6 and 10 BIC
        units, every ``bic_difference``), ``chosen`` (the best BIC cell with its
        parameters), ``failures``, ``lrt``, ``loo``, ``picks``, ``agree``, ``paragraph`` and
        ``data`` (:func:`data_notes`: missing cells and weights).
    """
    from latentmix.selection.run import load_config_dataset

    data = load_config_dataset(config)
    n, d = data.data.shape
    cells = [c for c in result["grid"] if c.get("status") == "ok"]
    crashed = [
        {
            "K": c["n"],
            "covariance_type": c.get("covariance_type", ""),
            "model": "",
            "estimate": "task",
            "error": c.get("error", ""),
        }
        for c in result["grid"]
        if c.get("status") != "ok"
    ]
    estimates = ["mle"] + ([] if config["prior"] == "none" else ["map"])
    tables = {e: _table(cells, e) for e in estimates}
    chosen = None
    if result["structure"] is not None:
        structure, estimate = result["structure"]
        K = tables[estimate]["best"]["bic"][0]
        cell = next(c for c in cells if c["K"] == K and c["covariance_type"] == structure)
        chosen = {
            "K": K,
            "covariance_type": structure,
            "model": cell["model"],
            "estimate": estimate,
            "n_features": d,
            "params": cell[estimate]["params"],
        }
    structure = None if chosen is None else chosen["covariance_type"]
    lrt = _lrt(config, result, structure)
    loo = _loo(config, result, structure)
    vb = _vb(result) if structure is not None else None
    picks = _picks(tables, lrt, loo, structure, vb)
    ks = {p["K"] for p in picks if p["K"] is not None}
    summary = {
        "sign": SIGN,
        "kass_raftery": [[b, w] for b, w in criteria.KASS_RAFTERY]
        + [[None, criteria.VERY_STRONG]],
        "n_samples": n,
        "n_features": d,
        "feature_names": list(data.feature_names)
        if data.feature_names is not None
        else [f"x{j + 1}" for j in range(d)],
        "cells": [_cell_summary(c) for c in cells],
        "tables": tables,
        "chosen": chosen,
        "failures": G.failures(cells) + crashed,
        "lrt": lrt,
        "loo": loo,
        "vb": vb,
        "picks": picks,
        "agree": len(ks) == 1,
        "paragraph": paragraph(picks, chosen, len(result["grid"])),
        "data": data_notes(data),
    }
    return json.loads(dumps(summary))
