"""Coverage of Wald intervals when cells are missing: complete, MCAR and MAR data.

A known 2-component, 3-feature full-covariance mixture; ``--replicates`` data sets of each
size n (``--n``, default 200 and 1000) for each of five conditions:

- complete: no cell deleted;
- MCAR 10%, 30%, 50%: every cell deleted with that probability, completely at random (a row
  keeps at least one cell);
- MAR: x3 deleted with probability 0.8 where x1 > 1 (about half the rows lose x3, 18% of
  the cells), so that the complete rows are a biased sample of the mixture and only the
  observed-data likelihood gives consistent estimates.

Each data set is fitted by EM (MLE, ``missing="ignore"``, 3 restarts), matched to the truth
(``latentmix.matching.align``), and 95% Wald intervals are computed from the observed
information of the observed-data log-likelihood (``EMGaussianMixture.standard_errors``:
central differences on data with missing cells, the exact Hessian on complete data). The
table gives, per parameter group, the share of intervals that cover the true value, with its
Monte Carlo standard error over the replicates; nominal is 0.95. Beside it, the root mean
square error of each group's estimates against the truth: it should fall like 1/sqrt(n), and
faster the fewer cells are missing.

    python reports/missing_coverage.py                       # 100 replicates, n = 200, 1000
    python reports/missing_coverage.py --replicates 20 --n 400   # quicker

Replicates run in a process pool (``--workers``, default: every core). Writes
reports/missing-coverage/README.md and coverage.json; the README records how long the run took.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from latentmix import EMGaussianMixture
from latentmix.em.parameterisation import natural_vector
from latentmix.matching import align
from latentmix.params import MixtureParams, sample_mixture

HERE = Path(__file__).resolve().parent
LEVEL = 0.95
CONDITIONS = ("complete", "MCAR 10%", "MCAR 30%", "MCAR 50%", "MAR")
GROUPS = ("weights", "means", "covariances")

TRUTH = MixtureParams(
    np.array([0.4, 0.6]),
    np.array([[0.0, 0.0, 0.0], [3.0, 2.5, -2.0]]),
    np.array([[[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]], np.eye(3) * 0.8]),
    "full",
)


def delete(X, condition, rng):
    X = X.copy()
    if condition == "complete":
        return X
    if condition.startswith("MCAR"):
        holes = rng.random(X.shape) < float(condition.split()[1].rstrip("%")) / 100
        empty = holes.all(axis=1)
        holes[empty, rng.integers(0, X.shape[1], int(empty.sum()))] = False
        X[holes] = np.nan
        return X
    X[(X[:, 0] > 1.0) & (rng.random(X.shape[0]) < 0.8), 2] = np.nan  # MAR on x1
    return X


def replicate(condition, seed, n):
    # One stream per (replicate, condition, n): the conditions never share draws.
    rng = np.random.default_rng([seed, CONDITIONS.index(condition), n])
    X = delete(sample_mixture(TRUTH, n, rng)[0], condition, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = EMGaussianMixture(2, missing="ignore", n_init=3, random_state=seed).fit(X)
        gm.params_ = align(gm.params_, TRUTH)
        wald = gm.standard_errors(X, level=LEVEL)
    truth = natural_vector(TRUTH)
    return {
        "covered": ((wald.lower <= truth) & (truth <= wald.upper)).tolist(),
        "error": (wald.estimate - truth).tolist(),
        "groups": [key[0] for key in wald.keys],
        "missing_fraction": float(np.isnan(X).mean()),
    }


def summarise(reps):
    """One row of the table: coverage (MC SE) and RMSE per group, from one cell's replicates."""
    groups = reps[0]["groups"]
    covered = np.array([r["covered"] for r in reps], dtype=float)  # (R, entries)
    error = np.array([r["error"] for r in reps])
    row = {"missing_fraction": float(np.mean([r["missing_fraction"] for r in reps]))}
    for group in GROUPS:
        cols = [j for j, g in enumerate(groups) if g == group]
        # Entries of one replicate are correlated: the SE is over replicate averages.
        per_rep = covered[:, cols].mean(axis=1)
        row[group] = {
            "coverage": float(per_rep.mean()),
            "mc_se": float(per_rep.std(ddof=1) / np.sqrt(len(reps))),
            "rmse": float(np.sqrt(np.mean(error[:, cols] ** 2))),
        }
    return row


def markdown(table, replicates, sizes, minutes, workers) -> str:
    lines = [
        "# Wald coverage with missing cells",
        "",
        "Made by `python reports/missing_coverage.py` (see its docstring): a known "
        "2-component, 3-feature full-covariance mixture, "
        f"{replicates} data sets per condition and size, EM MLE on the observed cells, "
        "95% Wald intervals from the observed information of the observed-data "
        "log-likelihood. *Coverage*: the share of intervals covering the truth (Monte Carlo "
        "SE over replicates); nominal 0.95. *RMSE*: root mean square error of the group's "
        "entries against the truth, which should fall like 1/sqrt(n). "
        f"The run took {minutes:.1f} minutes with {workers} worker processes on a shared "
        "two-core machine.",
        "",
        "| condition | n | cells missing | "
        + " | ".join(f"{g}: coverage | RMSE" for g in GROUPS)
        + " |",
        "|---|---|---|" + "---|---|" * len(GROUPS),
    ]
    for condition in CONDITIONS:
        for n in sizes:
            row = table[condition][str(n)]
            cells = " | ".join(
                f"{row[g]['coverage']:.3f} ({row[g]['mc_se']:.3f}) | {row[g]['rmse']:.3f}"
                for g in GROUPS
            )
            lines.append(f"| {condition} | {n} | {row['missing_fraction']:.1%} | {cells} |")
    ratio = {
        condition: table[condition][str(sizes[0])]["means"]["rmse"]
        / table[condition][str(sizes[-1])]["means"]["rmse"]
        for condition in CONDITIONS
    }
    if len(sizes) > 1:
        expected = np.sqrt(sizes[-1] / sizes[0])
        lines += [
            "",
            f"From n = {sizes[0]} to n = {sizes[-1]} the means' RMSE falls by a factor of "
            + ", ".join(f"{ratio[c]:.2f} ({c})" for c in CONDITIONS)
            + f"; 1/sqrt(n) predicts {expected:.2f}.",
        ]
    return "\n".join(lines) + "\n"


def _run(task):
    return task, replicate(*task)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--n", type=lambda t: [int(v) for v in t.split(",")], default=[200, 1000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=str(HERE / "missing-coverage"))
    args = parser.parse_args(argv)
    tasks = [(c, seed, n) for c in CONDITIONS for n in args.n for seed in range(args.replicates)]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        done = dict(pool.map(_run, tasks, chunksize=4))
    minutes = (time.perf_counter() - start) / 60
    table = {
        c: {
            str(n): summarise([done[(c, seed, n)] for seed in range(args.replicates)])
            for n in args.n
        }
        for c in CONDITIONS
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text(markdown(table, args.replicates, args.n, minutes, args.workers))
    record = {
        "replicates": args.replicates,
        "n": args.n,
        "level": LEVEL,
        "minutes": minutes,
        "table": table,
    }
    (out / "coverage.json").write_text(json.dumps(record, indent=2) + "\n")
    print(out / "README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
