"""EM at scale: time per iteration and peak memory against scikit-learn, in one run.

For each configuration (n, d, K, covariance type) both libraries start from the same
parameters (latentmix's k-means++ start) and run a fixed number of EM iterations with tol = 0
and the same ``reg_covar`` (scikit-learn's default 1e-6); the log-likelihoods at the end must
agree to 1e-8 relative. Time per iteration is the difference between a long and a short run
divided by the difference in iterations, so set-up costs cancel; each is the best of
``--repeat`` tries, the two libraries alternating. Each library runs through its public
fitting function: ``latentmix.em.fit.run_em`` and ``sklearn.mixture.GaussianMixture.fit``.

Peak memory is measured in a fresh subprocess per library and configuration: it loads the data
(saved once to a temporary .npy file), resets and records its resident set size, fits for a
few iterations, and reports the peak resident set size (``VmHWM`` from /proc: ``getrusage``'s
maxrss is inherited from the parent across fork/exec on Linux) and the peak of NumPy's traced
allocations (tracemalloc) during the fit. The table shows the fit's working memory (peak
minus the resident size just before fitting, data and libraries already loaded) and the
whole process's peak.

In the same run a matrix product of the size of the full-covariance E-step, (n, d) by
(d, K d), is timed: "GEMM fraction" is that product's time over one EM iteration's time, and
"GFLOP/s" counts the floating-point work of the iteration's matrix products. The machine's
matrix-product speed is a square (2000, 2000) product's rate (compute-bound, unlike the
memory-bound E-step-sized one); "of peak" is the iteration's GFLOP/s over it.

The study workload: ``--small-fits`` fits of n = 200, d = 2, K = 3 (a new data set and start
each), ``--small-iterations`` iterations each, same start and settings in both libraries.

    python benchmarks/bench_em_scale.py                 # everything (about 10 minutes)
    python benchmarks/bench_em_scale.py --quick         # n = 1e5 only, fewer small fits
    taskset -c 0 python benchmarks/bench_em_scale.py --blas-threads 1 \
        --out benchmarks/results/em_scale_one_core.json   # everything on one core

Writes benchmarks/results/em_scale.json (or ``--out``). ``--blas-threads 1`` alone limits
BLAS but not our block threads; pin the process with ``taskset`` for a one-core comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

REG_COVAR = 1e-6
HERE = Path(__file__).resolve().parent


# --- data and starts ------------------------------------------------------------------------


def make_data(n, d, K, seed):
    from latentmix.params import MixtureParams, sample_mixture

    rng = np.random.default_rng(seed)
    A = rng.normal(size=(K, d, d)) / np.sqrt(d)
    truth = MixtureParams(
        rng.dirichlet(np.full(K, 5.0)),
        rng.normal(scale=3.0, size=(K, d)),
        A @ A.transpose(0, 2, 1) + 0.3 * np.eye(d),
        "full",
    )
    return sample_mixture(truth, n, rng)[0]


def make_start(X, K, covariance_type, seed):
    from latentmix.em.init import initial_params

    # Seeds drawn from a subsample keep the set-up cheap.
    rows = X[:: max(1, X.shape[0] // 20_000)]
    return initial_params(
        rows, K, covariance_type, np.random.default_rng(seed), reg_covar=REG_COVAR
    )


# --- the two fits ---------------------------------------------------------------------------


def sklearn_precisions(params):
    # Benchmark-only explicit inverse: scikit-learn takes precisions, not covariances.
    if params.covariance_type in ("full", "tied"):
        return np.linalg.inv(params.covariances)
    return 1.0 / params.covariances


def run_sklearn(X, start, n_iter):
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(
        start.n_components,
        covariance_type=start.covariance_type,
        weights_init=start.weights,
        means_init=start.means,
        precisions_init=sklearn_precisions(start),
        init_params="random_from_data",  # cheap; the *_init arguments override it
        reg_covar=REG_COVAR,
        tol=0.0,
        max_iter=n_iter,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol = 0: it always reports non-convergence
        t0 = time.perf_counter()
        model.fit(X)
        elapsed = time.perf_counter() - t0
    return elapsed, model


def sklearn_log_likelihood(model, X):
    return float(model.score(X) * X.shape[0])


def run_ours(X, start, n_iter):
    from latentmix.em.fit import EMOptions, run_em

    t0 = time.perf_counter()
    run = run_em(X, start, EMOptions(tol=0.0, max_iter=n_iter, reg_covar=REG_COVAR))
    return time.perf_counter() - t0, run


RUNNERS = {"latentmix": run_ours, "sklearn": run_sklearn}


def per_iteration(X, start, short, long, repeat):
    """(best long run - best short run) / (long - short) per library, runs alternating."""
    best = {name: [np.inf, np.inf] for name in RUNNERS}
    last = {}
    for _ in range(repeat):
        for name, fn in RUNNERS.items():
            t_short, _ = fn(X, start, short)
            t_long, result = fn(X, start, long)
            best[name] = [min(best[name][0], t_short), min(best[name][1], t_long)]
            last[name] = result
    seconds = {name: (b[1] - b[0]) / (long - short) for name, b in best.items()}
    ll_ours = float(last["latentmix"].log_likelihood)
    ll_ref = sklearn_log_likelihood(last["sklearn"], X)
    return seconds, ll_ours, ll_ref


# --- memory, in a subprocess ----------------------------------------------------------------


def _status_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def memory_worker(name, data_path, start_path, n_iter):
    """Run in a fresh process: load the data, fit, print the memory figures as JSON."""
    import sklearn.mixture  # noqa: F401  (both workers load the same libraries)

    import latentmix.em.fit  # noqa: F401
    from latentmix.params import MixtureParams

    X = np.load(data_path)
    s = np.load(start_path)
    start = MixtureParams(s["weights"], s["means"], s["covariances"], str(s["covariance_type"]))
    # getrusage's maxrss is not used: on Linux a child started by fork/exec inherits the
    # parent's peak. VmHWM is this process's own peak; writing 5 to clear_refs resets it.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_bytes("VmRSS")
    tracemalloc.start()
    RUNNERS[name](X, start, n_iter)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = _status_bytes("VmHWM")
    print(
        json.dumps(
            {"rss_before": before, "maxrss": peak, "traced_peak": traced_peak, "data": X.nbytes}
        )
    )


def measure_memory(name, X, start, n_iter, tmp):
    data_path = Path(tmp) / "X.npy"
    start_path = Path(tmp) / "start.npz"
    if not data_path.exists():
        np.save(data_path, X)
    np.savez(
        start_path,
        weights=start.weights,
        means=start.means,
        covariances=start.covariances,
        covariance_type=start.covariance_type,
    )
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--memory-worker",
            name,
            str(data_path),
            str(start_path),
            str(n_iter),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["working"] = row["maxrss"] - row["rss_before"]
    return row


# --- matrix-product speed ---------------------------------------------------------------------


def gemm_seconds(n, d, K, repeat=3):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d))
    B = rng.standard_normal((d, K * d))
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - t0)
    return best


def peak_gflops(size=2000, repeat=5):
    """The machine's matrix-product speed: a square, compute-bound product, in GFLOP/s."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((size, size))
    B = rng.standard_normal((size, size))
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def product_flops(covariance_type, n, d, K):
    """Floating-point operations of the matrix products in one of our iterations."""
    if covariance_type == "full":
        D = d * (d + 1) // 2 + d + 1
        return 2 * n * d * K * d + 2 * n * K * D
    if covariance_type == "tied":
        return 2 * n * d * d * 2 + 2 * n * K * (d + 1)
    if covariance_type == "diag":
        return 2 * 2 * n * K * (2 * d + 1)
    return 2 * 2 * n * K * (d + 2)


