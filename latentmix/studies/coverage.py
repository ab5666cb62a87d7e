"""Coverage study: how often EM and posterior intervals contain the truth.

For every sample size n and replicate i (seeded by
:func:`~latentmix.studies.runner.replicate_rng`):

1. simulate n points from the known mixture (the *truth*);
2. fit the MLE by EM, then Wald intervals (exact observed information, delta method) and
   nonparametric and parametric bootstrap percentile intervals;
3. fit the MAP by EM under the prior, then the Laplace interval;
4. sample the posterior of the PyMC model under the same prior with nutpie (optional);
5. relabel every estimate and draw to the truth, and record per parameter the estimate, the
   interval, whether it covers the true value, its width and the error.

The prior is fixed for the whole study: mclust's default prior (:meth:`ConjugatePrior.default`)
computed from the *population* moments of the truth rather than from each sample. A fixed prior
makes the posterior a proper Bayesian answer to compare, and lets one compiled PyMC model per n
serve every replicate (only the data change, through ``with_data``).

Failures (a degenerate MLE, a non-positive-definite information matrix, a sampler error) are
recorded per method and per replicate and counted in the summary.
"""

from __future__ import annotations

import json
import time
import tomllib
import warnings
from importlib import resources
from pathlib import Path

import numpy as np

from latentmix.em import uncertainty as U
from latentmix.params import MixtureParams, check_covariance_type, sample_mixture
from latentmix.priors import ConjugatePrior
from latentmix.studies.runner import replicate_rng, replicates, run_study, sample_swappable

METHODS = ("mle_wald", "mle_boot_np", "mle_boot_par", "map_laplace", "posterior")
METHOD_LABELS = {
    "mle_wald": "MLE, Wald",
    "mle_boot_np": "MLE, bootstrap (nonparametric)",
    "mle_boot_par": "MLE, bootstrap (parametric)",
    "map_laplace": "MAP, Laplace",
    "posterior": "posterior (NUTS)",
}

# --- truths ----------------------------------------------------------------------------------


def truth_names() -> list[str]:
    """Named truths shipped with the package."""
    folder = resources.files("latentmix.studies") / "truths"
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(".json"))


def truth_from_dict(spec: dict) -> MixtureParams:
    """A MixtureParams from ``{weights, means, covariances, covariance_type}``, checked."""
    try:
        kind = check_covariance_type(spec.get("covariance_type", "full"))
        weights = np.asarray(spec["weights"], dtype=float)
        means = np.asarray(spec["means"], dtype=float)
        covariances = np.asarray(spec["covariances"], dtype=float)
    except KeyError as err:
        raise ValueError(
            f"a truth needs weights, means and covariances; {err.args[0]!r} is missing."
        ) from None
    if means.ndim == 1:
        means = means[:, None]
    if weights.ndim != 1 or weights.size != means.shape[0]:
        raise ValueError(f"weights has {weights.size} values but means has {means.shape[0]} rows.")
    if np.any(weights <= 0) or abs(weights.sum() - 1) > 1e-8:
        raise ValueError(f"weights must be positive and sum to 1; got {weights.tolist()}.")
    params = MixtureParams(weights, means, covariances, kind)
    try:
        np.linalg.cholesky(params.full_covariances())
    except (np.linalg.LinAlgError, ValueError):
        raise ValueError(
            "the covariances of the truth must be positive definite and of the shape of "
            f"covariance_type {kind!r}; got shape {covariances.shape}."
        ) from None
    return params


def truth_to_dict(params: MixtureParams) -> dict:
    """The JSON-able form of a truth."""
    return {
        "covariance_type": params.covariance_type,
        "weights": np.asarray(params.weights).tolist(),
        "means": np.asarray(params.means).tolist(),
        "covariances": np.asarray(params.covariances).tolist(),
    }


def load_truth(spec: str) -> tuple[str, MixtureParams]:
    """A named truth (see :func:`truth_names`) or a JSON/TOML file; returns (name, params)."""
    path = Path(spec)
    if spec in truth_names():
        text = (resources.files("latentmix.studies") / "truths" / f"{spec}.json").read_text()
        return spec, truth_from_dict(json.loads(text))
    if not path.exists():
        raise ValueError(
            f"--truth {spec!r} is neither a named truth ({', '.join(truth_names())}) nor a file."
        )
    try:
        data = (
            tomllib.loads(path.read_text())
            if path.suffix == ".toml"
            else json.loads(path.read_text())
        )
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot read the truth in {path}: {err}") from None
    return path.stem, truth_from_dict(data)


