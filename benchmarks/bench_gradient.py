"""The posterior's cost per gradient evaluation against one EM iteration, n = 1e3, 1e4, 1e5.

For d = 3, K = 3, full covariances (three well-separated clusters, the EM MLE as the point),
in one run:

- ``model``: the whole log-density and its gradient as nutpie evaluates them (the PyMC
  model's ``logp`` by every value variable, prior and transforms included, compiled with
  PyTensor's numba backend), with the likelihood Op of :mod:`latentmix.bayes.likelihood`
  (value and gradient from one pass over the rows, Fisher's identity).
- ``autodiff``: the same likelihood as a plain PyTensor graph whose gradient PyTensor derives
  (:func:`~latentmix.bayes.likelihood.reference_rows`), likelihood only: the alternative the
  Op replaced.
- ``kernel``: the Op's numba kernel called directly (value and gradient), and the value
  alone: where the model's time goes.
- ``em``: one EM iteration (``latentmix.em.fit.em_step``: E-step, statistics, M-step) on
  every core this process may use, and pinned to one core, since nutpie gives each chain one
  core.

Each time is the best of ``--repeat`` calls. Ratios are per gradient evaluation over one EM
iteration.

    python benchmarks/bench_gradient.py

Writes benchmarks/results/gradient.json.
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
K, D = 3, 3
SIZES = (1_000, 10_000, 100_000)


def best_of(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def data(n: int, rng) -> np.ndarray:
    centres = np.array([[-4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [4.0, 0.0, 2.0]])
    labels = rng.integers(0, K, size=n)
    return centres[labels] + rng.normal(size=(n, D))


def run(n: int, repeat: int, seed: int) -> dict:
    import pytensor
    import pytensor.tensor as pt

    from latentmix import EMGaussianMixture
    from latentmix.bayes.likelihood import mixture_rows, mixture_score, reference_rows
    from latentmix.bayes.model import build_model, params_to_point
    from latentmix.bayes.sample import quiet_compile
    from latentmix.em.fit import em_init, em_step
    from latentmix.threads import single_threaded_blas

    X = data(n, np.random.default_rng(seed))
    params = EMGaussianMixture(K, n_init=1, random_state=seed).fit(X).params_
    model = build_model(X, K)
    point = params_to_point(model, params)
    values = [point[v.name] for v in model.value_vars]
    with quiet_compile():
        logp = model.logp()
        model_fn = pytensor.function(
            model.value_vars, [logp, *pt.grad(logp, model.value_vars)], mode="NUMBA"
        )
        w, mu, cov = (pt.as_tensor(v).type() for v in params[:3])
        rows = reference_rows(pt.as_tensor(X), w, mu, cov, "full").sum()
        autodiff_fn = pytensor.function(
            [w, mu, cov], [rows, *pt.grad(rows, [w, mu, cov])], mode="NUMBA"
        )
    args = (params.weights, params.means, params.covariances)
    ones = np.ones(n)
    state = em_init(X, params)
    out = {"n": n}
    with single_threaded_blas():
        out["model_s"] = best_of(lambda: model_fn(*values), repeat)
        out["autodiff_s"] = best_of(lambda: autodiff_fn(*args), repeat)
        out["kernel_grad_s"] = best_of(lambda: mixture_score(X, *args, ones), repeat)
        out["kernel_value_s"] = best_of(lambda: mixture_rows(X, *args), repeat)
    out["em_iteration_s"] = best_of(lambda: em_step(X, state), repeat)
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        out["em_iteration_one_core_s"] = best_of(lambda: em_step(X, state), repeat)
    finally:
        os.sched_setaffinity(0, cores)
    # The value of the autodiff graph agrees with the model's likelihood: same function.
    np.testing.assert_allclose(autodiff_fn(*args)[0], mixture_rows(X, *args).sum(), rtol=1e-10)
    out["ratio_model_to_em"] = out["model_s"] / out["em_iteration_s"]
    out["ratio_model_to_em_one_core"] = out["model_s"] / out["em_iteration_one_core_s"]
    out["ratio_autodiff_to_model"] = out["autodiff_s"] / out["model_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gradient.json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    load = os.getloadavg()[0]
    rows = [run(n, args.repeat, args.seed) for n in SIZES]
    print(f"load average {load:.2f}; times in ms, best of {args.repeat}")
    head = (
        f"{'n':>7} {'model':>8} {'autodiff':>9} {'kernel':>8} {'value':>7} "
        f"{'EM iter':>8} {'EM 1 core':>9} {'model/EM':>9} {'model/EM1':>9}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['n']:>7} {1e3 * r['model_s']:>8.3f} {1e3 * r['autodiff_s']:>9.3f} "
            f"{1e3 * r['kernel_grad_s']:>8.3f} {1e3 * r['kernel_value_s']:>7.3f} "
            f"{1e3 * r['em_iteration_s']:>8.3f} {1e3 * r['em_iteration_one_core_s']:>9.3f} "
            f"{r['ratio_model_to_em']:>9.2f} {r['ratio_model_to_em_one_core']:>9.2f}"
        )
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average": load,
        "settings": {"d": D, "K": K, "covariance_type": "full", "repeat": args.repeat},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
