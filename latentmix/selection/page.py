"""The page of ``latentmix select``: figures and sections, from ``summary.json`` and the settings.

Figures (each saved by :func:`latentmix.pages.save_figure`): mclust's BIC plot (BIC against
K, one line per structure, MLE and under a prior the MAP), the ICL plot, the bootstrap
distributions of the LRT, PSIS-LOO against K, and the data with the chosen model's
ellipses. The sections go through :func:`latentmix.studies.page.write_study_page`, whose
templates escape every value (data set and column names included).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentmix.jsonio import write_json
from latentmix.pages import fmt
from latentmix.params import COVARIANCE_TYPES
from latentmix.selection import criteria
from latentmix.selection.grid import params_from_record
from latentmix.studies.page import number, write_study_page
from latentmix.studies.runner import SUMMARY_FILE

_MARKERS = "osD^vP*X"


def _text(label) -> str:
    """A user string safe for matplotlib (a '$' would start mathtext)."""
    return str(label).replace("$", r"\$")


def _figure(*args, **kwargs):
    from matplotlib.figure import Figure

    return Figure(*args, **kwargs)


def _legend(ax, **kwargs) -> None:
    """A legend when the axes have labelled artists (a grid of failed cells has none)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def _types(summary) -> list[str]:
    present = {c["covariance_type"] for c in summary["cells"]}
    return [t for t in COVARIANCE_TYPES if t in present]


def _series(summary, estimate, key, covariance_type):
    pts = [
        (c["K"], c[estimate][key])
        for c in summary["cells"]
        if c["covariance_type"] == covariance_type
        and c.get(estimate)
        and c[estimate].get("status") == "ok"
    ]
    return sorted(pts)


