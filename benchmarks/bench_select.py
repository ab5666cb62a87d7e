"""The BIC grid of ``latentmix select`` on iris against scikit-learn's, in one run.

The grid: K = 1..9 for each covariance structure, MLE, fitted as the command fits a cell
(:func:`latentmix.selection.grid.fit_cell`, ``--n-init 10``: 50 screened starts, 10 runs to
convergence at tol 1e-10; K = 1 has one optimum, so one run:
:func:`~latentmix.selection.grid.restarts`). Timed three ways, each the best of ``--repeat``
tries:

* ours, the six structures, one process;
* ours, the six structures, on two worker processes (one cell a task, as the command's local
  Dask cluster runs them; the pool is started and warmed before the clock starts, so the
  time is the grid's, not the start-up's);
* ours and scikit-learn's ``GaussianMixture`` on the four structures scikit-learn has
  (full, tied, diag, spherical), one process: scikit-learn as a user calls it
  (``n_init=1``, its defaults), and with the same restarts and tolerance as ours
  (``n_init=10, tol=1e-10, max_iter=1000``, its ``reg_covar`` 1e-6 kept: it cannot be 0).

The table gives each time and the ratio ours / scikit-learn, and the best BIC of each
library on the shared structures (mclust's sign), so that speed is not bought with worse
optima. The target is the six-structure grid under 5 s on two cores. Timings are only
meaningful on an otherwise idle machine.

    python benchmarks/bench_select.py            # -> benchmarks/results/select.json
    python benchmarks/bench_select.py --quick    # K = 1..3, one try
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = ("full", "tied", "diag", "spherical")


def _iris():
    from latentmix.datasets import load

    return load("iris").data


def ours_cell(args):
    """One cell as ``latentmix select`` fits it: (covariance type, K, BIC, seconds)."""
    from latentmix.selection.grid import fit_cell

    covariance_type, K, n_init = args
    X = _iris()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cell = fit_cell(X, K, covariance_type, None, np.random.SeedSequence([0, K]), n_init)
    return covariance_type, K, cell["mle"].get("bic"), time.perf_counter() - start


def sklearn_cell(covariance_type, K, **settings):
    from sklearn.mixture import GaussianMixture

    X = _iris()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(K, covariance_type=covariance_type, random_state=K, **settings)
        gm.fit(X)
    return -gm.bic(X)  # mclust's sign


def _timed(fn, repeat):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None) -> dict:
    from latentmix.params import COVARIANCE_TYPES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K = 1..3, one try")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--out", default=str(HERE / "results" / "select.json"))
    args = parser.parse_args(argv)
    ks = range(1, 4) if args.quick else range(1, 10)
    repeat = 1 if args.quick else args.repeat
    grid = [(t, K, args.n_init) for t in COVARIANCE_TYPES for K in ks]
    shared = [c for c in grid if c[0] in SHARED]

    ours_serial, cells = _timed(lambda: [ours_cell(c) for c in grid], repeat)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(ours_cell, [("spherical", 1, 1)] * 2))  # imports paid before the clock
        ours_two, _ = _timed(lambda: list(pool.map(ours_cell, grid)), repeat)
    ours_shared, shared_cells = _timed(lambda: [ours_cell(c) for c in shared], repeat)
    sk_default, sk_bic = _timed(lambda: [sklearn_cell(t, K) for t, K, _ in shared], repeat)
    sk_same, sk_bic_same = _timed(
        lambda: [
            sklearn_cell(t, K, n_init=args.n_init, tol=1e-10, max_iter=1000) for t, K, _ in shared
        ],
        repeat,
    )
    ours_bic = [c[2] if c[2] is not None else -np.inf for c in shared_cells]
    rows = [
        ("ours, 6 structures, 1 process", ours_serial, None),
        ("ours, 6 structures, 2 processes", ours_two, None),
        ("ours, 4 shared structures, 1 process", ours_shared, None),
        (
            "scikit-learn, 4 structures, n_init=1 (its defaults)",
            sk_default,
            ours_shared / sk_default,
        ),
        (
            f"scikit-learn, 4 structures, n_init={args.n_init}, tol=1e-10",
            sk_same,
            ours_shared / sk_same,
        ),
    ]
    print(f"iris, K = {ks.start}..{ks.stop - 1}, MLE, load {os.getloadavg()[0]:.1f}")
    print(f"{'':58s} {'seconds':>8s} {'ours/sklearn':>12s}")
    for name, seconds, ratio in rows:
        print(f"{name:58s} {seconds:8.2f} {'' if ratio is None else f'{ratio:12.2f}'}")
    better = sum(o > s + 1e-6 for o, s in zip(ours_bic, sk_bic_same, strict=True))
    worse = sum(o < s - 1e-6 for o, s in zip(ours_bic, sk_bic_same, strict=True))
    print(
        f"shared cells: ours higher BIC in {better}, lower in {worse} (scikit-learn adds "
        "reg_covar 1e-6 to every variance, so equal optima differ slightly)"
    )
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1min": os.getloadavg()[0],
        },
        "ks": list(ks),
        "n_init": args.n_init,
        "seconds": {name: seconds for name, seconds, _ in rows},
        "ratio_ours_over_sklearn": {name: r for name, _, r in rows if r is not None},
        "cell_seconds": {f"{t} K={K}": s for t, K, _, s in cells},
        "bic_shared": {"ours": ours_bic, "sklearn_default": sk_bic, "sklearn_same": sk_bic_same},
        "target_six_structures_two_cores_seconds": 5.0,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
