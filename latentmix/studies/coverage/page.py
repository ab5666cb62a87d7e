"""The coverage study's page: two figures and the tables, made from the summary alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentmix.em.parameterisation import parameter_keys, parameter_names
from latentmix.jsonio import write_json
from latentmix.studies.coverage.replicate import MATCHING, MATCHING_RULES, SOURCES
from latentmix.studies.coverage.study import COMMAND
from latentmix.studies.coverage.summary import summarise
from latentmix.studies.coverage.truth import truth_from_dict, truth_names
from latentmix.studies.page import number, write_study_page
from latentmix.studies.runner import SUMMARY_FILE, read_stored, write_pages


def _num(value) -> float:
    """A summary number for a plot: None (NaN in JSON) becomes NaN."""
    return np.nan if value is None else float(value)


def parameter_labels(truth) -> dict:
    """Parameter name (0-based, as in the data) -> its 1-based text for the page."""
    keys = parameter_keys(truth.n_components, truth.n_features, truth.covariance_type)
    names = parameter_names(truth.n_components, truth.n_features, truth.covariance_type)
    return {
        name: f"{group}[{','.join(str(i + 1) for i in index)}]"
        for name, (group, index) in zip(names, keys, strict=True)
    }


def command_line(config: dict) -> str:
    """The ``latentmix study coverage`` command that makes this study."""
    truth = config["truth_name"] if config["truth_name"] in truth_names() else "FILE"
    bootstrap = ",".join(config["bootstrap"]) or "none"
    return " \\\n    ".join(
        [
            f"latentmix study coverage --truth {truth} --out DIR",
            f"--n {','.join(map(str, config['sizes']))} --replications {config['replications']} "
            f"--seed {config['seed']} --level {config['level']:g}",
            f"--n-boot {config['n_boot']} --bootstrap {bootstrap}",
            f"--draws {config['draws']} --tune {config['tune']} --chains {config['chains']} "
            f"--posterior-replications {config['posterior_replications']}"
            + ("" if config.get("vb") else " --no-vb"),
        ]
    )


def _figures(summary: dict, config: dict, labels: dict, directory: Path) -> list:
    """(path, caption) of the coverage-per-parameter and against-n figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentmix.pages import save_figure

    rows, names = summary["rows"], summary["names"]
    source_labels = summary["source_labels"]
    sources = [s for s in SOURCES if any(r["source"] == s for r in rows)]
    sizes, level = config["sizes"], config["level"]
    colours = dict(zip(sizes, plt.cm.viridis(np.linspace(0.1, 0.85, len(sizes))), strict=True))

    fig, axes = plt.subplots(
        len(sources), 1, figsize=(10, 2.3 * len(sources) + 0.6), sharex=True, squeeze=False
    )
    x = np.arange(len(names))
    for ax, source in zip(axes[:, 0], sources, strict=True):
        ax.axhline(level, color="k", lw=1)
        for j, n in enumerate(sizes):
            sel = {r["parameter"]: r for r in rows if r["source"] == source and r["n"] == n}
            if not sel:
                continue
            cov = np.array([_num(sel[p]["coverage"]) if p in sel else np.nan for p in names])
            se = np.array([_num(sel[p]["coverage_mc_se"]) if p in sel else np.nan for p in names])
            R = max(r["replicates"] for r in sel.values())
            ax.errorbar(
                x + (j - (len(sizes) - 1) / 2) * 0.22,
                cov,
                yerr=2 * se,
                fmt="o",
                ms=4,
                capsize=2,
                color=colours[n],
                label=f"n = {n} (R = {R})",
            )
        ax.set_ylim(max(0.0, min(0.6, ax.get_ylim()[0])), 1.01)
        ax.set_ylabel("coverage")
        ax.set_title(source_labels[source], fontsize=10, loc="left")
        ax.legend(fontsize=7, loc="lower left", ncol=len(sizes))
    axes[-1, 0].set_xticks(x, [labels[p] for p in names], rotation=60, ha="right", fontsize=8)
    fig.suptitle(
        f"Coverage of nominal {level:.0%} intervals per parameter (bars: ±2 Monte Carlo SE)",
        fontsize=11,
    )
    fig.tight_layout()
    figures = [
        (
            save_figure(fig, directory / "figures" / "coverage.png"),
            "Coverage per parameter, source and n.",
        )
    ]

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.8))
    for source in sources:
        ov = [o for o in summary["overall"] if o["source"] == source and o["ok"]]
        ns = [o["n"] for o in ov]
        label = source_labels[source]
        ax1.plot(ns, [_num(o["mean_coverage"]) for o in ov], "o-", label=label)
        ax2.plot(ns, [_num(o["mean_width"]) for o in ov], "o-", label=label)
        ax3.plot(ns, [_num(o["mean_rmse"]) for o in ov], "o-", label=label)
    ax1.axhline(level, color="k", lw=1)
    ax1.set_ylabel("coverage, mean over parameters")
    ax2.set_ylabel("interval width, mean over parameters")
    ax3.set_ylabel("RMSE of the point estimate, mean over parameters")
    for ax in (ax1, ax2, ax3):
        ax.set_xscale("log")
        ax.set_xlabel("n")
    ax2.set_yscale("log")
    ax3.set_yscale("log")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    figures.append(
        (
            save_figure(fig, directory / "figures" / "by_n.png"),
            "Coverage, width and RMSE against n.",
        )
    )
    return figures