def population_prior(truth: MixtureParams) -> ConjugatePrior:
    """The mclust default prior computed from the mixture's population mean and covariance."""
    K, d = truth.n_components, truth.n_features
    w, mu, cov = truth.weights, truth.means, truth.full_covariances()
    mean = w @ mu
    diff = mu - mean
    total = np.einsum("k,kij->ij", w, cov) + np.einsum("k,ki,kj->ij", w, diff, diff)
    scale = total / K ** (2.0 / d)
    scale = {
        "full": scale,
        "tied": scale,
        "diag": np.diag(scale).copy(),
        "spherical": float(np.trace(scale) / d),
    }[truth.covariance_type]
    return ConjugatePrior(1.0, mean, 0.01, d + 2.0, scale)


# --- one replicate ---------------------------------------------------------------------------


def _record(intervals: U.Intervals, true_vec, estimate=None) -> dict:
    est = intervals.estimate if estimate is None else estimate
    out = {}
    for j, name in enumerate(intervals.names):
        lo, hi, t = intervals.lower[j], intervals.upper[j], true_vec[j]
        out[name] = {
            "estimate": float(est[j]),
            "lower": float(lo),
            "upper": float(hi),
            "covered": bool(lo <= t <= hi),
            "width": float(hi - lo),
            "error": float(est[j] - t),
        }
    return out


def _method(fn):
    """Run one method; its failure is recorded and does not stop the others."""
    start = time.perf_counter()
    try:
        parameters, extra = fn()
        out = {"status": "ok", "parameters": parameters, **extra}
    except Exception as err:  # recorded and counted in the summary
        out = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    out["seconds"] = time.perf_counter() - start
    return out