# --- many small fits --------------------------------------------------------------------------


def small_fits(count, n_iter, seed):
    from latentmix.params import MixtureParams, sample_mixture

    rng = np.random.default_rng(seed)
    problems = []
    for _ in range(count):
        truth = MixtureParams(
            rng.dirichlet(np.full(3, 5.0)),
            rng.normal(scale=2.0, size=(3, 2)),
            np.repeat(np.eye(2)[None], 3, axis=0),
            "full",
        )
        X = sample_mixture(truth, 200, rng)[0]
        problems.append((X, make_start(X, 3, "full", int(rng.integers(2**31)))))
    times = {}
    worst = 0.0
    for name, fn in RUNNERS.items():
        t0 = time.perf_counter()
        results = [fn(X, start, n_iter)[1] for X, start in problems]
        times[name] = time.perf_counter() - t0
        if name == "latentmix":
            ours = [r.log_likelihood for r in results]
        else:
            ref = [
                sklearn_log_likelihood(m, X) for m, (X, _) in zip(results, problems, strict=True)
            ]
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours, ref, strict=True))
    return times, worst


# --- main -------------------------------------------------------------------------------------


def machine():
    import dask
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    blas = [
        f"{i['internal_api']} {i['version']} ({i['num_threads']} threads, {i['architecture']})"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    ]
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "dask": dask.__version__,
        "blas": blas,
        "load_average_at_start": os.getloadavg(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument(
        "--covariance",
        nargs="+",
        default=["full", "diag", "spherical", "tied"],
        choices=["full", "tied", "diag", "spherical"],
    )
    parser.add_argument(
        "--iterations", type=int, default=10, help="iterations timed at n = 1e5 (fewer above)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small-fits", type=int, default=1000)
    parser.add_argument("--small-iterations", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="n = 1e5, 200 small fits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS to this many threads for both libraries (default: BLAS's own)",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = str(HERE / "results" / "em_scale.json")
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
        # The memory subprocesses inherit the limit through the environment.
        for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ[name] = str(args.blas_threads)
    if args.quick:
        args.n, args.small_fits = [100_000], 200

    info = machine()
    info["peak_gflops"] = peak_gflops()
    print(f"matrix-product speed (2000 x 2000 product): {info['peak_gflops']:.1f} GFLOP/s")
    print(
        f"{info['cpu']}, {info['cpu_count']} cores; numpy {info['numpy']}, scikit-learn "
        f"{info['scikit-learn']}; {'; '.join(info['blas'])}; load {info['load_average_at_start']}"
    )
    header = (
        f"{'n':>9} {'type':>9} | {'ours s/it':>9} {'sklearn':>9} {'speed-up':>8} | "
        f"{'ours MB':>8} {'skl MB':>8} {'ratio':>6} | {'ours RSS':>8} {'skl RSS':>8} | "
        f"{'GEMM s':>7} {'GEMM frac':>9} {'GFLOP/s':>8} {'of peak':>7} | {'rel. diff ll':>12}"
    )
    print(header)
    rows = []
    for n in args.n:
        X = make_data(n, args.d, args.k, args.seed)
        t_gemm = gemm_seconds(n, args.d, args.k)
        with tempfile.TemporaryDirectory() as tmp:
            for covariance_type in args.covariance:
                start = make_start(X, args.k, covariance_type, args.seed)
                # Fewer timed iterations on big data: each one is long enough to time.
                extra = max(3, round(args.iterations * min(1.0, 1e5 / n)))
                short, long = 2, 2 + extra
                best, ll_ours, ll_ref = per_iteration(X, start, short, long, args.repeat)
                rel = abs(ll_ours - ll_ref) / abs(ll_ref)
                mem = {name: measure_memory(name, X, start, 2, tmp) for name in RUNNERS}
                ours, ref = best["latentmix"], best["sklearn"]
                flops = product_flops(covariance_type, n, args.d, args.k)
                row = {
                    "n": n,
                    "d": args.d,
                    "K": args.k,
                    "covariance_type": covariance_type,
                    "reg_covar": REG_COVAR,
                    "iterations_timed": extra,
                    "ours_seconds_per_iteration": ours,
                    "sklearn_seconds_per_iteration": ref,
                    "speedup": ref / ours,
                    "ours_memory": mem["latentmix"],
                    "sklearn_memory": mem["sklearn"],
                    "working_memory_ratio": mem["latentmix"]["working"]
                    / mem["sklearn"]["working"],
                    "peak_rss_ratio": mem["latentmix"]["maxrss"] / mem["sklearn"]["maxrss"],
                    "gemm_seconds": t_gemm,
                    "gemm_fraction": t_gemm / ours,
                    "product_gflops": flops / ours / 1e9,
                    "fraction_of_peak": flops / ours / 1e9 / info["peak_gflops"],
                    "gemm_gflops": 2 * n * args.d * args.k * args.d / t_gemm / 1e9,
                    "log_likelihood_ours": ll_ours,
                    "log_likelihood_sklearn": ll_ref,
                    "log_likelihood_relative_difference": rel,
                }
                rows.append(row)
                mb = 1e6
                ours_mem, ref_mem = mem["latentmix"], mem["sklearn"]
                print(
                    f"{n:>9} {covariance_type:>9} | "
                    f"{ours:>9.4f} {ref:>9.4f} {ref / ours:>7.1f}x | "
                    f"{ours_mem['working'] / mb:>8.0f} {ref_mem['working'] / mb:>8.0f} "
                    f"{row['working_memory_ratio']:>6.2f} | "
                    f"{ours_mem['maxrss'] / mb:>8.0f} {ref_mem['maxrss'] / mb:>8.0f} | "
                    f"{t_gemm:>7.4f} {row['gemm_fraction']:>9.2f} {row['product_gflops']:>8.1f} "
                    f"{row['fraction_of_peak']:>7.0%} | "
                    f"{rel:>12.1e}",
                    flush=True,
                )
                if rel > 1e-8:
                    raise SystemExit(f"log-likelihoods disagree: {ll_ours!r} vs {ll_ref!r}")
        del X

    result = {
        "benchmark": "EM per iteration and peak memory, latentmix vs scikit-learn GaussianMixture",
        "machine": info,
        "note": "other jobs share the machine; the ratios are measured in the same run",
        "blas_threads_limit": args.blas_threads,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.small_fits == 0:
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
        return
    times, worst = small_fits(args.small_fits, args.small_iterations, args.seed)
    small = {
        "fits": args.small_fits,
        "n": 200,
        "d": 2,
        "K": 3,
        "iterations_per_fit": args.small_iterations,
        "ours_seconds": times["latentmix"],
        "sklearn_seconds": times["sklearn"],
        "speedup": times["sklearn"] / times["latentmix"],
        "worst_log_likelihood_relative_difference": worst,
    }
    print(
        f"{args.small_fits} fits of n=200, d=2, K=3, {args.small_iterations} iterations each: "
        f"ours {times['latentmix']:.2f} s, sklearn {times['sklearn']:.2f} s, speed-up "
        f"{small['speedup']:.2f}x (worst rel. diff ll {worst:.1e})"
    )
    if worst > 1e-8:
        raise SystemExit("small fits: log-likelihoods disagree")
    result["small_fits"] = small
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-worker":
        memory_worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main()
