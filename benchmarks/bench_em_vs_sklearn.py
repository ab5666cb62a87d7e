"""Time per EM iteration: latentmix's EM against scikit-learn's GaussianMixture.

Both start from the same parameters and run a fixed number of iterations (tol = 0, no
regularisation). The time per iteration is the difference between a long and a short run
divided by the difference in iterations, so set-up costs cancel; the best of ``--repeat``
tries is kept. The log-likelihoods at the end must agree to 1e-8 relative.

    python benchmarks/bench_em_vs_sklearn.py                       # n = 1e5 and 1e6, full
    python benchmarks/bench_em_vs_sklearn.py --n 100000 --covariance full diag tied spherical
    python benchmarks/bench_em_vs_sklearn.py --blas-threads 1     # both on one BLAS thread

Writes benchmarks/results/em_vs_sklearn.json (em_vs_sklearn_blas1.json with --blas-threads 1).
CPU seconds per iteration are reported next to wall-clock seconds: on a shared machine they
move less with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture

from latentmix.em.fit import run_em
from latentmix.em.init import initial_params
from latentmix.params import MixtureParams, sample_mixture


def make_data(n, d, K, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(K, d, d)) / np.sqrt(d)
    truth = MixtureParams(
        rng.dirichlet(np.full(K, 5.0)),
        rng.normal(scale=3.0, size=(K, d)),
        A @ A.transpose(0, 2, 1) + 0.3 * np.eye(d),
        "full",
    )
    X, _ = sample_mixture(truth, n, rng)
    return X


def start_params(X, K, kind, seed):
    # k-means++ seeds (from a subsample on big data), then one M-step on all rows.
    return initial_params(X, K, kind, np.random.default_rng(seed))


def sklearn_model(start, n_iter):
    kind = start.covariance_type
    if kind in ("full", "tied"):
        precisions = np.linalg.inv(start.covariances)
    else:
        precisions = 1.0 / start.covariances
    return GaussianMixture(
        start.n_components,
        covariance_type=kind,
        weights_init=start.weights,
        means_init=start.means,
        precisions_init=precisions,
        init_params="random_from_data",
        reg_covar=0.0,
        tol=0.0,
        max_iter=n_iter,
    )


def _clock():
    return np.array([time.perf_counter(), time.process_time()])


def run_sklearn(X, start, n_iter):
    model = sklearn_model(start, n_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol = 0: it always reports non-convergence
        t0 = _clock()
        model.fit(X)
        elapsed = _clock() - t0
    return elapsed, model.score(X) * X.shape[0]


def run_ours(X, start, n_iter):
    t0 = _clock()
    run = run_em(X, start, tol=0.0, max_iter=n_iter)
    return _clock() - t0, run.log_likelihood


def per_iteration(fn, X, start, short, long, repeat):
    """Best (wall, cpu) seconds per iteration over ``repeat`` tries, and the log-likelihood."""
    best = np.full(2, np.inf)
    ll = None
    for _ in range(repeat):
        t_short, _ = fn(X, start, short)
        t_long, ll = fn(X, start, long)
        best = np.minimum(best, (t_long - t_short) / (long - short))
    return best, ll


def peak_memory(fn, X, start, n_iter):
    tracemalloc.start()
    fn(X, start, n_iter)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument(
        "--covariance", nargs="+", default=["full"], choices=["full", "tied", "diag", "spherical"]
    )
    parser.add_argument("--iterations", type=int, default=10, help="extra iterations timed")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blas-threads", type=int, default=None, help="limit BLAS threads")
    parser.add_argument("--out", default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    if args.out is None:
        suffix = "" if args.blas_threads is None else f"_blas{args.blas_threads}"
        args.out = str(Path(__file__).parent / "results" / f"em_vs_sklearn{suffix}.json")
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")

    load_at_start = os.getloadavg()
    rows = []
    header = (
        f"{'n':>9} {'d':>3} {'K':>3} {'type':>9} | wall: {'ours s/it':>9} {'sklearn':>9} "
        f"{'speed-up':>8} | cpu: {'ours s/it':>9} {'sklearn':>9} {'speed-up':>8} | "
        f"{'rel. diff ll':>12}"
    )
    if args.memory:
        header += f" {'ours MB':>8} {'sklearn MB':>10}"
    print(header)
    for n in args.n:
        X = make_data(n, args.d, args.k, args.seed)
        for kind in args.covariance:
            start = start_params(X, args.k, kind, args.seed)
            short, long = 2, 2 + args.iterations
            ours, ll_ours = per_iteration(run_ours, X, start, short, long, args.repeat)
            ref, ll_ref = per_iteration(run_sklearn, X, start, short, long, args.repeat)
            rel = abs(ll_ours - ll_ref) / abs(ll_ref)
            (ours, ours_cpu), (ref, ref_cpu) = ours, ref
            row = {
                "n": n,
                "d": args.d,
                "K": args.k,
                "covariance_type": kind,
                "iterations": args.iterations,
                "ours_seconds_per_iteration": ours,
                "sklearn_seconds_per_iteration": ref,
                "speedup": ref / ours,
                "ours_cpu_seconds_per_iteration": ours_cpu,
                "sklearn_cpu_seconds_per_iteration": ref_cpu,
                "cpu_speedup": ref_cpu / ours_cpu,
                "log_likelihood_ours": ll_ours,
                "log_likelihood_sklearn": ll_ref,
                "log_likelihood_relative_difference": rel,
            }
            line = (
                f"{n:>9} {args.d:>3} {args.k:>3} {kind:>9} | {ours:>15.4f} {ref:>9.4f} "
                f"{ref / ours:>7.2f}x | {ours_cpu:>14.4f} {ref_cpu:>9.4f} "
                f"{ref_cpu / ours_cpu:>7.2f}x | {rel:>12.1e}"
            )
            if args.memory:
                row["ours_peak_bytes"] = peak_memory(run_ours, X, start, 2)
                row["sklearn_peak_bytes"] = peak_memory(run_sklearn, X, start, 2)
                mb = (row["ours_peak_bytes"] / 1e6, row["sklearn_peak_bytes"] / 1e6)
                line += f" {mb[0]:>8.0f} {mb[1]:>10.0f}"
            print(line, flush=True)
            if rel > 1e-8:
                raise SystemExit(f"log-likelihoods disagree: {ll_ours!r} vs {ll_ref!r}")
            rows.append(row)

    result = {
        "benchmark": "EM time per iteration, latentmix vs scikit-learn GaussianMixture",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "load_average_at_start": load_at_start,
        },
        "blas_threads_limit": args.blas_threads,
        "note": "other jobs may share the machine; ratios are measured in the same run",
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