def criterion_figure(summary, config, key: str, label: str, path: Path) -> Path:
    """Mclust's plot of a criterion: against K, one line per structure (MLE | MAP panels)."""
    from latentmix.pages import save_figure

    estimates = [e for e in ("mle", "map") if e in summary["tables"]]
    fig = _figure(figsize=(5.2 * len(estimates) + 1.6, 4.0))
    axes = fig.subplots(1, len(estimates), sharey=True, squeeze=False)[0]
    for ax, estimate in zip(axes, estimates, strict=True):
        for i, t in enumerate(_types(summary)):
            pts = _series(summary, estimate, key, t)
            if not pts:
                continue
            model = next(c["model"] for c in summary["cells"] if c["covariance_type"] == t)
            ax.plot(
                *zip(*pts, strict=True),
                marker=_MARKERS[i % len(_MARKERS)],
                ms=5,
                lw=1.4,
                color=f"C{i}",
                label=f"{model} ({t})",
            )
        best = summary["tables"][estimate]["best"][key]
        if best is not None:
            value = next(
                c[estimate][key]
                for c in summary["cells"]
                if [c["K"], c["covariance_type"]] == best
            )
            ax.plot(best[0], value, marker="o", ms=14, mfc="none", mec="black", mew=1.5)
            ax.annotate("best", (best[0], value), textcoords="offset points", xytext=(9, -14))
        ax.set_xticks(config["ks"])
        ax.set_xlabel("number of components K")
        ax.set_title(
            "MLE" if estimate == "mle" else "MAP (log-likelihood at the MAP)", fontsize=10
        )
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"{label} (larger is better)")
    _legend(axes[-1], fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return save_figure(fig, path)


def lrt_figure(lrt, path: Path) -> Path:
    """The bootstrap distribution of each test's LRTS, with the data's LRTS."""
    from latentmix.pages import save_figure
    from latentmix.teach.draw import limits

    tests = [t for t in lrt["tests"] if t["boot_lrts"]]
    fig = _figure(figsize=(3.2 * max(1, len(tests)), 3.0))
    axes = fig.subplots(1, max(1, len(tests)), squeeze=False)[0]
    for ax, t in zip(axes, tests, strict=False):
        boot = np.asarray(t["boot_lrts"])
        ax.hist(boot, bins=min(30, max(5, boot.size // 5)), color="0.6", edgecolor="white")
        low, high = limits(boot)
        if t["lrts"] <= high:
            ax.axvline(t["lrts"], color="C3", lw=2, label=f"data: {t['lrts']:.1f}")
        else:
            # Far beyond the null: mark it at the edge so the null stays readable.
            ax.annotate(
                f"data: {t['lrts']:.1f} →",
                xy=(1, 0.9),
                xycoords="axes fraction",
                ha="right",
                color="C3",
                fontsize=8,
            )
        ax.set_xlim(low, max(high, t["lrts"]) if t["lrts"] <= high else high)
        ax.set_title(f"K = {t['K']} vs {t['alternative']}: p = {t['p_value']:.3f}", fontsize=9)
        ax.set_xlabel("LRTS")
    axes[0].set_ylabel("bootstrap replicates")
    for ax in axes:
        _legend(ax, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def loo_figure(loo, config, path: Path) -> Path:
    """elpd_loo against K with +/- 2 SE, and the stacking weights."""
    from latentmix.pages import save_figure

    rows = [r for r in loo["rows"] if r.get("elpd_loo") is not None]
    fig = _figure(figsize=(9.0, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    ks = [r["K"] for r in rows]
    ax1.errorbar(
        ks,
        [r["elpd_loo"] for r in rows],
        yerr=[2 * r["se"] for r in rows],
        fmt="o-",
        capsize=3,
        color="C2",
        label="elpd_loo ± 2 SE",
    )
    if rows:
        top = max(r["elpd_loo"] for r in rows)
        ax1.errorbar(
            ks,
            [top - r["elpd_diff"] for r in rows],
            yerr=[2 * r["dse"] for r in rows],
            fmt="none",
            capsize=6,
            color="black",
            alpha=0.6,
            label="± 2 SE of the difference to the best",
        )
    ax1.set_xlabel("K")
    ax1.set_ylabel("elpd_loo (larger is better)")
    _legend(ax1, fontsize=7)
    width = 0.38
    ax2.bar(
        np.array(ks) - width / 2,
        [r["weight_stacking"] for r in rows],
        width,
        label="stacking",
        color="C0",
    )
    ax2.bar(
        np.array(ks) + width / 2,
        [r["weight_pseudo_bma"] for r in rows],
        width,
        label="pseudo-BMA (Bayesian bootstrap)",
        color="C1",
    )
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("K")
    ax2.set_ylabel("weight")
    _legend(ax2, fontsize=7)
    for ax in (ax1, ax2):
        ax.set_xticks(config["ks"])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def model_figure(X, chosen, feature_names, path: Path, max_features: int = 4) -> Path:
    """The data coloured by the chosen model's responsibilities, with its 1- and 2-SD ellipses.

    One dimension: a histogram with the weighted component densities. Two or more: every pair
    of the leading ``max_features`` features.
    """
    from scipy.stats import norm

    from latentmix.em.estep import e_step
    from latentmix.pages import save_figure
    from latentmix.teach.draw import component_colours, draw_mixture_2d, limits

    params = params_from_record(chosen["params"])
    resp = np.exp(e_step(X, params)[0])
    names = [_text(f) for f in feature_names]
    K, d = params.n_components, params.n_features
    colours = component_colours(K)
    if d == 1:
        fig = _figure(figsize=(7.0, 3.6))
        ax = fig.subplots()
        x = X[:, 0]
        ax.hist(
            x, bins=max(10, min(60, x.size // 4)), density=True, color="0.85", edgecolor="white"
        )
        grid = np.linspace(*limits(x), 400)
        sd = np.sqrt(params.full_covariances()[:, 0, 0])
        dens = params.weights[:, None] * norm.pdf(grid, params.means[:, :1], sd[:, None])
        # The mixture first and thin, so that each component's own colour shows on top.
        ax.plot(grid, dens.sum(0), color="black", lw=1.0, ls="--", label="mixture")
        for k in range(K):
            ax.plot(grid, dens[k], color=colours[k], lw=2.0, label=f"component {k + 1}")
        ax.set_xlabel(names[0])
        ax.set_ylabel("density")
        _legend(ax, fontsize=7)
    else:
        m = min(d, max_features)
        pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
        cols = min(3, len(pairs))
        rows = -(-len(pairs) // cols)
        fig = _figure(figsize=(max(6.0, 3.6 * cols), 3.4 * rows + 0.4))
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, (i, j) in zip(axes, pairs, strict=False):
            draw_mixture_2d(
                ax, X, params, resp, xlim=limits(X[:, i]), ylim=limits(X[:, j]), dims=(i, j)
            )
            ax.set_xlabel(names[i])
            ax.set_ylabel(names[j])
        for ax in axes[len(pairs) :]:
            ax.set_visible(False)
    what = (
        "the data and the weighted component densities"
        if d == 1
        else "the data coloured by\nthe responsibilities, with 1- and 2-SD ellipses"
    )
    fig.suptitle(
        f"{chosen['model']} ({chosen['covariance_type']}), K = {K}: {what}",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)


# --- sections -------------------------------------------------------------------------------


def _figures(figures: dict, key: str, caption: str) -> list[dict]:
    """The section's figure, or none when it was not drawn (nothing to draw)."""
    return [{"path": figures[key], "caption": caption}] if key in figures else []


def _model_name(summary, covariance_type) -> str:
    if not covariance_type:
        return "-"
    model = next(
        (c["model"] for c in summary["cells"] if c["covariance_type"] == covariance_type), ""
    )
    return f"{model} ({covariance_type})"


def _cell_name(summary, cell) -> str:
    model = next(
        (c["model"] for c in summary["cells"] if c["covariance_type"] == cell[1]), cell[1]
    )
    return f"{model} ({cell[1]}), K = {cell[0]}"


def _matrix(summary, estimate, key, digits=2):
    types = _types(summary)
    models = {c["covariance_type"]: c["model"] for c in summary["cells"]}
    ks = sorted({c["K"] for c in summary["cells"]})
    value = {(c["K"], c["covariance_type"]): c.get(estimate) for c in summary["cells"]}
    rows = []
    for K in ks:
        row = [K]
        for t in types:
            fit = value.get((K, t))
            row.append(number(fit[key], digits) if fit and fit.get("status") == "ok" else "failed")
        rows.append(row)
    return {
        "headers": [f"K ({estimate.upper()})", *[f"{models[t]} ({t})" for t in types]],
        "rows": rows,
    }


def _cells_table(summary):
    diff = {
        e: {(K, t): d for K, t, d in summary["tables"][e]["bic_difference"]}
        for e in summary["tables"]
    }
    rows = []
    for c in sorted(
        summary["cells"], key=lambda c: (COVARIANCE_TYPES.index(c["covariance_type"]), c["K"])
    ):
        for e in summary["tables"]:
            fit = c.get(e)
            if not fit:
                continue
            ok = fit["status"] == "ok"
            delta = diff[e].get((c["K"], c["covariance_type"]))
            rows.append(
                [
                    c["model"],
                    c["covariance_type"],
                    c["K"],
                    e.upper(),
                    number(fit.get("log_likelihood"), 2) if ok else "failed",
                    fit.get("n_parameters", "-") if ok else "-",
                    number(fit.get("bic"), 2) if ok else "-",
                    number(fit.get("icl"), 2) if ok else "-",
                    number(fit.get("aic"), 2) if ok else "-",
                    number(delta, 2),
                    criteria.evidence(delta) if delta is not None else "-",
                ]
            )
    headers = [
        "model",
        "covariance",
        "K",
        "estimate",
        "log L",
        "p",
        "BIC",
        "ICL",
        "AIC",
        "BIC below the best",
        "evidence against (Kass & Raftery)",
    ]
    return {"headers": headers, "rows": rows}


def _within_table(summary, estimate):
    table = summary["tables"][estimate]
    diff = {(K, t): d for K, t, d in table["bic_difference"]}
    rows = []
    for K, t in table["within"]["10"]:
        d = diff[(K, t)]
        band = next(b for b in ("2", "6", "10") if [K, t] in table["within"][b])
        rows.append(
            [_cell_name(summary, (K, t)), number(d, 2), f"within {band}", criteria.evidence(d)]
        )
    return {
        "headers": [
            f"cell ({estimate.upper()})",
            "BIC below the best",
            "band",
            "evidence against it",
        ],
        "rows": rows,
    }


def command_line(config: dict, command: str = "select") -> str:
    """The command that makes this page."""
    from latentmix.selection.run import _span

    parts = [f"latentmix {command} {config['data']}"]
    if config.get("columns"):
        parts.append(f"--columns {','.join(config['columns'])}")
    parts.append(f"-k {_span(config['ks'])}")
    parts.append(f"--covariance {','.join(config['covariance_types'])}")
    prior = config["prior"]
    parts.append(f"--prior {prior if isinstance(prior, str) else 'FILE'}")
    parts.append(f"--n-init {config['n_init']} --bootstrap {config['bootstrap']}")
    if config["level"] != 0.05:
        parts.append(f"--level {config['level']:g}")
    if config["posterior"]:
        parts.append(
            f"--posterior --draws {config['draws']} --tune {config['tune']} "
            f"--chains {config['chains']}"
        )
    if config.get("missing", "error") != "error":
        parts.append(f"--missing {config['missing']}")
    if config.get("weights"):
        parts.append(f"--weights {config['weights']}")
    parts.append(f"--seed {config['seed']} --out DIR")
    return " ".join(parts)


def data_sentences(notes) -> list[str]:
    """The missing cells and the weights (``summary["data"]``), as the report words them."""
    if not notes:
        return []
    lines = []
    n_cells = notes["n_missing_cells"]
    if n_cells:
        per_column = ", ".join(f"{name} {c}" for name, c in notes["missing_by_column"].items())
        lines.append(
            f"{n_cells} of {notes['n_cells']} cells ({100 * n_cells / notes['n_cells']:.1f}%) "
            f"are missing, in {notes['n_incomplete_rows']} rows ({per_column}); they are taken "
            "as missing at random: EM, VB, the bootstrap replicates (which lose the same "
            "cells) and the posterior use the marginal likelihood of each row's observed "
            "cells. Each row still adds one term, so the BIC's n is the number of rows"
            + (" (under weights, their total: below)" if notes["weights"] else "")
            + ". The model figure draws the complete rows."
        )
    w = notes["weights"]
    if w is not None:
        lines.append(
            f"Observation weights from column {w['column']} (total {w['total']:.6g}, from "
            f"{w['min']:.6g} to {w['max']:.6g}; {w['n_zero']} rows of weight 0) multiply each "
            "row's log-likelihood term in every EM and VB fit, the bootstrap replicates "
            "(simulated row i carries row i's weight) and the posterior (not the prior). They "
            "are read as counts: the BIC's n is the total weight and the ICL's entropy is "
            "weighted, so integer weights give the tables of the data with rows repeated; in "
            "PSIS-LOO a row is left out with its weight."
        )
    return lines


def page_sections(summary, config, figures: dict) -> list[dict]:
    """The sections of the page (see :mod:`latentmix.studies.page`)."""
    sections = [
        {
            "heading": None,
            "paragraphs": [
                summary["paragraph"],
                f"{summary['n_samples']} observations of {summary['n_features']} "
                f"feature{'' if summary['n_features'] == 1 else 's'}; "
                f"{len(summary['cells'])} cells (K x covariance type) fitted by EM "
                f"from {config['n_init']} restarts each. Criteria: {summary['sign']}.",
                *data_sentences(summary.get("data")),
            ],
            "tables": [
                {
                    "headers": ["criterion", "K", "structure", "note"],
                    "rows": [
                        [
                            p["criterion"],
                            "-" if p["K"] is None else p["K"],
                            _model_name(summary, p["covariance_type"]),
                            p["note"] or "",
                        ]
                        for p in summary["picks"]
                    ],
                    "wrap": [3],
                }
            ],
        }
    ]
    bic_tables = []
    for e in summary["tables"]:
        t = _matrix(summary, e, "bic")
        bic_tables.append(t)
    sections.append(
        {
            "heading": "BIC",
            "paragraphs": [
                "BIC against K, one line per covariance structure (mclust's plot). Under a "
                "prior the MAP's BIC takes the log-likelihood at the MAP (Fraley & Raftery "
                "2007). A failed cell has no MLE on these data (every EM start collapsed a "
                "component); it is listed under Failures."
            ],
            "figures": _figures(figures, "bic", "BIC against K (larger is better)."),
            "tables": bic_tables,
        }
    )
    within = []
    for e in summary["tables"]:
        best = summary["tables"][e]["best"]["bic"]
        if best is not None:
            within.append(_within_table(summary, e))
    sections.append(
        {
            "heading": "The best cell and those close to it",
            "paragraphs": [
                "Cells within 2, 6 and 10 BIC units of the best, with Kass & Raftery's (1995) "
                "reading of the difference as evidence against the cell"
                + (" (MLE first, then MAP)." if len(within) > 1 else ".")
            ],
            "tables": within,
        }
    )
    sections.append(
        {
            "heading": "ICL",
            "paragraphs": [
                "ICL (mclust's: BIC plus twice the log-probability of each row's most probable "
                "component) penalises overlapping components, so it often picks fewer."
            ],
            "figures": _figures(figures, "icl", "ICL against K (larger is better)."),
            "tables": [_matrix(summary, e, "icl") for e in summary["tables"]],
        }
    )
    sections.append(
        {
            "heading": "Every cell",
            "paragraphs": [
                "Each cell's log-likelihood, number of free parameters p and the three criteria "
                "(larger is better), with how far its BIC is below the best cell of its "
                "estimate and Kass & Raftery's (1995) reading of that difference as evidence "
                "against the cell. A failed cell has no estimate (see Failures)."
            ],
            "tables": [_cells_table(summary)],
        }
    )
    if summary["failures"]:
        sections.append(
            {
                "heading": "Failures",
                "tables": [
                    {
                        "headers": ["model", "covariance", "K", "estimate", "why"],
                        "rows": [
                            [
                                f["model"],
                                f["covariance_type"],
                                f["K"],
                                f["estimate"].upper(),
                                f["error"],
                            ]
                            for f in summary["failures"]
                        ],
                        "wrap": [4],
                    }
                ],
            }
        )
    lrt = summary.get("lrt")
    if lrt is not None:
        section = {
            "heading": "Bootstrap likelihood-ratio test",
            "paragraphs": [
                f"Within {lrt['covariance_type']}: K against K + 1 by the parametric bootstrap "
                f"of mclust's mclustBootstrapLRT ({lrt['n_boot']} replicates a test; each "
                "replicate simulates from the K-component MLE and fits both models by EM as "
                f"the grid's cells were fitted, {config['n_init']} restarts from fresh starts "
                "(one for K = 1), so that its statistic has the data's null distribution; "
                "mclust starts EM only from the fitted estimates). "
                "p = (1 + #{LRTS* >= LRTS}) / (B + 1). The tests go on "
                f"while p <= {lrt['level']:g}; the LRT picks "
                + ("no K" if lrt["k"] is None else f"K = {lrt['k']}")
                + (f" ({lrt['note']})." if lrt["note"] else ".")
            ],
            "tables": [
                {
                    "headers": [
                        "K vs K + 1",
                        "LRTS",
                        "p-value",
                        "replicates",
                        "failed",
                        "significant",
                    ],
                    "rows": [
                        [
                            f"{t['K']} vs {t['alternative']}",
                            number(t["lrts"], 2),
                            number(t["p_value"], 3),
                            t["n_boot"],
                            t["n_failed"],
                            "yes" if t["significant"] else "no",
                        ]
                        for t in lrt["tests"]
                    ],
                }
            ],
        }
        if "lrt" in figures:
            section["figures"] = [
                {"path": figures["lrt"], "caption": "Bootstrap null distributions of the LRTS."}
            ]
        sections.append(section)
    loo = summary.get("loo")
    if loo is not None:
        k_max = loo["pareto_k_max"]
        section = {
            "heading": "PSIS-LOO of the posterior",
            "paragraphs": [
                f"Within {loo['covariance_type']}, the posterior under {loo['prior']} "
                f"(nutpie, {config['chains']} chains x {config['draws']} draws after "
                f"{config['tune']} tuning steps, every chain started at the EM MAP). Weights "
                "from arviz.compare: stacking and Bayesian-bootstrap pseudo-BMA. A Pareto k "
                f"above {k_max} marks a row whose LOO estimate is unreliable."
            ],
            "tables": [
                {
                    "headers": [
                        "K",
                        "elpd_loo",
                        "SE",
                        "p_loo",
                        "elpd below the best",
                        "SE of the difference",
                        "stacking weight",
                        "pseudo-BMA weight",
                        f"Pareto k > {k_max}",
                        "max k",
                        "max R-hat",
                        "divergences",
                        "error",
                    ],
                    "rows": [
                        [
                            r["K"],
                            number(r.get("elpd_loo"), 2),
                            number(r.get("se"), 2),
                            number(r.get("p_loo"), 2),
                            number(r.get("elpd_diff"), 2),
                            number(r.get("dse"), 2),
                            number(r.get("weight_stacking"), 3),
                            number(r.get("weight_pseudo_bma"), 3),
                            fmt(r.get("n_bad_k"), missing="-"),
                            number(r.get("max_k"), 2),
                            number(r.get("max_r_hat"), 3),
                            fmt(r.get("divergences"), missing="-"),
                            r.get("error") or "",
                        ]
                        for r in loo["rows"]
                    ],
                    "wrap": [12],
                }
            ],
        }
        if "loo" in figures:
            section["figures"] = [{"path": figures["loo"], "caption": "PSIS-LOO against K."}]
        warned = [[r["K"], w] for r in loo["rows"] for w in r.get("warnings") or ()]
        if warned:
            section["tables"].append(
                {"headers": ["K", "sampler warning"], "rows": warned, "wrap": [1]}
            )
        sections.append(section)
    vb = summary.get("vb")
    if vb is not None:
        if vb.get("n_kept") is None:
            paragraphs = [f"VB failed: {vb['error']}"]
            tables = []
        else:
            paragraphs = [
                f"scikit-learn's route: variational Bayes with K = {vb['K']} components of "
                f"{vb['covariance_type']} and a small Dirichlet concentration "
                f"({vb['concentration']:g}; the other hyperparameters are the MAP's prior) "
                "lets superfluous components empty; "
                f"{vb['n_kept']} keep an expected weight above {vb['keep_weight']:g}. "
                f"ELBO {vb['elbo']:.2f}" + ("" if vb["converged"] else " (not converged)") + "."
            ]
            tables = [
                {
                    "headers": ["component (by weight)", "expected weight", "kept"],
                    "rows": [
                        [i + 1, number(w, 4), "yes" if w > vb["keep_weight"] else "no"]
                        for i, w in enumerate(vb["weights"])
                    ],
                }
            ]
        sections.append(
            {"heading": "Variational Bayes", "paragraphs": paragraphs, "tables": tables}
        )
    chosen = summary.get("chosen")
    if chosen is not None:
        sections.append(
            {
                "heading": "The chosen model",
                "paragraphs": [
                    f"{chosen['model']} ({chosen['covariance_type']}) with K = {chosen['K']}, "
                    f"the {chosen['estimate'].upper()}; components are numbered from 1."
                ],
                "tables": [_estimates_table(chosen, summary["feature_names"])],
                "figures": [
                    {"path": figures["model"], "caption": "The data and the chosen model."}
                ],
            }
        )
    sections.append(
        {
            "heading": "How this page is made",
            "paragraphs": [
                "The command below makes this page. It stores one file per task (grid cell, "
                "bootstrap replicate, posterior, VB) in DIR/replicates/ and resumes an "
                "interrupted run; the page and summary.json are made from summary.json and "
                "study.json alone (latentmix.selection.run.rewrite_pages(DIR))."
            ],
            "code": command_line(config, summary.get("command", "select")),
        }
    )
    return sections


def _estimates_table(chosen, feature_names):
    params = params_from_record(chosen["params"])
    full = params.full_covariances()
    rows = []
    for k in range(params.n_components):
        rows.append(
            [
                k + 1,
                number(params.weights[k], 3),
                ", ".join(number(v, 3) for v in params.means[k]),
                ", ".join(number(v, 3) for v in np.sqrt(np.diag(full[k]))),
            ]
        )
    names = ", ".join(map(str, feature_names))
    return {
        "headers": ["component", "weight", f"mean ({names})", "standard deviations"],
        "rows": rows,
    }


def render(summary: dict, config: dict, directory) -> tuple[Path, Path]:
    """Write summary.json, the figures, report.html and report.md into ``directory``."""
    from latentmix.selection.run import load_config_data

    directory = Path(directory)
    write_json(directory / SUMMARY_FILE, summary)
    fig_dir = directory / "figures"
    figures = {}
    if summary["cells"]:
        figures["bic"] = criterion_figure(summary, config, "bic", "BIC", fig_dir / "bic.png")
        figures["icl"] = criterion_figure(summary, config, "icl", "ICL", fig_dir / "icl.png")
    lrt = summary.get("lrt")
    if lrt is not None and any(t["boot_lrts"] for t in lrt["tests"]):
        figures["lrt"] = lrt_figure(lrt, fig_dir / "lrt.png")
    loo = summary.get("loo")
    if loo is not None and any(r.get("elpd_loo") is not None for r in loo["rows"]):
        figures["loo"] = loo_figure(loo, config, fig_dir / "loo.png")
    if summary.get("chosen") is not None:
        X = load_config_data(config)
        X = X[~np.isnan(X).any(axis=1)]  # the responsibilities of complete rows
        figures["model"] = model_figure(
            X, summary["chosen"], summary["feature_names"], fig_dir / "model.png"
        )
    sections = page_sections(summary, config, figures)
    return write_study_page(
        sections, directory, "report", f"Choosing the model for {config['data']}"
    )