def _fit_em(X, truth, prior, seed):
    from latentmix.estimator import EMGaussianMixture

    est = EMGaussianMixture(
        truth.n_components,
        covariance_type=truth.covariance_type,
        prior=prior,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a non-converged or degenerate fit is a failure here
        est.fit(X)
    return U.relabel_to(est.params_, truth)


def coverage_replicate(config: dict, n: int, index: int) -> dict:
    """The study task: one simulated data set, every method (see the module docstring)."""
    truth = truth_from_dict(config["truth"])
    prior = population_prior(truth)
    true_vec = U.natural_vector(truth)
    level = config["level"]
    rng = replicate_rng(config["seed"], n, index)
    X, _ = sample_mixture(truth, n, rng)
    seeds = rng.integers(0, 2**31 - 1, size=6)
    methods = {}

    mle = {}

    def wald():
        mle["params"] = _fit_em(X, truth, None, int(seeds[0]))
        return _record(U.standard_errors(mle["params"], X, level=level), true_vec), {}

    methods["mle_wald"] = _method(wald)
    for key, kind, seed in [
        ("mle_boot_np", "nonparametric", seeds[1]),
        ("mle_boot_par", "parametric", seeds[2]),
    ]:
        if kind not in config["bootstrap"]:
            continue
        if "params" not in mle:
            methods[key] = {"status": "failed", "error": "the MLE fit failed", "seconds": 0.0}
            continue

        def boot(kind=kind, seed=seed):
            res = U.bootstrap(
                mle["params"],
                X,
                kind=kind,
                n_boot=config["n_boot"],
                level=level,
                random_state=int(seed),
            )
            return _record(res, true_vec), {"n_failed_refits": res.n_failed}

        methods[key] = _method(boot)

    def lap():
        map_params = _fit_em(X, truth, prior, int(seeds[3]))
        res = U.laplace(map_params, X, prior=prior, level=level, random_state=int(seeds[4]))
        return _record(res, true_vec), {}

    methods["map_laplace"] = _method(lap)
    if config.get("draws", 0) > 0 and index < config.get("posterior_replications", 10**9):

        def post():
            return _posterior(X, truth, prior, config, int(seeds[5]), true_vec)

        methods["posterior"] = _method(post)
    return {"status": "ok", "methods": methods}


# --- the posterior arm -----------------------------------------------------------------------


def _posterior(X, truth, prior, config, seed, true_vec):
    import arviz as az

    trace, compile_seconds, sample_seconds = sample_swappable(
        X, truth.n_components, truth.covariance_type, prior, config, seed
    )
    post = trace.posterior
    C, S = post.sizes["chain"], post.sizes["draw"]
    arrays = [
        np.asarray(post[v].transpose("chain", "draw", ...).values, float)
        for v in ("weights", "means", "covariances")
    ]
    flat = [a.reshape(C * S, *a.shape[2:]) for a in arrays]
    draws = []
    n_permuted = 0
    for w, mu, cov in zip(*flat, strict=True):
        p = MixtureParams(w, mu, cov, truth.covariance_type)
        order = U.match_components(p, truth)
        n_permuted += bool(np.any(order != np.arange(truth.n_components)))
        draws.append(U.natural_vector(p.permute(order)))
    draws = np.array(draws)
    tail = (1 - config["level"]) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
    names = U.parameter_names(truth.n_components, truth.n_features, truth.covariance_type)
    res = U.Intervals(
        names, draws.mean(0), draws.std(0, ddof=1), lower, upper, config["level"], "posterior"
    )
    chains = draws.reshape(C, S, -1)
    rhat = az.rhat(az.convert_to_dataset({"theta": chains}))["theta"].values
    divergences = int(np.asarray(trace.sample_stats["diverging"]).sum())
    return _record(res, true_vec), {
        "max_rhat": float(np.nanmax(rhat)),
        "divergences": divergences,
        "n_permuted_draws": n_permuted,
        "compile_seconds": compile_seconds,
        "sample_seconds": sample_seconds,
    }


# --- the study -------------------------------------------------------------------------------


def study_config(
    truth: MixtureParams,
    truth_name: str,
    sizes,
    n_replications: int,
    *,
    seed: int = 0,
    level: float = 0.95,
    n_boot: int = 100,
    bootstrap=("nonparametric", "parametric"),
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    posterior_replications: int | None = None,
) -> dict:
    """The settings that define a coverage study (stored in OUT/study.json)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1; got {level}.")
    sizes = [int(n) for n in sizes]
    if any(n < truth.n_components * 5 for n in sizes):
        raise ValueError(
            f"every n must be at least 5 per component ({5 * truth.n_components}); got {sizes}."
        )
    bootstrap = list(bootstrap)
    unknown = set(bootstrap) - {"nonparametric", "parametric"}
    if unknown:
        raise ValueError(
            f"bootstrap kinds are 'nonparametric' and 'parametric'; got {sorted(unknown)}."
        )
    if n_replications < 1:
        raise ValueError(f"--replications must be at least 1; got {n_replications}.")
    return {
        "study": "coverage",
        "truth_name": truth_name,
        "truth": truth_to_dict(truth),
        "sizes": sizes,
        "replications": int(n_replications),
        "seed": int(seed),
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


def run_coverage(config: dict, out, *, scheduler=None, n_workers=2, processes=True, quiet=False):
    """Run (or resume) a coverage study; returns every replicate record."""
    reps = replicates(config["sizes"], config["replications"])
    return run_study(
        coverage_replicate,
        config,
        reps,
        out,
        scheduler=scheduler,
        n_workers=n_workers,
        processes=processes,
        quiet=quiet,
    )


# --- summary ---------------------------------------------------------------------------------


def _mc_se(values) -> float:
    """Monte Carlo standard error of a mean."""
    R = len(values)
    return float(np.std(values, ddof=1) / np.sqrt(R)) if R > 1 else float("nan")


def summarise(records: list[dict], config: dict) -> dict:
    """Coverage, bias, RMSE and mean width per method, n and parameter, with Monte Carlo errors.

    Returns
    -------
    dict
        ``rows``: one dict per (method, n, parameter); ``overall``: one per (method, n) with
        the replicates used, failures, and coverage averaged over parameters; ``failed``:
        replicates that failed as a whole.
    """
    truth = truth_from_dict(config["truth"])
    names = U.parameter_names(truth.n_components, truth.n_features, truth.covariance_type)
    true_vec = dict(zip(names, U.natural_vector(truth), strict=True))
    rows, overall = [], []
    failed = [r for r in records if r.get("status") != "ok"]
    for method in METHODS:
        for n in config["sizes"]:
            at_n = [r for r in records if r["n"] == n]
            attempted = [
                r for r in at_n if r.get("status") != "ok" or method in r.get("methods", {})
            ]
            ok = [
                r["methods"][method]
                for r in at_n
                if r.get("status") == "ok"
                and r.get("methods", {}).get(method, {}).get("status") == "ok"
            ]
            if not attempted:
                continue
            coverages = []
            for name in names:
                vals = [m["parameters"][name] for m in ok]
                R = len(vals)
                if R == 0:
                    continue
                cov = np.array([v["covered"] for v in vals], float)
                err = np.array([v["error"] for v in vals])
                width = np.array([v["width"] for v in vals])
                c = cov.mean()
                sq = err**2
                rmse = np.sqrt(sq.mean())
                rows.append(
                    {
                        "method": method,
                        "n": n,
                        "parameter": name,
                        "true": float(true_vec[name]),
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
                coverages.append(c)
            overall.append(
                {
                    "method": method,
                    "n": n,
                    "attempted": len(attempted),
                    "ok": len(ok),
                    "failed": len(attempted) - len(ok),
                    "mean_coverage": float(np.mean(coverages)) if coverages else np.nan,
                    "min_coverage": float(np.min(coverages)) if coverages else np.nan,
                    "max_coverage": float(np.max(coverages)) if coverages else np.nan,
                    "seconds": float(np.mean([m["seconds"] for m in ok])) if ok else np.nan,
                }
            )
    return {"rows": rows, "overall": overall, "failed": failed, "names": names}


# --- report ----------------------------------------------------------------------------------


def _plots(summary, config, out: Path) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentmix.studies.report import save_figure

    rows = summary["rows"]
    names = summary["names"]
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    sizes = config["sizes"]
    level = config["level"]
    figures = []
    colours = dict(zip(sizes, plt.cm.viridis(np.linspace(0.1, 0.85, len(sizes))), strict=True))

    fig, axes = plt.subplots(
        len(methods), 1, figsize=(10, 2.3 * len(methods) + 0.6), sharex=True, squeeze=False
    )
    x = np.arange(len(names))
    for ax, method in zip(axes[:, 0], methods, strict=True):
        ax.axhline(level, color="k", lw=1)
        for j, n in enumerate(sizes):
            sel = {r["parameter"]: r for r in rows if r["method"] == method and r["n"] == n}
            if not sel:
                continue
            cov = np.array([sel[p]["coverage"] if p in sel else np.nan for p in names])
            se = np.array([sel[p]["coverage_mc_se"] if p in sel else np.nan for p in names])
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
        ax.set_title(METHOD_LABELS[method], fontsize=10, loc="left")
        ax.legend(fontsize=7, loc="lower left", ncol=len(sizes))
    axes[-1, 0].set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    fig.suptitle(
        f"Coverage of nominal {level:.0%} intervals per parameter (bars: ±2 Monte Carlo SE)",
        fontsize=11,
    )
    fig.tight_layout()
    figures.append((save_figure(fig, out / "figures" / "coverage.png"), "coverage"))

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.8))
    for method in methods:
        ov = [o for o in summary["overall"] if o["method"] == method and o["ok"]]
        ns = [o["n"] for o in ov]
        ax1.plot(ns, [o["mean_coverage"] for o in ov], "o-", label=METHOD_LABELS[method])
        width = [
            np.mean([r["mean_width"] for r in rows if r["method"] == method and r["n"] == n])
            for n in ns
        ]
        rmse = [
            np.mean([r["rmse"] for r in rows if r["method"] == method and r["n"] == n]) for n in ns
        ]
        ax2.plot(ns, width, "o-", label=METHOD_LABELS[method])
        ax3.plot(ns, rmse, "o-", label=METHOD_LABELS[method])
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
    figures.append((save_figure(fig, out / "figures" / "by_n.png"), "by_n"))
    return figures


def write_coverage_report(records: list[dict], config: dict, out) -> tuple[Path, Path]:
    """Summarise the stored replicates into OUT/report.html, OUT/report.md, OUT/summary.json."""
    from latentmix.studies.report import fmt, write_report
    from latentmix.studies.runner import write_json_atomic

    out = Path(out)
    summary = summarise(records, config)
    write_json_atomic(
        out / "summary.json",
        {k: v for k, v in summary.items() if k != "failed"}
        | {"failed": [{k: r.get(k) for k in ("key", "error")} for r in summary["failed"]]},
    )
    truth = truth_from_dict(config["truth"])
    figures = (
        dict((name, path) for path, name in _plots(summary, config, out))
        if summary["rows"]
        else {}
    )
    level = config["level"]
    blocks = [
        ("h1", f"Coverage study: {config['truth_name']}"),
        (
            "p",
            f"Truth: K = {truth.n_components}, d = {truth.n_features}, covariance "
            f"{truth.covariance_type}; weights {np.round(truth.weights, 3).tolist()}, means "
            f"{np.round(truth.means, 3).tolist()}, covariances "
            f"{np.round(truth.covariances, 3).tolist()}.",
        ),
        (
            "p",
            f"Sample sizes {config['sizes']}, {config['replications']} replicates each (seed "
            f"{config['seed']}); nominal level {level:.0%}; {config['n_boot']} bootstrap refits "
            f"per interval ({', '.join(config['bootstrap']) or 'no bootstrap'}); posterior: "
            f"nutpie NUTS, {config['chains']} chains x "
            f"{config['draws']} draws after {config['tune']} tuning steps, on the first "
            f"{config['posterior_replications']} replicates of each n"
            + (" (disabled)." if config["draws"] == 0 else "."),
        ),
        (
            "p",
            "Prior for the MAP, Laplace and posterior: mclust's default prior computed from the "
            "population mean and covariance of the truth (fixed across replicates). Every "
            "estimate and draw is relabelled to the truth by linear_sum_assignment. Monte "
            "Carlo SE of a coverage c from R replicates is sqrt(c(1-c)/R): about 2.2 points "
            "for c = 0.95 and R = 100.",
        ),
        ("h2", "Summary per method and sample size"),
    ]
    head = [
        "method",
        "n",
        "replicates ok",
        "failed",
        "coverage (mean)",
        "min",
        "max",
        "s per fit (mean)",
    ]
    body = [
        [
            METHOD_LABELS[o["method"]],
            o["n"],
            o["ok"],
            o["failed"],
            fmt(o["mean_coverage"]),
            fmt(o["min_coverage"]),
            fmt(o["max_coverage"]),
            fmt(o["seconds"], 2),
        ]
        for o in summary["overall"]
    ]
    blocks.append(("table", head, body))
    if "coverage" in figures:
        blocks.append(("figure", figures["coverage"], "Coverage per parameter, method and n."))
        blocks.append(("figure", figures["by_n"], "Coverage, width and RMSE against n."))
    blocks.append(("h2", "Per parameter"))
    blocks.append(
        (
            "p",
            "Coverage ± its Monte Carlo SE; bias and RMSE of the point estimate (MLE, MAP, or "
            "posterior mean) ± MC SE; mean interval width ± MC SE.",
        )
    )
    head = ["method", "n", "parameter", "true", "R", "coverage", "bias", "RMSE", "mean width"]
    body = [
        [
            METHOD_LABELS[r["method"]],
            r["n"],
            r["parameter"],
            fmt(r["true"]),
            r["replicates"],
            f"{fmt(r['coverage'])} ± {fmt(r['coverage_mc_se'])}",
            f"{fmt(r['bias'])} ± {fmt(r['bias_mc_se'])}",
            f"{fmt(r['rmse'])} ± {fmt(r['rmse_mc_se'])}",
            f"{fmt(r['mean_width'])} ± {fmt(r['width_mc_se'])}",
        ]
        for r in summary["rows"]
    ]
    blocks.append(("table", head, body))
    post = [
        r["methods"]["posterior"]
        for r in records
        if r.get("status") == "ok" and r["methods"].get("posterior", {}).get("status") == "ok"
    ]
    if post:
        blocks.append(("h2", "Posterior sampling diagnostics"))
        blocks.append(
            (
                "p",
                f"{len(post)} posterior fits: max R-hat over parameters (relabelled draws) "
                f"median {np.median([p['max_rhat'] for p in post]):.3f}, worst "
                f"{np.max([p['max_rhat'] for p in post]):.3f}; fits with divergences "
                f"{sum(p['divergences'] > 0 for p in post)}; sampling "
                f"{np.median([p['sample_seconds'] for p in post]):.1f} s median per fit; "
                "compilation once per n per worker: "
                f"{np.median([p['compile_seconds'] for p in post]):.0f} s.",
            )
        )
    failures = summary["failed"] + [
        {"key": r["key"], "error": f"{m}: {v['error']}"}
        for r in records
        if r.get("status") == "ok"
        for m, v in r["methods"].items()
        if v["status"] != "ok"
    ]
    blocks.append(("h2", "Failures"))
    if failures:
        blocks.append(("p", f"{len(failures)} failed fits (replicate: method: error)."))
        blocks.append(
            ("table", ["replicate", "error"], [[f["key"], f["error"]] for f in failures])
        )
    else:
        blocks.append(("p", "None: every method succeeded on every replicate."))
    return write_report(blocks, out, "report", f"Coverage study: {config['truth_name']}")
