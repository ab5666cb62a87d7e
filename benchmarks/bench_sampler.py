"""Sampling the faithful posterior (K = 2, full covariances): latentmix against PyMC's way.

Runs, in one process and one after the other, 4 chains x 1000 draws after 1000 tuning steps:

- ``latentmix``: ``PyMCGaussianMixture(2).fit(X)``, i.e. the EM MAP reference, the model with
  its inverse-Wishart and vectorised marginal likelihood, nutpie on the numba backend,
  relabelling and diagnostics. Wall time includes compilation; the stages are timed too.
- ``latentmix-pymc`` (``--with-pymc-backend``): the same model sampled by ``pymc.sample`` on
  PyTensor's C backend (``sampler="pymc"``).
- ``pymc-notebook``: the model as PyMC's example notebooks write it: a Python list of
  ``pm.MvNormal.dist`` components with ``pm.LKJCholeskyCov`` covariances (eta 2,
  exponential standard deviations scaled to the data), normal priors on the means, a
  Dirichlet on the weights and ``pm.Mixture``, sampled by ``pymc.sample`` (its own NUTS,
  default settings). Its prior differs from ours, so the posteriors differ a little; what is
  compared is the cost of an effective draw. Its draws are relabelled with the same
  ``latentmix.relabel`` before diagnostics (R-hat is also given without relabelling).

Reported per run: wall time (with compilation) and sampling time (tuning and draws, as the
sampler records it; for nutpie the stage-by-stage run's), relabelled R-hat max and bulk/tail
ESS min over every scalar of ``weights``, ``means``, ``covariances``, divergences, and bulk ESS
min per second, of wall time and of sampling time, each with its ratio to the notebook model.

    python benchmarks/bench_sampler.py
    python benchmarks/bench_sampler.py --with-pymc-backend --seed 1

Writes benchmarks/results/sampler.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DRAWS, TUNE, CHAINS, K = 1000, 1000, 4, 2


def run_latentmix(X, seed, sampler):
    from latentmix import PyMCGaussianMixture
    from latentmix.bayes.diagnostics import SamplingWarning

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)  # reported in the table instead
        gm = PyMCGaussianMixture(K).fit(
            X, draws=DRAWS, tune=TUNE, chains=CHAINS, random_state=seed, sampler=sampler
        )
    wall = time.perf_counter() - start
    diag = gm.diagnostics_
    return {
        "wall_s": wall,
        "sampling_s": _sampling_time(gm.idata_),
        "max_r_hat": diag.max_r_hat,
        "max_r_hat_unrelabelled": None,
        "min_ess_bulk": diag.min_ess_bulk,
        "min_ess_tail": diag.min_ess_tail,
        "n_divergent": diag.n_divergent,
        "n_relabelled": int(gm.idata_.posterior.attrs["n_relabelled"]),
        "problems": list(diag.problems),
    }


def _sampling_time(idata):
    """Seconds spent sampling (tuning and draws), as the sampler recorded it, or None."""
    value = idata.posterior.attrs.get("sampling_time")
    return None if value is None else float(value)


def stage_times(X, seed):
    """The latentmix pipeline stage by stage (a second, separate run)."""
    import nutpie

    from latentmix import EMGaussianMixture, relabel
    from latentmix.bayes.diagnostics import diagnose
    from latentmix.bayes.model import build_model
    from latentmix.bayes.sample import as_initial_point
    from latentmix.threads import single_threaded_blas

    times = {}
    t = time.perf_counter()
    em = EMGaussianMixture(K, prior="default", random_state=seed).fit(X)
    times["em_map_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model = build_model(X, K, "full", em.prior_)
    times["build_model_s"] = time.perf_counter() - t
    with single_threaded_blas():
        t = time.perf_counter()
        compiled = nutpie.compile_pymc_model(
            model,
            backend="numba",
            var_names=["weights", "means", "covariances"],
            initial_points=as_initial_point(em.params_),
            jitter_rvs=set(),
        )
        times["compile_s"] = time.perf_counter() - t
        t = time.perf_counter()
        idata = nutpie.sample(
            compiled,
            draws=DRAWS,
            tune=TUNE,
            chains=CHAINS,
            seed=seed,
            save_warmup=False,
            progress_bar=False,
        )
        times["sample_s"] = time.perf_counter() - t
    t = time.perf_counter()
    idata = relabel(idata, em.params_)
    diagnose(idata, warn=False)
    times["relabel_and_diagnose_s"] = time.perf_counter() - t
    return times


def notebook_model(X):
    """The mixture as PyMC's example notebooks write it."""
    import pymc as pm

    d = X.shape[1]
    with pm.Model() as model:
        weights = pm.Dirichlet("weights", a=np.ones(K))
        components = []
        for k in range(K):
            chol, _, _ = pm.LKJCholeskyCov(
                f"chol_cov_{k}",
                n=d,
                eta=2.0,
                sd_dist=pm.Exponential.dist(1.0 / X.std(axis=0), shape=d),
                compute_corr=True,
            )
            mu = pm.Normal(f"mu_{k}", mu=X.mean(axis=0), sigma=2 * X.std(axis=0), shape=d)
            components.append(pm.MvNormal.dist(mu=mu, chol=chol))
        pm.Mixture("x", w=weights, comp_dists=components, observed=X)
    return model