def _matching_text(counts: dict) -> str:
    """How the replicates put their components in the truth's order, with their counts."""
    text = (
        "Every estimate and posterior draw is put in the truth's component order before it is "
        "compared with the truth"
    )
    if set(counts) <= {MATCHING}:
        return f"{text}, by {MATCHING_RULES[MATCHING]}."
    total = sum(counts.values())
    parts = [
        f"{count} of the {total} replicates by "
        + (
            MATCHING_RULES[MATCHING]
            if rule == MATCHING
            else f"{MATCHING_RULES.get(rule, 'an unrecorded rule')} (computed by an earlier "
            "release)"
        )
        for rule, count in sorted(counts.items())
    ]
    return (
        f"{text}: {'; '.join(parts)}. The command at the end of this page, run into a new "
        f"directory, computes every replicate with the current rule, {MATCHING_RULES[MATCHING]}."
    )


def page_sections(summary: dict, config: dict, figures: list) -> list[dict]:
    """The page as sections of paragraphs, tables and figures (:mod:`latentmix.studies.page`)."""
    truth = truth_from_dict(config["truth"])
    labels = parameter_labels(truth)
    source_labels = summary["source_labels"]
    level = config["level"]
    posterior = (
        f"nutpie NUTS, {config['chains']} chains x {config['draws']} draws after "
        f"{config['tune']} tuning steps, on the first {config['posterior_replications']} "
        "replicates of each n."
        if config["draws"] > 0
        else "not sampled (--draws 0)."
    )
    matching = _matching_text(summary["matching"])
    intro = [
        f"Truth: K = {truth.n_components}, d = {truth.n_features}, covariance "
        f"{truth.covariance_type}; weights {np.round(truth.weights, 3).tolist()}, means "
        f"{np.round(truth.means, 3).tolist()}, covariances "
        f"{np.round(truth.covariances, 3).tolist()}.",
        f"Sample sizes {config['sizes']}, {config['replications']} replicates each (seed "
        f"{config['seed']}); nominal level {level:.0%}; {config['n_boot']} bootstrap refits "
        f"per interval ({', '.join(config['bootstrap']) or 'no bootstrap'}); posterior: "
        + posterior,
        "Variational Bayes: "
        + (
            "mean-field VB under the same prior as the MAP and the posterior "
            "(latentmix.vb.VBGaussianMixture), its components put in the truth's order; the "
            "intervals are the equal-tailed intervals of the marginals of q (exact Beta, "
            "Student-t and inverse-gamma quantiles; off-diagonal covariances from 4000 draws "
            "of q). Mean-field VB is known to understate posterior uncertainty."
            if config.get("vb")
            else "not run (--no-vb, or a study made before the VB arm existed)."
        ),
        "Prior for the MAP, Laplace, VB and posterior: mclust's default prior computed from the "
        "population mean and covariance of the truth (fixed across replicates). Monte Carlo "
        "SE of a coverage c from R replicates is sqrt(c(1-c)/R): about 2.2 points "
        "for c = 0.95 and R = 100.",
        matching,
        "Components and features are numbered from 1 on this page; summary.json and the "
        "replicate files number them from 0.",
    ]
    overall = {
        "headers": [
            "source",
            "n",
            "replicates ok",
            "failed",
            "coverage (mean)",
            "min",
            "max",
            "s per fit (mean)",
        ],
        "rows": [
            [
                source_labels[o["source"]],
                o["n"],
                o["ok"],
                o["failed"],
                number(o["mean_coverage"]),
                number(o["min_coverage"]),
                number(o["max_coverage"]),
                number(o["seconds"], 2),
            ]
            for o in summary["overall"]
        ],
    }
    sections = [
        {"heading": None, "paragraphs": intro},
        {
            "heading": "Summary per source and sample size",
            "tables": [overall],
            "figures": [{"path": p, "caption": c} for p, c in figures],
        },
        {
            "heading": "Per parameter",
            "paragraphs": [
                "Coverage ± its Monte Carlo SE; bias and RMSE of the point estimate (MLE, MAP, "
                "or posterior mean) ± MC SE; mean interval width ± MC SE."
            ],
            "tables": [
                {
                    "headers": [
                        "source",
                        "n",
                        "parameter",
                        "true",
                        "R",
                        "coverage",
                        "bias",
                        "RMSE",
                        "mean width",
                    ],
                    "rows": [
                        [
                            source_labels[r["source"]],
                            r["n"],
                            labels[r["parameter"]],
                            number(r["true"]),
                            r["replicates"],
                            f"{number(r['coverage'])} ± {number(r['coverage_mc_se'])}",
                            f"{number(r['bias'])} ± {number(r['bias_mc_se'])}",
                            f"{number(r['rmse'])} ± {number(r['rmse_mc_se'])}",
                            f"{number(r['mean_width'])} ± {number(r['width_mc_se'])}",
                        ]
                        for r in summary["rows"]
                    ],
                }
            ],
        },
    ]
    post = summary["posterior"]
    if post:
        sections.append(
            {
                "heading": "Posterior sampling diagnostics",
                "paragraphs": [
                    f"{post['n_fits']} posterior fits: largest R-hat over parameters "
                    f"(relabelled draws) median {post['max_r_hat_median']:.3f}, worst "
                    f"{post['max_r_hat_worst']:.3f}; fits with divergences "
                    f"{post['fits_with_divergences']}; draws relabelled per fit (median) "
                    f"{number(post['n_relabelled_median'], 0)}; sampling "
                    f"{post['sample_seconds_median']:.1f} s median per fit; "
                    + _compile_sentence(post)
                ],
            }
        )
    failures = summary["failures"]
    sections.append(
        {
            "heading": "Failures",
            "paragraphs": [
                f"{len(failures)} failed fits (replicate, source, error)."
                if failures
                else "None: every source succeeded on every replicate."
            ],
            "tables": [
                {
                    "headers": ["replicate", "source", "error"],
                    "rows": [
                        [
                            f["key"],
                            "whole replicate"
                            if f["source"] is None
                            else source_labels[f["source"]],
                            f["error"],
                        ]
                        for f in failures
                    ],
                    "wrap": [2],
                }
            ]
            if failures
            else [],
        }
    )
    sections.append(
        {
            "heading": "How this page is made",
            "paragraphs": [
                "The command below makes this study. It stores one file per replicate in "
                "DIR/replicates/ and resumes an interrupted run; with every replicate stored it "
                "only makes the page again.",
                "This page, its figures and summary.json are made from summary.json and "
                "study.json alone (latentmix.studies.coverage.rewrite_pages(DIR) makes them "
                "again without the replicate files); the replicate files are the raw results "
                "and are needed only to summarise again.",
            ],
            "code": command_line(config),
        }
    )
    return sections


