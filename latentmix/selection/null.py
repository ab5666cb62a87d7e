"""The null distribution of the bootstrap LRT: uniform p-values when K is right.

Each replicate of this study simulates n rows from a known K-component mixture (the truth),
fits K and K + 1 components by EM as ``latentmix select`` does
(:func:`latentmix.selection.grid.fit_cell`, with select's restarts
:data:`latentmix.selection.grid.N_INIT` unless told otherwise), and computes the bootstrap
p-value of K against K + 1 from B bootstrap replicates
(:func:`latentmix.selection.lrt.bootstrap_replicate`, whose fits are the data's). Under the
null the p-value ``(1 + #{LRTS* >= LRTS}) / (B + 1)`` is uniform on ``{1/(B+1), ..., 1}``
(exactly for one Gaussian, see :mod:`latentmix.selection.lrt`), so the test rejects at level
``j / (B + 1)`` with probability ``j / (B + 1)``. :func:`summarise_null` tests that with
:func:`uniformity_tests` (Kolmogorov-Smirnov and chi-square against that discrete law, both
with Monte Carlo p-values) and measures the rejection rates at 0.05 and 0.10 with exact
binomial intervals.

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

#: Samples of the discrete uniform law drawn for the Monte Carlo p-values of
#: :func:`uniformity_tests` (the p-value's standard error is at most 0.0016).
MONTE_CARLO = 100_000

#: The spawn key of the Monte Carlo seeds (the replicates use (truth, index)).
MONTE_CARLO_KEY = (99,)

#: The level at which the page calls a test of uniformity a rejection.
LEVEL = 0.05

#: Quantiles of the data's statistics and of the pooled bootstrap ones shown side by side.
QUANTILES = (0.25, 0.5, 0.75, 0.9, 0.95)

#: The names of the two tests of uniformity, as their keys in the summary.
TESTS = {"ks": "Kolmogorov-Smirnov", "chi2": "chi-square"}

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
    truths=("one", "two"), *, n=100, replications=100, bootstrap=19, n_init=G.N_INIT, seed=0
) -> dict:
    """The settings of the null study (JSON-ready); ``n_init``: the EM restarts of every fit."""
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
    boot = [
        L.bootstrap_replicate(null, alt, config["n"], rng, n_init=config["n_init"])
        for _ in range(config["bootstrap"])
    ]
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


def uniformity_tests(p, bootstrap: int, rng, draws: int = MONTE_CARLO) -> dict:
    """Tests of p-values against the discrete uniform law on ``{1/(B+1), ..., 1}``.

    The p-values take B + 1 values, so the continuous Kolmogorov-Smirnov test does not apply:
    ``scipy.stats.kstest`` with that law's CDF compares it at each value with the empirical
    CDF just below the value (too large by up to 1/(B + 1) at a tie), and its p-value is the
    continuous law's. Here both statistics are taken over the B + 1 cells, and their p-values
    are Monte Carlo ones from ``draws`` samples of as many p-values drawn from the discrete
    law itself.

    * Kolmogorov-Smirnov: ``D = max_j |F_m(j/(B+1)) - j/(B+1)|``, the largest distance of the
      two step functions (both jump only at the B + 1 values);
    * chi-square: ``sum_j (c_j - m/(B+1))^2 / (m/(B+1))`` over the counts c_j of the cells.

    ``null_either_rejects`` is how often one or both reject at :data:`LEVEL` when the
    p-values are uniform (from the same samples): the chance of a false alarm of the pair.

    Parameters
    ----------
    p : array-like of shape (m,)
        P-values, each of the form j/(B+1).
    bootstrap : int
        B.
    rng : numpy.random.Generator
        Draws the Monte Carlo samples.
    draws : int

    Returns
    -------
    dict
        ``counts`` (m p-values per cell, of B + 1), ``ks_statistic``, ``ks_p_value``,
        ``chi2_statistic``, ``chi2_p_value`` (the p-values ``(1 + #{T* >= T}) / (draws + 1)``),
        ``null_either_rejects`` and ``monte_carlo`` (``draws``).
    """
    cells = bootstrap + 1
    p = np.asarray(p, dtype=float)
    index = np.rint(p * cells).astype(int)
    off_grid = np.abs(index - p * cells) > 1e-6
    if p.size == 0 or np.any(off_grid | (index < 1) | (index > cells)):
        raise ValueError(f"p-values must be some of 1/{cells}, ..., 1; got {p.tolist()}.")
    counts = np.bincount(index - 1, minlength=cells)
    m, expected = p.size, p.size / cells
    steps = np.arange(1, cells + 1) / cells

    def ks(c):
        return np.abs(np.cumsum(c, axis=-1) / m - steps).max(axis=-1)

    def chi2(c):
        return ((c - expected) ** 2 / expected).sum(axis=-1)

    null = rng.multinomial(m, np.full(cells, 1.0 / cells), size=int(draws))
    out = {"counts": counts.tolist(), "monte_carlo": int(draws)}
    either = np.zeros(int(draws), dtype=bool)
    for name, statistic in (("ks", ks), ("chi2", chi2)):
        observed = float(statistic(counts))
        values = statistic(null)
        # The statistics take few values: a sample ties the observed one up to round-off.
        beyond = int(np.sum(values >= observed - 1e-9))
        out[f"{name}_statistic"] = observed
        out[f"{name}_p_value"] = (1 + beyond) / (int(draws) + 1)
        # Each sample's own p-value among the samples: how often this test rejects at 5%.
        ranked = np.sort(values)
        own = (values.size - np.searchsorted(ranked, values - 1e-9)) / values.size
        either |= own <= LEVEL
    out["null_either_rejects"] = float(either.mean())
    return out


def summarise_null(records: list[dict], config: dict, draws: int = MONTE_CARLO) -> dict:
    """Per truth: the p-values, the tests of their uniformity, the rejection rates.

    Returns
    -------
    dict
        ``bootstrap`` (B), ``n_init`` and ``truths``: per truth ``n_replicates`` (data sets
        tested), ``n_failed_runs`` (data sets whose fit of K or K + 1 components failed, not
        tested), ``redraws`` (bootstrap draws fitted again because a fit failed),
        ``p_values`` (sorted), :func:`uniformity_tests`'s entries and ``rejections`` (per
        level 0.05 and 0.10: the attainable ``nominal`` rate, ``count``, ``rate``, exact
        95% ``interval`` and ``binomial_p_value``).
    """
    from scipy.stats import binomtest

    B = config["bootstrap"]
    grid = np.arange(1, B + 2) / (B + 1)
    rng = np.random.default_rng(np.random.SeedSequence(config["seed"], spawn_key=MONTE_CARLO_KEY))
    out = {}
    for number_, name in enumerate(config["truths"]):
        mine = [r for r in records if r.get("n") == number_ or r.get("truth") == name]
        rows = [r for r in mine if r.get("status") == "ok"]
        p = np.sort([r["p_value"] for r in rows])
        entry = {
            "n_replicates": int(p.size),
            "n_failed_runs": sum(1 for r in mine if r.get("status") != "ok"),
            "redraws": int(sum(r.get("redraws", 0) for r in rows)),
            "p_values": p.tolist(),
        }
        if p.size:
            entry.update(uniformity_tests(p, B, rng, draws))
            boot = np.concatenate([np.asarray(r.get("boot_lrts", []), float) for r in rows])
            if boot.size:
                observed = np.asarray([r["lrts"] for r in rows], float)
                entry["lrts_quantiles"] = {
                    "levels": list(QUANTILES),
                    "data": np.quantile(observed, QUANTILES).tolist(),
                    "bootstrap": np.quantile(boot, QUANTILES).tolist(),
                    "n_bootstrap": int(boot.size),
                }
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
    return {
        "truths": out,
        "bootstrap": B,
        "n_init": config["n_init"],
        "family": family(out),
    }


def family(truths: dict) -> dict:
    """The tests of uniformity of every truth taken together.

    Returns
    -------
    dict
        ``tests`` (one per truth and test: ``truth``, ``test``, ``p_value`` and ``holm``,
        Holm's adjusted p-value over all of them), ``rejected`` (how many have p <=
        :data:`LEVEL`), ``rejected_holm`` and ``chance_any`` (how often at least one rejects
        at :data:`LEVEL` when every truth's p-values are uniform: the truths' studies are
        independent, each pair's chance is its ``null_either_rejects``).
    """
    tests = [
        {"truth": name, "test": key, "p_value": float(t[f"{key}_p_value"])}
        for name, t in truths.items()
        if t["n_replicates"]
        for key in TESTS
    ]
    order = np.argsort([t["p_value"] for t in tests], kind="stable")
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(tests) - rank) * tests[i]["p_value"]))
        tests[i]["holm"] = running
    none = np.prod([1 - t["null_either_rejects"] for t in truths.values() if t["n_replicates"]])
    return {
        "tests": tests,
        "rejected": sum(t["p_value"] <= LEVEL for t in tests),
        "rejected_holm": sum(t["holm"] <= LEVEL for t in tests),
        "chance_any": float(1 - none),
    }


def _truth_k(config, name) -> int:
    return len(config["truths"][name]["weights"])


def _figure(summary, config, directory: Path) -> Path:
    from matplotlib.figure import Figure
    from scipy.stats import binom

    from latentmix.pages import save_figure

    names = list(summary["truths"])
    fig = Figure(figsize=(4.6 * len(names), 7.2))
    axes = fig.subplots(2, len(names), squeeze=False)
    B = summary["bootstrap"]
    cells = np.arange(1, B + 2) / (B + 1)
    for column, name in enumerate(names):
        t = summary["truths"][name]
        K = _truth_k(config, name)
        p = np.asarray(t["p_values"])
        ax = axes[0, column]
        if p.size:
            ax.step(
                np.r_[0, p, 1],
                np.r_[np.arange(p.size + 1) / p.size, 1],
                where="post",
                color="C0",
                label=f"{p.size} simulated data sets",
            )
        grid = np.r_[0, cells]
        ax.step(
            grid,
            grid,
            where="post",
            color="black",
            ls="--",
            lw=1,
            label=f"uniform on {{1/{B + 1}, ..., 1}}",
        )
        title = f"truth K = {K}: test of {K} against {K + 1}"
        if p.size:
            title += (
                f"\nKS p = {number(t['ks_p_value'])}, "
                f"chi-square p = {number(t['chi2_p_value'])} (Monte Carlo)"
            )
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("bootstrap p-value")
        ax.set_ylabel("fraction of data sets with p <= x")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
        ax = axes[1, column]
        if p.size:
            m = p.size
            low, high = binom.ppf(0.025, m, 1 / (B + 1)), binom.ppf(0.975, m, 1 / (B + 1))
            width = 1 / (B + 1)
            ax.axhspan(low, high, color="0.85", label="95% range of one cell's count")
            ax.bar(cells, t["counts"], width=0.8 * width, color="C0", label="data sets")
            ax.axhline(m / (B + 1), color="black", ls="--", lw=1, label=f"expected, {m}/{B + 1}")
            ax.legend(fontsize=7, loc="upper left")
        ax.set_xlim(0, 1 + 1 / (B + 1))
        ax.set_xlabel("bootstrap p-value")
        ax.set_ylabel("data sets with this p-value")
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return save_figure(fig, directory / "figures" / "p-values.png")


def _percent(x) -> str:
    return f"{100 * x:.0f}%"


def _verdicts(summary, config) -> list[str]:
    """One paragraph per truth, then one on every test together and one on why."""
    out = []
    for name, t in summary["truths"].items():
        K = _truth_k(config, name)
        if not t["n_replicates"]:
            out.append(f"K = {K} against {K + 1}: no data set could be tested.")
            continue
        rejected = [label for key, label in TESTS.items() if t[f"{key}_p_value"] <= LEVEL]
        verdict = (
            f"uniformity is not rejected at {_percent(LEVEL)}"
            if not rejected
            else f"uniformity is rejected at {_percent(LEVEL)} by the "
            f"{' and the '.join(rejected)} test"
        )
        rate = (t.get("rejections") or {}).get(f"{LEVEL:g}")
        rate = (
            f" The test rejected {rate['count']} of {t['n_replicates']} data sets at "
            f"{LEVEL:g} (nominal {number(rate['nominal'])}; exact 95% interval "
            f"{number(rate['interval'][0])} to {number(rate['interval'][1])}, binomial "
            f"p = {number(rate['binomial_p_value'])})."
            if rate
            else ""
        )
        failed = t["n_failed_runs"]
        out.append(
            f"K = {K} against {K + 1}, {t['n_replicates']} data sets: Kolmogorov-Smirnov "
            f"D = {number(t['ks_statistic'])}, p = {number(t['ks_p_value'])}; chi-square over "
            f"the {summary['bootstrap'] + 1} values {number(t['chi2_statistic'], 1)}, "
            f"p = {number(t['chi2_p_value'])}: {verdict}.{rate} "
            + (
                f"{failed} data set(s) were not tested because the fit of K or K + 1 "
                "components failed on them (every EM start collapsed a component), as "
                "latentmix select would not test them; "
                if failed
                else "Every data set could be fitted; "
            )
            + f"{t['redraws']} bootstrap draw(s) were drawn again because a fit failed."
        )
    fam = summary.get("family")
    if fam and fam["tests"]:
        n = len(fam["tests"])
        names = {name: _truth_k(config, name) for name in summary["truths"]}
        which = [
            f"{TESTS[t['test']]} at K = {names[t['truth']]} (p = {number(t['p_value'])}, "
            f"Holm {number(t['holm'])})"
            for t in fam["tests"]
            if t["p_value"] <= LEVEL
        ]
        out.append(
            f"Together: {fam['rejected']} of the {n} tests of uniformity reject at "
            f"{_percent(LEVEL)}"
            + (f" ({'; '.join(which)})" if which else "")
            + f". When every p-value is uniform, at least one of these {n} rejects in "
            f"{_percent(fam['chance_any'])} of studies of this size (Monte Carlo); after "
            f"Holm's adjustment for the {n} tests, "
            + (
                "none rejects."
                if not fam["rejected_holm"]
                else f"{fam['rejected_holm']} still reject(s): the p-values are not uniform."
            )
        )
    if summary["truths"]:
        out.append(
            "Why a rejection can be a false alarm, and where the test is only approximate: "
            "for one Gaussian against two the p-value is exactly uniform, because the "
            "statistic and EM's search (its starts, its rule for a collapsed component) do "
            "not change under a shift and scaling of the data, so the data's statistic and "
            "its replicates' are independent draws of one law whatever the fitted mean and "
            "variance; a rejection there is one of the false alarms every test makes at its "
            "level. For K = 2 or more the replicates are drawn from the fitted mixture, not "
            "the true one, and the bootstrap is approximate. The last table compares the "
            "data sets' statistics with their replicates' pooled: where the bootstrap is "
            "right both are draws of nearly one law."
        )
    return out


def render(summary, config, directory) -> tuple[Path, Path]:
    """Write summary.json, the figure and the page."""
    directory = Path(directory)
    write_json(directory / SUMMARY_FILE, summary)
    figure = _figure(summary, config, directory)
    B = summary["bootstrap"]
    rates, uniformity, quantiles = [], [], []
    for name, t in summary["truths"].items():
        K = _truth_k(config, name)
        test = f"K = {K} vs {K + 1}"
        q = t.get("lrts_quantiles")
        if q:
            quantiles.append(
                [test, f"LRTS of the {t['n_replicates']} data sets"]
                + [number(v, 2) for v in q["data"]]
            )
            quantiles.append(
                [test, f"LRTS* of their {q['n_bootstrap']} replicates, pooled"]
                + [number(v, 2) for v in q["bootstrap"]]
            )
        for level, r in (t.get("rejections") or {}).items():
            rates.append(
                [
                    test,
                    t["n_replicates"],
                    level,
                    number(r["nominal"]),
                    r["count"],
                    number(r["rate"]),
                    f"{number(r['interval'][0])} to {number(r['interval'][1])}",
                    number(r["binomial_p_value"]),
                ]
            )
        if t["n_replicates"]:
            uniformity.append(
                [
                    test,
                    t["n_replicates"],
                    t["n_failed_runs"],
                    t["redraws"],
                    number(t["ks_statistic"]),
                    number(t["ks_p_value"]),
                    number(t["chi2_statistic"], 1),
                    number(t["chi2_p_value"]),
                ]
            )
    truths = "; ".join(
        f"K = {len(t['weights'])}: weights {t['weights']}, means {[m[0] for m in t['means']]}, "
        f"variances {[c[0][0] for c in t['covariances']]}"
        for t in config["truths"].values()
    )
    n_init = config["n_init"]
    restarts = (
        f"{n_init} restarts, latentmix select's default"
        if n_init == G.N_INIT
        else f"{n_init} restarts; latentmix select's default is {G.N_INIT}"
    )
    draws = next(
        (t["monte_carlo"] for t in summary["truths"].values() if "monte_carlo" in t),
        MONTE_CARLO,
    )
    sections = [
        {
            "heading": None,
            "paragraphs": [
                f"Under the null the bootstrap LRT's p-value is uniform on {{1/(B + 1), ..., 1}} "
                f"(B = {B}): each data set of n = {config['n']} rows is drawn from a "
                "K-component mixture, K and K + 1 components are fitted by EM as latentmix "
                f"select fits its grid ({restarts}; one for K = 1), and K is tested against "
                f"K + 1 by {B} bootstrap replicates, each fitted exactly as the data were "
                "(the same function, restarts, starts and tolerance). Truths (one dimension): "
                f"{truths}.",
                *_verdicts(summary, config),
                "The rejection rate at each level should be the nominal one (the largest "
                "attainable p-value not above the level), and the empirical distribution of "
                "the p-values should follow the dashed staircase, each of the "
                f"{B + 1} values holding about 1/{B + 1} of the data sets.",
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
                    ],
                    "rows": rates,
                },
                {
                    "headers": [
                        "test",
                        "data sets",
                        "not fitted",
                        "bootstrap redraws",
                        "KS D",
                        "KS p-value",
                        "chi-square",
                        "chi-square p-value",
                    ],
                    "rows": uniformity,
                },
                {
                    "headers": [
                        "test",
                        "statistics",
                        *(f"{q:g} quantile" for q in QUANTILES),
                    ],
                    "rows": quantiles,
                },
            ],
            "figures": [
                {
                    "path": figure,
                    "caption": "The p-values against their null law: their empirical "
                    "distribution function (top) and how many data sets gave each value "
                    "(bottom; the grey band is the central 95% of one value's binomial count).",
                }
            ],
        },
        {
            "heading": "How uniformity is tested",
            "paragraphs": [
                f"The p-values take only the {B + 1} values j/{B + 1}, so the tests are "
                "against that discrete law, with Monte Carlo p-values from "
                f"{draws:,} samples of as many p-values drawn from it (seeded by the "
                "study's seed). Kolmogorov-Smirnov: D is the largest distance between the "
                "empirical distribution function and the law's, both step functions taken "
                f"at the {B + 1} values. Chi-square: the counts of the {B + 1} values "
                "against their expected count. The continuous Kolmogorov-Smirnov test "
                "(scipy.stats.kstest) is not used: with tied p-values it compares the law at "
                "a value with the empirical distribution just below it, which makes D up to "
                f"1/{B + 1} too large, and its p-value is that of a continuous law.",
            ],
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
    parser.add_argument(
        "--n-init", type=int, default=G.N_INIT, help="EM restarts of every fit (select's)"
    )
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--scheduler", default="local")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    config = null_config(
        n=100,
        replications=args.replications,
        bootstrap=args.bootstrap,
        n_init=args.n_init,
        seed=args.seed,
    )
    records = run_null(config, args.out, scheduler=args.scheduler, n_workers=args.workers)
    print(*write_null_pages(records, config, args.out))


if __name__ == "__main__":
    main()