def run_notebook(X, seed, reference):
    import arviz as az
    import pymc as pm

    from latentmix import relabel
    from latentmix.bayes.diagnostics import diagnose

    start = time.perf_counter()
    model = notebook_model(X)
    with model:
        idata = pm.sample(
            draws=DRAWS,
            tune=TUNE,
            chains=CHAINS,
            cores=min(CHAINS, os.cpu_count() or 1),
            random_seed=seed,
            progressbar=False,
            compute_convergence_checks=False,
        )
    wall = time.perf_counter() - start
    post = idata.posterior
    d = X.shape[1]
    means = np.stack([post[f"mu_{k}"].values for k in range(K)], axis=2)
    chols = []
    for k in range(K):
        packed = post[f"chol_cov_{k}"].values
        L = np.zeros((*packed.shape[:2], d, d))
        L[..., *np.tril_indices(d)] = packed
        chols.append(L)
    L = np.stack(chols, axis=2)
    covariances = L @ np.swapaxes(L, -1, -2)
    features = [f"x{j + 1}" for j in range(d)]
    ours = az.from_dict(
        posterior={
            "weights": post["weights"].values,
            "means": means,
            "covariances": covariances,
        },
        sample_stats={
            "diverging": idata.sample_stats["diverging"].values,
            "energy": idata.sample_stats["energy"].values,
        },
        coords={"component": np.arange(K), "feature": features, "feature_bis": features},
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": ["component", "feature", "feature_bis"],
        },
    )
    sampling_s = _sampling_time(idata)
    raw = diagnose(ours, warn=False)
    relabelled = relabel(ours, reference)
    diag = diagnose(relabelled, warn=False)
    return {
        "wall_s": wall,
        "sampling_s": sampling_s,
        "max_r_hat": diag.max_r_hat,
        "max_r_hat_unrelabelled": raw.max_r_hat,
        "min_ess_bulk": diag.min_ess_bulk,
        "min_ess_tail": diag.min_ess_tail,
        "n_divergent": diag.n_divergent,
        "n_relabelled": int(relabelled.posterior.attrs["n_relabelled"]),
        "problems": list(diag.problems),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--with-pymc-backend", action="store_true")
    parser.add_argument("--skip-notebook", action="store_true")
    args = parser.parse_args()

    from latentmix import EMGaussianMixture
    from latentmix.datasets import load
    from latentmix.threads import single_threaded_blas

    X = load("faithful").data
    results = {}
    print("latentmix (nutpie) ...", flush=True)
    results["latentmix"] = run_latentmix(X, args.seed, "nutpie")
    print("latentmix stages ...", flush=True)
    results["latentmix"]["stages"] = stage_times(X, args.seed)
    if args.with_pymc_backend:
        print("latentmix (pymc.sample) ...", flush=True)
        results["latentmix-pymc"] = run_latentmix(X, args.seed, "pymc")
    if not args.skip_notebook:
        print("pymc notebook model ...", flush=True)
        reference = EMGaussianMixture(K, prior="default", random_state=args.seed).fit(X)
        with single_threaded_blas():
            results["pymc-notebook"] = run_notebook(X, args.seed, reference.params_)

    stages = results["latentmix"]["stages"]
    if results["latentmix"]["sampling_s"] is None:
        results["latentmix"]["sampling_s"] = stages["sample_s"]
    for r in results.values():
        r["ess_bulk_per_s"] = r["min_ess_bulk"] / r["wall_s"]
        r["ess_bulk_per_sampling_s"] = (
            r["min_ess_bulk"] / r["sampling_s"] if r["sampling_s"] else None
        )
    peer = results.get("pymc-notebook")
    print()
    header = (
        f"{'run':<16}{'wall s':>9}{'sample s':>10}{'R-hat max':>11}{'R-hat raw':>11}"
        f"{'ESS bulk':>10}{'ESS tail':>10}{'diverg.':>9}{'ESS/s':>9}{'x notebook':>12}"
        f"{'ESS/sample s':>14}{'x notebook':>12}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        raw = r["max_r_hat_unrelabelled"]
        ratio = r["ess_bulk_per_s"] / peer["ess_bulk_per_s"] if peer else float("nan")
        r["ess_per_s_ratio_to_notebook"] = ratio if peer else None
        per_sample = r["ess_bulk_per_sampling_s"] or float("nan")
        sample_ratio = float("nan")
        if peer and peer["ess_bulk_per_sampling_s"] and r["ess_bulk_per_sampling_s"]:
            sample_ratio = per_sample / peer["ess_bulk_per_sampling_s"]
        r["ess_per_sampling_s_ratio_to_notebook"] = (
            sample_ratio if np.isfinite(sample_ratio) else None
        )
        print(
            f"{name:<16}{r['wall_s']:>9.1f}{(r['sampling_s'] or float('nan')):>10.1f}"
            f"{r['max_r_hat']:>11.4f}{(raw if raw is not None else float('nan')):>11.3f}"
            f"{r['min_ess_bulk']:>10.0f}{r['min_ess_tail']:>10.0f}{r['n_divergent']:>9d}"
            f"{r['ess_bulk_per_s']:>9.1f}{ratio:>12.1f}{per_sample:>14.1f}{sample_ratio:>12.1f}"
        )
    print(
        "\nlatentmix stages (separate run): "
        + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
    )
    targets = {
        "max_r_hat_below_1.01": results["latentmix"]["max_r_hat"] < 1.01,
        "ess_bulk_above_1000": results["latentmix"]["min_ess_bulk"] > 1000,
        "wall_below_60s": results["latentmix"]["wall_s"] < 60,
    }
    print("targets: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in targets.items()))

    out = {
        "data": "faithful",
        "n_components": K,
        "covariance_type": "full",
        "draws": DRAWS,
        "tune": TUNE,
        "chains": CHAINS,
        "seed": args.seed,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": list(os.getloadavg()),
            "python": platform.python_version(),
        },
        "results": results,
        "targets": targets,
    }
    (HERE / "results").mkdir(exist_ok=True)
    path = HERE / "results" / "sampler.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