def render(summary: dict, config: dict, directory) -> tuple[Path, Path]:
    """Write summary.json, the figures, report.html and report.md into ``directory``."""
    directory = Path(directory)
    write_json(directory / SUMMARY_FILE, summary)
    truth = truth_from_dict(config["truth"])
    figures = (
        _figures(summary, config, parameter_labels(truth), directory) if summary["rows"] else []
    )
    title = f"Coverage study: {config['truth_name']}"
    return write_study_page(page_sections(summary, config, figures), directory, "report", title)


def write_coverage_page(records: list[dict], config: dict, out) -> tuple[Path, Path]:
    """Summarise the stored replicates into OUT/summary.json, OUT/report.html and OUT/report.md.

    The earlier pages are replaced whole; the replicates, study.json and any file that is not
    the study's own stay.
    """
    summary = summarise(records, config)
    return write_pages(out, COMMAND, lambda directory: render(summary, config, directory))


def rewrite_pages(out) -> tuple[Path, Path]:
    """Make the pages of a finished study again from its summary.json and study.json."""
    config, summary = read_stored(out)
    return write_pages(out, COMMAND, lambda directory: render(summary, config, directory))


def _compile_sentence(post: dict) -> str:
    """Where the fits' samplers came from: compiled, loaded from disk or reused in a worker."""
    sources = post.get("compile_sources")
    if not sources or set(sources) == {"unrecorded"}:
        return f"compiling the sampler: {post['compile_seconds_median']:.0f} s median per fit."
    said = {
        "compiled": "compiled",
        "disk": "loaded from the disk cache",
        "memory": "reused in the worker",
        "off": "compiled without the cache",
        "unrecorded": "not recorded",
    }
    parts = ", ".join(f"{said.get(k, k)} for {v}" for k, v in sources.items())
    return (
        f"the sampler was {parts} of the fits ({post['compile_seconds_total']:.0f} s "
        "compiling and loading in all)."
    )
