"""EM with missing cells: time per iteration against complete data, and against patterns.

Data: a mixture sample of n rows, d = 10, K = 8, full covariances. "20% missing by column
groups": the rows are split evenly over five patterns, complete, columns {0, 1} missing,
{2, 3} missing, {4, 5, 6} missing and {7, 8, 9} missing (2 of 10 columns per row on average,
20% of the cells). The missing-data fit runs the fused kernel on each pattern's observed
columns and then O(K d^3) work per pattern (:mod:`latentmix.em.missing`), so its time per
iteration is the complete-data time on fewer columns plus a per-pattern term; the target is
at most 2x the complete-data time.

Time per iteration: ``em_step`` (an M-step, then the E-step at its result) repeated
``--iterations`` times from the same state, best of ``--repeat`` tries, for the complete
data (an ndarray) and for the same rows with cells deleted (``observed_data``). Grouping the
rows by pattern is done once per fit and is timed separately ("grouping").

The pattern sweep: at n = 1e5 and 20% missing cells, P distinct patterns (each row misses 2
columns chosen from P fixed pairs/triples), to show how cost grows with P: each pattern adds
one kernel call on its rows (per-row work unchanged) and a few small factorisations, so the
time is flat in P while rows per pattern are many, and grows by a fixed cost per pattern
(about a millisecond here) once patterns are many and small.

    python benchmarks/bench_missing.py            # n = 1e5 and 1e6, pattern sweep to 200
    python benchmarks/bench_missing.py --quick    # n = 1e5 only, sweep to 50

Writes benchmarks/results/missing.json (or ``--out``). Timings need an idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
D, K = 10, 8
GROUPS = [(), (0, 1), (2, 3), (4, 5, 6), (7, 8, 9)]


def make_data(n, seed=0):
    from latentmix.params import MixtureParams, sample_mixture

    rng = np.random.default_rng(seed)
    A = rng.normal(size=(K, D, D)) / np.sqrt(D)
    truth = MixtureParams(
        rng.dirichlet(np.full(K, 5.0)),
        rng.normal(scale=3.0, size=(K, D)),
        A @ A.transpose(0, 2, 1) + 0.3 * np.eye(D),
        "full",
    )
    return sample_mixture(truth, n, rng)[0], truth


def delete_by_groups(X, groups, seed=1):
    """Each row gets one of ``groups`` (columns to delete), evenly at random."""
    rng = np.random.default_rng(seed)
    out = X.copy()
    which = rng.integers(0, len(groups), X.shape[0])
    for g, cols in enumerate(groups):
        if cols:
            rows = np.flatnonzero(which == g)
            out[np.ix_(rows, list(cols))] = np.nan
    return out


def per_iteration(data, start, iterations, repeat):
    """Best-of-``repeat`` seconds per em_step from the state at ``start``."""
    from latentmix.em.fit import EMOptions, em_init, em_step

    options = EMOptions(tol=0)
    state0 = em_init(data, start, options)
    best = np.inf
    for _ in range(repeat):
        state = state0
        t = time.perf_counter()
        for _ in range(iterations):
            state, info = em_step(data, state, options)
            if info.degenerate:
                raise RuntimeError(info.message)
        best = min(best, (time.perf_counter() - t) / iterations)
    return best


def size_rows(n, iterations, repeat):
    from latentmix.em.missing import observed_data

    X, truth = make_data(n)
    holes = delete_by_groups(X, GROUPS)
    t = time.perf_counter()
    data = observed_data(holes)
    grouping = time.perf_counter() - t
    complete = per_iteration(X, truth, iterations, repeat)
    incomplete = per_iteration(data, truth, iterations, repeat)
    return {
        "n": n,
        "missing_fraction": float(np.isnan(holes).mean()),
        "patterns": int(data.patterns.shape[0]),
        "complete_s_per_iter": complete,
        "missing_s_per_iter": incomplete,
        "ratio": incomplete / complete,
        "grouping_s": grouping,
    }


def pattern_groups(P, rng):
    """P distinct column sets of size 2 (then 3) to delete, about 20% of cells on average."""
    pairs = list(combinations(range(D), 2))
    triples = list(combinations(range(D), 3))
    pool = [pairs[i] for i in rng.permutation(len(pairs))] + [
        triples[i] for i in rng.permutation(len(triples))
    ]
    return pool[:P]


def sweep_rows(n, counts, iterations, repeat):
    from latentmix.em.missing import observed_data

    X, truth = make_data(n)
    complete = per_iteration(X, truth, iterations, repeat)
    rows = []
    rng = np.random.default_rng(2)
    for P in counts:
        holes = X if P == 1 else delete_by_groups(X, pattern_groups(P, rng))
        data = observed_data(holes)
        t = per_iteration(data, truth, iterations, repeat)
        rows.append(
            {
                "patterns": int(data.patterns.shape[0]),
                "missing_fraction": float(np.isnan(holes).mean()),
                "s_per_iter": t,
                "ratio_to_complete": t / complete,
            }
        )
    return {"n": n, "complete_s_per_iter": complete, "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1e5 only, shorter sweep")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "missing.json"))
    args = parser.parse_args(argv)
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    counts = [1, 5, 20, 50] if args.quick else [1, 5, 20, 50, 100, 200]
    iterations = 2 if args.quick else args.iterations
    repeat = 2 if args.quick else args.repeat
    warnings.simplefilter("ignore")
    result = {
        "machine": platform.platform(),
        "processor": platform.processor(),
        "d": D,
        "K": K,
        "covariance_type": "full",
        "sizes": [size_rows(n, iterations, repeat) for n in sizes],
        "sweep": sweep_rows(100_000, counts, iterations, repeat),
    }
    print("n         missing  patterns  complete s/it  missing s/it  ratio  grouping s")
    for r in result["sizes"]:
        print(
            f"{r['n']:<9d} {r['missing_fraction']:7.1%}  {r['patterns']:8d}  "
            f"{r['complete_s_per_iter']:13.4f}  {r['missing_s_per_iter']:12.4f}  "
            f"{r['ratio']:5.2f}  {r['grouping_s']:10.3f}"
        )
    sweep = result["sweep"]
    print(f"\npattern sweep, n = {sweep['n']} (complete {sweep['complete_s_per_iter']:.4f} s/it)")
    print("patterns  missing  s/it     ratio")
    for r in sweep["rows"]:
        print(
            f"{r['patterns']:8d}  {r['missing_fraction']:7.1%}  {r['s_per_iter']:.4f}  "
            f"{r['ratio_to_complete']:5.2f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
