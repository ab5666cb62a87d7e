r"""Choosing the number of components: BIC and ICL from EM against PSIS-LOO from the posterior.

For each K, one Dask task fits

* the EM MLE (``EMGaussianMixture(prior=None)``) and records its log-likelihood, BIC and ICL
  (scikit-learn's sign convention: lower is better);
* the posterior under the default conjugate prior (``PyMCGaussianMixture``, nutpie), and the
  PSIS-LOO expected log predictive density (ArviZ ``loo``) with its standard error, the
  effective number of parameters and the count of Pareto k above
  :data:`latentmix.comparison.PARETO_K_MAX`. The pointwise
  log-likelihood is computed from the draws and does not depend on the component labels.

The pointwise elpd values are stored, so the standard error of the difference to the best K
is computed as ArviZ's ``compare`` does: :math:`\sqrt{n \operatorname{Var}(e_i^a - e_i^b)}`.
BIC/ICL penalise parameters against the maximised likelihood, LOO measures out-of-sample
prediction; on the galaxies velocities they famously disagree.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from latentmix.jsonio import dumps, write_json
from latentmix.studies.page import number, write_study_page
from latentmix.studies.runner import (
    SUMMARY_FILE,
    Replicate,
    check_choice,
    check_count,
    finish_status,
    read_stored,
    replicate_rng,
    run_study,
    write_pages,
)

#: The command recorded in the output directory's manifest.
COMMAND = "study select"


def _data(config):
    from latentmix.datasets import load_data

    columns = config["columns"]
    return load_data(config["data"], columns).data


def select_task(config: dict, n: int, index: int) -> dict:
    """The study task for K = ``n`` (the runner's size slot holds K here)."""
    import arviz as az

    from latentmix.bayes.diagnostics import SamplingWarning
    from latentmix.bayes.estimator import PyMCGaussianMixture
    from latentmix.comparison import PARETO_K_MAX, draw_log_likelihood, posterior_draws
    from latentmix.estimator import EMGaussianMixture

    K = n
    X = _data(config)
    covariance_type = config["covariance_type"]
    rng = replicate_rng(config["seed"], K, index)
    seeds = rng.integers(0, 2**31 - 1, size=2)
    record = {"K": K}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            em = EMGaussianMixture(
                K, covariance_type=covariance_type, random_state=int(seeds[0])
            ).fit(X)
        record["em"] = {
            "status": "ok",
            "log_likelihood": em.log_likelihood_,
            "bic": em.bic(X),
            "icl": em.icl(X),
            "n_parameters": em.n_parameters(),
        }
    except Exception as err:  # a degenerate MLE at large K is a result, recorded
        record["em"] = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            post = PyMCGaussianMixture(K, covariance_type=covariance_type, prior="default").fit(
                X,
                draws=config["draws"],
                tune=config["tune"],
                chains=config["chains"],
                random_state=int(seeds[1]),
            )
        draws = posterior_draws(post.idata_, covariance_type)
        log_lik = draw_log_likelihood(X, draws)  # (C, S, n)
        total = log_lik.sum(-1)
        idata = az.from_dict(
            posterior={"log_likelihood_total": total}, log_likelihood={"x": log_lik}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # high Pareto k is reported in the table
            loo = az.loo(idata, pointwise=True)
        r_hat_total = float(az.rhat(az.convert_to_dataset({"t": total}))["t"].values)
        pareto_k = np.asarray(loo.pareto_k)
        record["posterior"] = {
            "status": "ok",
            "elpd_loo": float(loo.elpd_loo),
            "se": float(loo.se),
            "p_loo": float(loo.p_loo),
            "n_bad_k": int((pareto_k > PARETO_K_MAX).sum()),
            "max_k": float(pareto_k.max()),
            "elpd_pointwise": np.asarray(loo.loo_i).tolist(),
            "r_hat_log_likelihood": r_hat_total,
            "max_r_hat": float(post.diagnostics_.max_r_hat),
            "divergences": int(post.diagnostics_.n_divergent),
            # Only the sampler's own verdicts: library chatter is not a result.
            "warnings": sorted(
                {str(w.message) for w in caught if issubclass(w.category, SamplingWarning)}
            ),
        }
    except Exception as err:
        record["posterior"] = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    return record


def select_config(
    data: str,
    ks,
    *,
    covariance_type="full",
    columns=None,
    random_state: int = 0,
    draws=1000,
    tune=1000,
    chains=2,
) -> dict:
    """The settings of a model-selection study (checked: the data must load)."""
    from latentmix.datasets import load_data, split_columns
    from latentmix.params import COVARIANCE_TYPES

    check_choice("--covariance", covariance_type, COVARIANCE_TYPES)
    ks = list(ks)
    if not ks:
        raise ValueError("-k needs at least one component count.")
    for k in ks:
        check_count("-k", k, 1)
    check_count("--draws", draws, 1)
    check_count("--tune", tune, 0)
    check_count("--chains", chains, 1)

    cols = split_columns(columns)
    X = load_data(data, cols).data
    ks = sorted({int(k) for k in ks})
    if ks[-1] > X.shape[0]:
        raise ValueError(f"K = {ks[-1]} exceeds the {X.shape[0]} observations of {data}.")
    return {
        "study": "select",
        "data": str(data),
        "columns": None if cols is None else list(cols),
        "ks": ks,
        "covariance_type": covariance_type,
        "seed": int(random_state),
        "draws": int(draws),
        "tune": int(tune),
        "chains": int(chains),
    }


def run_select(config, out, *, scheduler=None, n_workers=2, processes=True, quiet=False):
    """Run (or resume) the selection study, one task per K."""
    reps = [Replicate(k, 0, "k") for k in config["ks"]]
    return run_study(
        select_task,
        config,
        reps,
        out,
        command=COMMAND,
        scheduler=scheduler,
        n_workers=n_workers,
        processes=processes,
        quiet=quiet,
        required=("K", "em", "posterior"),
    )


def replicate_failed(record: dict) -> bool:
    """Whether one K failed as a whole: its task raised, or both EM and the posterior failed."""
    if record.get("status") != "ok":
        return True
    return all((record.get(arm) or {}).get("status") != "ok" for arm in ("em", "posterior"))


def selection_table(records: list[dict]) -> list[dict]:
    """One row per K: EM criteria, LOO, and the difference to the best LOO with its SE."""
    ok = [r for r in records if r.get("status") == "ok"]
    post = {r["K"]: r["posterior"] for r in ok if r.get("posterior", {}).get("status") == "ok"}
    best = max(post, key=lambda k: post[k]["elpd_loo"]) if post else None
    rows = []
    for r in sorted(records, key=lambda r: r.get("n", 0)):
        K = r.get("K", r.get("n"))
        em = r.get("em", {}) if r.get("status") == "ok" else {}
        p = post.get(K)
        row = {
            "K": K,
            "log_likelihood": em.get("log_likelihood"),
            "bic": em.get("bic"),
            "icl": em.get("icl"),
            "em_error": em.get("error") or r.get("error"),
            "elpd_loo": p and p["elpd_loo"],
            "se": p and p["se"],
            "p_loo": p and p["p_loo"],
            "n_bad_k": p and p["n_bad_k"],
            "max_r_hat": p and p.get("max_r_hat"),
            "divergences": p and p.get("divergences"),
            "posterior_error": (r.get("posterior") or {}).get("error") or r.get("error"),
        }
        if p is not None and best is not None:
            diff = np.asarray(post[best]["elpd_pointwise"]) - np.asarray(p["elpd_pointwise"])
            row["elpd_diff"] = float(diff.sum())
            row["diff_se"] = float(np.sqrt(diff.size * diff.var(ddof=1))) if best != K else 0.0
        rows.append(row)
    return rows


def summarise_select(records: list[dict]) -> dict:
    """The study's summary, JSON-ready: the table rows and the sampler's warnings per K."""
    from latentmix.comparison import PARETO_K_MAX

    warned = [
        {"K": r["K"], "warning": w}
        for r in records
        if r.get("status") == "ok" and r["posterior"].get("status") == "ok"
        for w in r["posterior"]["warnings"]
    ]
    summary = {"rows": selection_table(records), "warnings": warned, "pareto_k_max": PARETO_K_MAX}
    return json.loads(dumps(summary))


def _figure(rows: list[dict], config: dict, directory: Path) -> Path:
    """BIC and ICL against K beside elpd_loo with its SE and the SE of the difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentmix.pages import save_figure

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    em = [r for r in rows if r["bic"] is not None]
    ax1.plot([r["K"] for r in em], [r["bic"] for r in em], "o-", label="BIC")
    ax1.plot([r["K"] for r in em], [r["icl"] for r in em], "s--", label="ICL")
    ax1.set_xlabel("K")
    ax1.set_ylabel("criterion (lower is better)")
    ax1.set_title("EM maximum likelihood", fontsize=10)
    ax1.legend()
    loo = [r for r in rows if r["elpd_loo"] is not None]
    ks = [r["K"] for r in loo]
    ax2.errorbar(
        ks,
        [r["elpd_loo"] for r in loo],
        yerr=[2 * r["se"] for r in loo],
        fmt="o-",
        capsize=3,
        color="C2",
        label="elpd_loo ± 2 SE",
    )
    if loo:
        best = max(r["elpd_loo"] for r in loo)
        ax2.errorbar(
            ks,
            [best - r["elpd_diff"] for r in loo],
            yerr=[2 * r["diff_se"] for r in loo],
            fmt="none",
            capsize=6,
            color="k",
            alpha=0.6,
            label="± 2 SE of the difference to the best",
        )
    ax2.set_xlabel("K")
    ax2.set_ylabel("elpd_loo (higher is better)")
    ax2.set_title("posterior, PSIS-LOO", fontsize=10)
    ax2.legend(fontsize=7)
    for ax in (ax1, ax2):
        ax.set_xticks(config["ks"])
    fig.tight_layout()
    return save_figure(fig, directory / "figures" / "select.png")


def command_line(config: dict) -> str:
    """The ``latentmix study select`` command that makes this study."""
    ks = config["ks"]
    k = f"{ks[0]}..{ks[-1]}" if ks == list(range(ks[0], ks[-1] + 1)) else ",".join(map(str, ks))
    columns = f" --columns {','.join(config['columns'])}" if config.get("columns") else ""
    return (
        f"latentmix study select {config['data']}{columns} -k {k} "
        f"--covariance {config['covariance_type']} --seed {config['seed']} "
        f"--draws {config['draws']} --tune {config['tune']} --chains {config['chains']} "
        "--out DIR"
    )


def page_sections(summary: dict, config: dict, figure: Path) -> list[dict]:
    """The selection page as sections (see :mod:`latentmix.studies.page`)."""
    rows = summary["rows"]

    def argbest(key, sign):
        vals = [(r[key], r["K"]) for r in rows if r.get(key) is not None]
        return (min(vals) if sign < 0 else max(vals))[1] if vals else None

    k_bic, k_icl, k_loo = argbest("bic", -1), argbest("icl", -1), argbest("elpd_loo", +1)
    sections = [
        {
            "heading": None,
            "paragraphs": [
                f"Covariance {config['covariance_type']}; EM MLE for BIC and ICL (lower is "
                "better); posterior under the default conjugate prior, nutpie, "
                f"{config['chains']} chains x {config['draws']} draws after {config['tune']} "
                f"tuning steps, for PSIS-LOO. Best K: BIC {k_bic}, ICL {k_icl}, LOO {k_loo}."
            ],
            "tables": [
                {
                    "headers": [
                        "K",
                        "log-lik",
                        "BIC",
                        "ICL",
                        "elpd_loo",
                        "SE",
                        "p_loo",
                        f"Pareto k > {summary['pareto_k_max']}",
                        "Δelpd to best",
                        "SE(Δ)",
                        "max R-hat",
                        "divergences",
                    ],
                    "rows": [
                        [
                            r["K"],
                            number(r["log_likelihood"], 2),
                            number(r["bic"], 2),
                            number(r["icl"], 2),
                            number(r["elpd_loo"], 2),
                            number(r["se"], 2),
                            number(r["p_loo"], 2),
                            "-" if r["n_bad_k"] is None else r["n_bad_k"],
                            number(r.get("elpd_diff"), 2),
                            number(r.get("diff_se"), 2),
                            number(r["max_r_hat"], 3),
                            "-" if r["divergences"] is None else r["divergences"],
                        ]
                        for r in rows
                    ],
                }
            ],
            "figures": [
                {
                    "path": figure,
                    "caption": "BIC and ICL (EM) against PSIS-LOO (posterior) for each K.",
                }
            ],
        }
    ]
    errors = [
        [r["K"], r["em_error"] or "", r["posterior_error"] or ""]
        for r in rows
        if r["em_error"] or r["posterior_error"]
    ]
    if errors:
        sections.append(
            {
                "heading": "Failures",
                "tables": [{"headers": ["K", "EM", "posterior"], "rows": errors}],
            }
        )
    if summary["warnings"]:
        sections.append(
            {
                "heading": "Sampler warnings",
                "paragraphs": [
                    "The sampler flagged these runs. Mixtures with more components than the "
                    "data support have minor modes and weakly identified components; the LOO "
                    "values of these K carry that extra Monte Carlo uncertainty."
                ],
                "tables": [
                    {
                        "headers": ["K", "warning"],
                        "rows": [[w["K"], w["warning"]] for w in summary["warnings"]],
                        "wrap": [1],
                    }
                ],
            }
        )
    sections.append(
        {
            "heading": "How this page is made",
            "paragraphs": [
                "The command below makes this study. It stores one file per K in "
                "DIR/replicates/ and resumes an interrupted run. The page and summary.json are "
                "made from summary.json and study.json alone "
                "(latentmix.studies.select.rewrite_pages(DIR))."
            ],
            "code": command_line(config),
        }
    )
    return sections


def render(summary: dict, config: dict, directory) -> tuple[Path, Path]:
    """Write summary.json, the figure, report.html and report.md into ``directory``."""
    directory = Path(directory)
    write_json(directory / SUMMARY_FILE, summary)
    figure = _figure(summary["rows"], config, directory)
    return write_study_page(
        page_sections(summary, config, figure),
        directory,
        "report",
        f"Choosing K on {config['data']}",
    )


def write_select_page(records: list[dict], config: dict, out) -> tuple[Path, Path]:
    """One table and one figure: BIC and ICL against elpd_loo with its SE, per K."""
    summary = summarise_select(records)
    return write_pages(out, COMMAND, lambda directory: render(summary, config, directory))


def rewrite_pages(out) -> tuple[Path, Path]:
    """Make the pages of a finished selection study again from summary.json and study.json."""
    config, summary = read_stored(out)
    return write_pages(out, COMMAND, lambda directory: render(summary, config, directory))


def run_select_command(args) -> int:
    """``latentmix study select``."""
    config = select_config(
        args.data,
        args.components,
        covariance_type=args.covariance,
        columns=args.columns,
        random_state=args.seed,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
    )
    records = run_select(
        config, args.out, scheduler=args.scheduler, n_workers=args.workers, quiet=args.quiet
    )
    html, md = write_select_page(records, config, args.out)
    print(f"report: {html} and {md}")
    return finish_status(records, args.out, replicate_failed)
