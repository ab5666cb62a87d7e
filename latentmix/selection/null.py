"""The null distribution of the bootstrap LRT: uniform p-values when K is right.

Each replicate of this study simulates n rows from a known K-component mixture (the truth),
fits K and K + 1 components by EM as ``latentmix select`` does
(:func:`latentmix.selection.grid.fit_cell`), and computes the bootstrap p-value of K against
K + 1 from B bootstrap replicates (:func:`latentmix.selection.lrt.bootstrap_replicate`). Under
the null the p-value ``(1 + #{LRTS* >= LRTS}) / (B + 1)`` is uniform on
``{1/(B+1), ..., 1}``, so the test rejects at level ``j / (B + 1)`` with probability exactly
``j / (B + 1)``; :func:`summarise_null` tests that (Kolmogorov-Smirnov against the discrete
uniform, and the rejection rate at 0.05 and 0.10 with exact binomial intervals).

One replicate is one task of :func:`latentmix.studies.runner.run_study`, so the study runs on
Dask and resumes; ``reports/select-lrt-null/run.sh`` makes the committed page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentmix.jsonio import write_json
from latentmix.selection import grid as G
from latentmix.selection import lrt as L
from latentmix.studies.page import number, write_study_page
from latentmix.studies.runner import (
    SUMMARY_FILE,
    Replicate,
    read_stored,
    replicate_seed,
    run_study,
    write_pages,
)

COMMAND = "study select-lrt-null"

#: The truths of the committed study, one dimension: one Gaussian, and two separated ones.
TRUTHS = {
    "one": {"weights": [1.0], "means": [[0.0]], "covariances": [[[1.0]]]},
    "two": {
        "weights": [0.4, 0.6],
        "means": [[-2.5], [2.5]],
        "covariances": [[[1.0]], [[1.0]]],
    },
}


def null_config(
    truths=("one", "two"), *, n=100, replications=100, bootstrap=19, n_init=3, seed=0
) -> dict:
    """The settings of the null study (JSON-ready)."""
    return {
        "study": "select-lrt-null",
        "truths": {name: {**TRUTHS[name], "covariance_type": "full"} for name in truths},
        "n": int(n),
        "replications": int(replications),
        "bootstrap": int(bootstrap),
        "n_init": int(n_init),
        "seed": int(seed),
    }


def null_task(config: dict, n: int, index: int) -> dict:
    """Replicate ``index`` of truth number ``n`` (in the order of ``config["truths"]``)."""
    from latentmix.params import sample_mixture

    name = list(config["truths"])[n]
    truth = G.params_from_record(config["truths"][name])
    K = truth.n_components
    seeds = replicate_seed(config["seed"], n, index).spawn(3)
    X, _ = sample_mixture(truth, config["n"], np.random.default_rng(seeds[0]))
    fits = [
        G.fit_cell(X, k, "full", None, s, config["n_init"])["mle"]
        for k, s in zip((K, K + 1), seeds[1].spawn(2), strict=True)
    ]
    for fit in fits:
        if fit["status"] != "ok":
            raise RuntimeError(f"the fit of the data failed: {fit['error']}")
    observed = L.lrts(fits[0]["log_likelihood"], fits[1]["log_likelihood"])
    null, alt = (G.params_from_record(f["params"]) for f in fits)
    rng = np.random.default_rng(seeds[2])
    boot = [L.bootstrap_replicate(null, alt, config["n"], rng) for _ in range(config["bootstrap"])]
    lrts = [b["lrts"] for b in boot]
    return {
        "truth": name,
        "K": K,
        "lrts": observed,
        "p_value": L.p_value(observed, lrts),
        "boot_lrts": lrts,
        "redraws": int(sum(b["redraws"] for b in boot)),
    }


def run_null(config, out, *, scheduler=None, n_workers=2, quiet=False) -> list[dict]:
    """Run (or resume) the study: one task per simulated data set."""
    reps = [
        Replicate(i, r, "truth")
        for i in range(len(config["truths"]))
        for r in range(config["replications"])
    ]
    return run_study(
        null_task,
        config,
        reps,
        out,
        command=COMMAND,
        scheduler=scheduler,
        n_workers=n_workers,
        quiet=quiet,
        required=("p_value",),
    )


def summarise_null(records: list[dict], config: dict) -> dict:
    """Per truth: the p-values, the KS test against the discrete uniform, rejection rates."""
    from scipy.stats import binomtest, kstest

    B = config["bootstrap"]
    grid = np.arange(1, B + 2) / (B + 1)
    out = {}
    for name in config["truths"]:
        rows = [r for r in records if r.get("status") == "ok" and r["truth"] == name]
        p = np.sort([r["p_value"] for r in rows])
        failed = sum(1 for r in records if r.get("status") != "ok")
        entry = {"n_replicates": int(p.size), "p_values": p.tolist(), "n_failed_runs": failed}
        if p.size:
            # The p-value's null law: uniform on {1/(B+1), ..., 1}.
            ks = kstest(p, lambda x: np.floor(np.asarray(x) * (B + 1) + 1e-9) / (B + 1))
            entry["ks_statistic"], entry["ks_p_value"] = float(ks.statistic), float(ks.pvalue)
            entry["rejections"] = {}
            for level in (0.05, 0.10):
                if not np.any(grid <= level + 1e-12):
                    continue  # B too small for a test at this level
                nominal = float(grid[grid <= level + 1e-12].max())
                k = int((p <= level + 1e-12).sum())
                ci = binomtest(k, p.size, nominal).proportion_ci(0.95, "exact")
                entry["rejections"][f"{level:g}"] = {
                    "nominal": nominal,
                    "count": k,
                    "rate": k / p.size,
                    "interval": [float(ci.low), float(ci.high)],
                    "binomial_p_value": float(binomtest(k, p.size, nominal).pvalue),
                }
        out[name] = entry
    return {"truths": out, "bootstrap": B}


def _figure(summary, config, directory: Path) -> Path:
    from matplotlib.figure import Figure

    from latentmix.pages import save_figure

    names = list(summary["truths"])
    fig = Figure(figsize=(4.6 * len(names), 3.8))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    B = summary["bootstrap"]
    for ax, name in zip(axes, names, strict=True):
        p = np.asarray(summary["truths"][name]["p_values"])
        if p.size:
            ax.step(
                np.r_[0, p],
                np.arange(p.size + 1) / p.size,
                where="post",
                color="C0",
                label=f"{p.size} simulated data sets",
            )
        grid = np.arange(0, B + 2) / (B + 1)
        ax.step(
            grid,
            grid,
            where="post",
            color="black",
            ls="--",
            lw=1,
            label=f"uniform on {{1/{B + 1}, ..., 1}}",
        )
        K = len(config["truths"][name]["weights"])
        ax.set_title(f"truth K = {K}: test of {K} against {K + 1}", fontsize=10)
        ax.set_xlabel("bootstrap p-value")
        ax.set_ylabel("fraction of data sets with p <= x")
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, directory / "figures" / "p-values.png")


def render(summary, config, directory) -> tuple[Path, Path]:
    """Write summary.json, the figure and the page."""
    directory = Path(directory)
    write_json(directory / SUMMARY_FILE, summary)
    figure = _figure(summary, config, directory)
    rows = []
    for name, t in summary["truths"].items():
        K = len(config["truths"][name]["weights"])
        for level, r in (t.get("rejections") or {}).items():
            rows.append(
                [
                    f"K = {K} vs {K + 1}",
                    t["n_replicates"],
                    level,
                    number(r["nominal"]),
                    r["count"],
                    number(r["rate"]),
                    f"{number(r['interval'][0])} to {number(r['interval'][1])}",
                    number(r["binomial_p_value"]),
                    number(t["ks_p_value"]),
                ]
            )
    truths = "; ".join(
        f"K = {len(t['weights'])}: weights {t['weights']}, means {[m[0] for m in t['means']]}, "
        f"variances {[c[0][0] for c in t['covariances']]}"
        for t in config["truths"].values()
    )
    sections = [
        {
            "heading": None,
            "paragraphs": [
                f"Under the null the bootstrap LRT's p-value is uniform on {{1/(B + 1), ..., 1}} "
                f"(B = {summary['bootstrap']}): each data set of n = {config['n']} rows is drawn "
                "from a K-component mixture, K and K + 1 components are fitted by EM "
                f"({config['n_init']} restarts, as latentmix select) and K is tested against "
                f"K + 1 by {summary['bootstrap']} bootstrap replicates. Truths (one dimension): "
                f"{truths}.",
                "The rejection rate at each level should be the nominal one (the largest "
                "attainable p-value not above the level), and the empirical distribution of the "
                "p-values should follow the dashed staircase.",
            ],
            "tables": [
                {
                    "headers": [
                        "test",
                        "data sets",
                        "level",
                        "nominal rate",
                        "rejections",
                        "rate",
                        "95% interval (exact)",
                        "binomial p-value",
                        "KS p-value (uniform)",
                    ],
                    "rows": rows,
                }
            ],
            "figures": [{"path": figure, "caption": "The p-values against their null law."}],
        },
        {
            "heading": "How this page is made",
            "paragraphs": [
                "reports/select-lrt-null/run.sh (latentmix.selection.null.run_null); one "
                "simulated data set a task, stored in replicates/ and resumed if interrupted."
            ],
        },
    ]
    return write_study_page(sections, directory, "report", "The bootstrap LRT under the null")


def write_null_pages(records, config, out):
    """The page of the null study."""
    summary = summarise_null(records, config)
    return write_pages(out, COMMAND, lambda directory: render(summary, config, directory))


def rewrite_pages(out):
    """The page again from summary.json and study.json."""
    config, summary = read_stored(out)
    return write_pages(out, COMMAND, lambda directory: render(summary, config, directory))


def main(argv=None) -> None:
    """``python -m latentmix.selection.null OUT``: the committed study into ``OUT``."""
    import argparse

    parser = argparse.ArgumentParser(description="The bootstrap LRT under the null.")
    parser.add_argument("out")
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=19)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--scheduler", default="local")
    args = parser.parse_args(argv)
    config = null_config(
        n=100, replications=args.replications, bootstrap=args.bootstrap, n_init=3, seed=args.seed
    )
    records = run_null(config, args.out, scheduler=args.scheduler, n_workers=2)
    print(*write_null_pages(records, config, args.out))


if __name__ == "__main__":
    main()
