"""Coverage, bias, RMSE and interval width per source, n and parameter, with Monte Carlo errors.

The summary is everything the study's page shows: it is written to ``OUT/summary.json`` and
the page is made from it (and ``study.json``) alone, so the page can be made again without the
replicate files.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from latentmix.em.parameterisation import natural_vector, parameter_names
from latentmix.jsonio import dumps
from latentmix.studies.coverage.replicate import SOURCE_LABELS, SOURCES
from latentmix.studies.coverage.truth import truth_from_dict


def _mc_se(values) -> float:
    """Monte Carlo standard error of a mean."""
    R = len(values)
    return float(np.std(values, ddof=1) / np.sqrt(R)) if R > 1 else float("nan")


def _ok(record: dict) -> bool:
    return record.get("status") == "ok"


def _rows(ok: list[dict], source: str, n: int, names, true_vec) -> list[dict]:
    rows = []
    for name, true in zip(names, true_vec, strict=True):
        vals = [m["parameters"][name] for m in ok]
        R = len(vals)
        if R == 0:
            continue
        covered = np.array([v["covered"] for v in vals], float)
        err = np.array([v["error"] for v in vals])
        width = np.array([v["width"] for v in vals])
        c = covered.mean()
        sq = err**2
        rmse = np.sqrt(sq.mean())
        rows.append(
            {
                "source": source,
                "n": n,
                "parameter": name,
                "true": float(true),
                "replicates": R,
                "coverage": c,
                "coverage_mc_se": np.sqrt(c * (1 - c) / R),
                "bias": err.mean(),
                "bias_mc_se": _mc_se(err),
                "rmse": rmse,
                "rmse_mc_se": _mc_se(sq) / (2 * rmse) if rmse > 0 else np.nan,
                "mean_width": width.mean(),
                "width_mc_se": _mc_se(width),
            }
        )
    return rows


def _posterior_diagnostics(records: list[dict]) -> dict | None:
    post = [
        r["sources"]["posterior"]
        for r in records
        if _ok(r) and _ok(r["sources"].get("posterior", {}))
    ]
    if not post:
        return None
    r_hat = [p["max_r_hat"] for p in post]
    return {
        "n_fits": len(post),
        "max_r_hat_median": float(np.median(r_hat)),
        "max_r_hat_worst": float(np.max(r_hat)),
        "fits_with_divergences": sum(p["divergences"] > 0 for p in post),
        "n_relabelled_median": float(np.median([p.get("n_relabelled", 0) for p in post])),
        "sample_seconds_median": float(np.median([p["sample_seconds"] for p in post])),
        "compile_seconds_median": float(np.median([p["compile_seconds"] for p in post])),
        # Where each fit's sampler came from (latentmix.bayes.cache.SOURCES); older records
        # made before the shared cache do not say.
        "compile_sources": dict(
            Counter(p.get("compile_source", "unrecorded") for p in post).most_common()
        ),
        "compile_seconds_total": float(sum(p["compile_seconds"] for p in post)),
    }


def summarise(records: list[dict], config: dict) -> dict:
    """The study's summary, JSON-ready (NaN as None).

    Returns
    -------
    dict
        ``rows``: one per (source, n, parameter) with coverage, bias, RMSE and mean width,
        each with its Monte Carlo SE; ``overall``: one per (source, n) with the replicates
        attempted, succeeded and failed, and coverage averaged over parameters; ``names``:
        the parameters (0-based); ``source_labels``: the text of each source;
        ``posterior``: sampling diagnostics of the posterior fits (or None); ``failures``:
        every failed replicate (``source`` None) and failed source, with its error;
        ``matching``: how many replicates used each matching rule (see
        :data:`~latentmix.studies.coverage.replicate.MATCHING_RULES`).
    """
    truth = truth_from_dict(config["truth"])
    names = parameter_names(truth.n_components, truth.n_features, truth.covariance_type)
    true_vec = natural_vector(truth)
    rows, overall = [], []
    for source in SOURCES:
        for n in config["sizes"]:
            at_n = [r for r in records if r["n"] == n]
            attempted = [r for r in at_n if not _ok(r) or source in r.get("sources", {})]
            if not attempted:
                continue
            ok = [
                r["sources"][source]
                for r in at_n
                if _ok(r) and _ok(r.get("sources", {}).get(source, {}))
            ]
            new = _rows(ok, source, n, names, true_vec)
            rows += new
            coverages = [row["coverage"] for row in new]
            overall.append(
                {
                    "source": source,
                    "n": n,
                    "attempted": len(attempted),
                    "ok": len(ok),
                    "failed": len(attempted) - len(ok),
                    "mean_coverage": np.mean(coverages) if coverages else np.nan,
                    "min_coverage": np.min(coverages) if coverages else np.nan,
                    "max_coverage": np.max(coverages) if coverages else np.nan,
                    "mean_width": np.mean([r["mean_width"] for r in new]) if new else np.nan,
                    "mean_rmse": np.mean([r["rmse"] for r in new]) if new else np.nan,
                    "seconds": np.mean([m["seconds"] for m in ok]) if ok else np.nan,
                }
            )
    failures = [
        {"key": r.get("key"), "source": None, "error": r.get("error")}
        for r in records
        if not _ok(r)
    ] + [
        {"key": r["key"], "source": source, "error": v["error"]}
        for r in records
        if _ok(r)
        for source, v in r["sources"].items()
        if not _ok(v)
    ]
    matching: dict = {}
    for r in records:
        if _ok(r):
            rule = r.get("matching", "unrecorded")
            matching[rule] = matching.get(rule, 0) + 1
    summary = {
        "matching": matching,
        "source_labels": {s: SOURCE_LABELS[s] for s in SOURCES},
        "names": names,
        "overall": overall,
        "rows": rows,
        "posterior": _posterior_diagnostics(records),
        "failures": failures,
    }
    # Through JSON and back: the page sees what summary.json holds, whoever calls it.
    return json.loads(dumps(summary))
