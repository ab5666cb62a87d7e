"""Run the tutorial's code: draw its figures, record its numbers, write docs/tutorial.md.

Usage, from the repository root::

    python docs/make_tutorial_figures.py          # everything (samples the posterior: minutes)
    python docs/make_tutorial_figures.py --render # only docs/tutorial.md from the JSON
    python docs/make_tutorial_figures.py --no-posterior  # all but the NUTS part (seconds)

It writes ``docs/figures/*.png``, ``docs/figures/tutorial_numbers.json`` (every number the
tutorial quotes, as computed) and ``docs/tutorial.md``, which is ``docs/tutorial.md.j2``
rendered with those numbers: no number in the tutorial is typed by hand.
``tests/test_docs.py`` holds the committed files to this script (the markdown is the template
rendered with the JSON, and the EM numbers are what the code computes today).
``python reports/make_examples.py --all`` runs it together with the example reports.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "figures"
NUMBERS = OUT / "tutorial_numbers.json"
TEMPLATE = "tutorial.md.j2"
TUTORIAL = HERE / "tutorial.md"
#: Round-off claims the text makes ("below 1e-10") instead of quoting machine noise.
ROUND_OFF = 1e-10
#: The posterior's interval level in the tutorial.
LEVEL = 0.94


def _save(fig, name: str) -> None:
    from latentmix import pages

    pages.save_figure(fig, OUT / name, dpi=90)
    print(f"wrote docs/figures/{name}")


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


# --- the EM part: cheap, recomputed by tests/test_docs.py ------------------------------------


def _crossing(params, j: int, k: int) -> float:
    """Between means j < k (1-D), where the weighted densities of j and k are equal."""
    from latentmix.teach.draw import mixture_densities_1d

    full = params._replace(covariances=params.full_covariances(), covariance_type="full")
    grid = np.linspace(params.means[j, 0], params.means[k, 0], 20001)
    dens = mixture_densities_1d(full, grid)
    return float(grid[np.argmin(np.abs(dens[j] - dens[k]))])


def simulate(draw: bool = True) -> tuple[dict, object]:
    """Step 1: the simulated house prices, coloured by their true neighbourhood."""
    from latentmix.datasets import house_prices

    data = house_prices(n_samples=240, random_state=0)
    X, truth = data.data, data.truth
    numbers = {
        "n": int(X.shape[0]),
        "weights": _floats(truth.weights),
        "means": _floats(truth.means[:, 0]),
        "sds": _floats(np.sqrt(truth.full_covariances()[:, 0, 0])),
        "counts": [int(c) for c in np.bincount(data.target)],
        # Where the upper two neighbourhoods are equally likely: a sale there is anyone's.
        "crossing": _crossing(truth, 1, 2),
    }
    if draw:
        from latentmix.teach import draw as fg

        fig = fg.new_figure(7.5, 3.0)
        ax = fig.subplots()
        colours = fg.component_colours(3)
        bins = np.linspace(50, 750, 41)
        for k in range(3):
            ax.hist(
                X[data.target == k, 0],
                bins=bins,
                color=colours[k],
                alpha=0.75,
                label=f"neighbourhood {k + 1}",
            )
        ax.set_xlabel("price_k (thousands)")
        ax.set_ylabel("houses")
        ax.legend(frameon=False, fontsize=8)
        ax.set_title("simulated sales, coloured by the neighbourhood (hidden from EM)", fontsize=9)
        _save(fig, "tutorial_simulated.png")
    return numbers, data


def _sorted_estimate(gm) -> dict:
    order = np.argsort(gm.means_[:, 0])
    return {
        "weights": _floats(gm.weights_[order]),
        "means": _floats(gm.means_[order, 0]),
        "sds": _floats(np.sqrt(gm.covariances_[order, 0, 0])),
        "log_likelihood": float(gm.log_likelihood_),
        "n_iter": int(gm.n_iter_),
    }


def fit(data, draw: bool = True) -> tuple[dict, object, object]:
    """Step 2: EM from k-means++ starts, the fitted density, and the run from a poor start."""
    from latentmix import EMGaussianMixture
    from latentmix.em.fit import EMOptions, em_init, em_step
    from latentmix.teach.bound import decomposition_path
    from latentmix.teach.examples import poor_start

    X = data.data
    gm = EMGaussianMixture(3, random_state=0).fit(X)
    objectives = np.array([r["objective"] for r in gm.restarts_], dtype=float)
    mle = _sorted_estimate(gm)
    mle["n_starts"] = int(objectives.size)
    mle["n_starts_at_best"] = int(np.sum(np.abs(objectives - objectives.max()) < 1e-6))

    # The identity of the lecture, checked on the trajectory of a poor start.
    slow = EMGaussianMixture(3, init=poor_start(X, 3), keep_trajectory=True, tol=1e-8).fit(X)
    path = decomposition_path(X, [p for p, _ in slow.trajectory_])
    split_error = float(np.abs(path.q + path.entropy - path.log_likelihood).max())
    if not split_error < ROUND_OFF:
        raise AssertionError(f"|Q + H - l| = {split_error} is not round-off")
    poor = {
        "n_iter": int(slow.n_iter_),
        "log_likelihood": float(slow.log_likelihood_),
        "top_mean": float(np.sort(slow.means_[:, 0])[-1]),
        "split_error_below": ROUND_OFF,
        "min_q_gain": float(np.nanmin(path.q_gain)),
        "min_kl_gain": float(np.nanmin(path.kl_gain)),
        "rows": [_floats([path.log_likelihood[t], path.q[t], path.entropy[t]]) for t in range(3)],
    }

    # The same run stepped by hand, as the tutorial shows it.
    options = EMOptions(tol=1e-8)
    state = em_init(X, poor_start(X, 3), options)
    while state.n_iter < options.max_iter:
        state, info = em_step(X, state, options)
        if abs(info.change) < options.tol * abs(state.objective):
            break
    stepped = {"n_iter": int(state.n_iter), "log_likelihood": float(state.log_likelihood)}

    if draw:
        from latentmix.teach import draw as fg

        order = np.argsort(gm.means_[:, 0])
        grid = np.linspace(50, 750, 500)
        fig = fg.new_figure(7.5, 3.0)
        ax = fig.subplots()
        ax.hist(X[:, 0], bins=40, range=(50, 750), density=True, color="0.85")
        dens = fg.mixture_densities_1d(gm.params_, grid)
        colours = fg.component_colours(3)
        for j, k in enumerate(order):
            ax.plot(grid, dens[k], color=colours[j], lw=1.6, label=f"component {j + 1}")
        ax.plot(grid, dens.sum(axis=0), color="black", ls="--", lw=1.2, label="mixture")
        truth = data.truth._replace(
            covariances=data.truth.full_covariances(), covariance_type="full"
        )
        ax.plot(
            grid,
            fg.mixture_densities_1d(truth, grid).sum(axis=0),
            color="0.4",
            lw=1,
            ls=":",
            label="true density",
        )
        ax.set_yticks([])
        ax.set_xlabel("price_k (thousands)")
        ax.legend(frameon=False, fontsize=8)
        ax.set_title("the maximum-likelihood mixture (EM, 10 k-means++ starts)", fontsize=9)
        _save(fig, "tutorial_fit.png")
    return {"mle": mle, "poor": poor, "stepped": stepped}, gm, slow


def walkthrough_numbers(data, slow) -> dict:
    """Step 3's numbers: the bound at t = 0, and k-means beside EM from the poor start."""
    from latentmix.teach import examples
    from latentmix.teach.bound import bound_slice

    X = data.data
    params = [p for p, _ in slow.trajectory_]
    b = bound_slice(X, params[0], 2, np.linspace(20, 760, 400))
    max_gap = float((b.lower_bound - b.log_likelihood).max())
    if not max_gap < 0:
        raise AssertionError(f"the bound rises above the log-likelihood by {max_gap}")
    run = examples.run_from(X, examples.poor_start(X, 3))
    hs = examples.hard_vs_soft(X, run.params[-1], run.resp[-1], examples.poor_start(X, 3))
    return {
        "bound": {
            "current": float(b.current),
            "maximiser": float(b.maximiser),
            "next_mean": float(params[1].means[2, 0]),
        },
        "hard_soft": {"n_disagree": int(hs.n_disagree), "n_shared": int(hs.n_shared)},
    }


def walkthrough_pictures(data) -> None:
    """Step 3's pictures: one frame, the bound and the MLE/MAP figure of the walkthrough."""
    from latentmix.teach.walkthrough import build_walkthrough

    with tempfile.TemporaryDirectory() as tmp:
        out = build_walkthrough(data, 3, Path(tmp) / "teach")
        shutil.copy(out / "frames" / "frame_005.png", OUT / "tutorial_frame_005.png")
        shutil.copy(out / "figures" / "bound.png", OUT / "tutorial_bound.png")
        shutil.copy(out / "figures" / "mle_vs_map.png", OUT / "tutorial_mle_vs_map.png")
    print("copied a frame, the bound and the MLE/MAP figure from the walkthrough")


def prior(data) -> tuple[dict, object]:
    """Step 4: MAP under the default prior, and the collapse the prior prevents."""
    from latentmix import EMGaussianMixture
    from latentmix.em.estep import DegenerateMixtureError
    from latentmix.teach.examples import collapse_example, collapse_start, run_collapse_example

    X = data.data
    gm = EMGaussianMixture(3, prior="default", random_state=0).fit(X)
    map_ = _sorted_estimate(gm)
    map_.update(log_prior=float(gm.log_prior_), objective=float(gm.objective_))

    Xc = collapse_example(0)
    start = collapse_start(Xc)
    try:
        EMGaussianMixture(2, init=start).fit(Xc)
    except DegenerateMixtureError as err:
        message = str(err).split(" (")[0]
    else:
        raise AssertionError("the MLE of the collapse example did not collapse")
    m = EMGaussianMixture(2, init=start, prior="default").fit(Xc)
    collapse = {
        "n": int(Xc.shape[0]),
        "mle_iter": int(run_collapse_example(0).mle.n_iter),
        "error": message,
        "map_means": _floats(m.means_[:, 0]),
        "map_sds": _floats(np.sqrt(m.covariances_[:, 0, 0])),
        "map_weights": _floats(m.weights_),
    }
    return {"map": map_, "collapse": collapse}, gm


def laplace(data, gm_map) -> dict:
    """Step 5's cheap part: Laplace intervals around the MAP, by name and sorted by mean."""
    lap = gm_map.laplace(data.data, level=LEVEL, random_state=0)
    order = np.argsort(gm_map.means_[:, 0])
    index = {name: i for i, name in enumerate(lap.names)}

    def interval(name, sqrt=False):
        lo, hi = float(lap.lower[index[name]]), float(lap.upper[index[name]])
        return [math.sqrt(lo), math.sqrt(hi)] if sqrt else [lo, hi]

    top = int(order[-1])
    return {
        "top_name": f"means[{top},0]",
        "mean": [interval(f"means[{k},0]") for k in order],
        "weight": [interval(f"weights[{k}]") for k in order],
        # Quantiles of the variance's draws map to the sd's through the square root.
        "sd": [interval(f"covariances[{k},0,0]", sqrt=True) for k in order],
    }


def em_numbers(draw: bool = False) -> tuple[dict, dict]:
    """Every number of the tutorial that EM computes (seconds), and the fitted objects."""
    truth, data = simulate(draw)
    fitted, gm, slow = fit(data, draw)
    prior_numbers, gm_map = prior(data)
    numbers = {
        "truth": truth,
        **fitted,
        **walkthrough_numbers(data, slow),
        **prior_numbers,
        "laplace": laplace(data, gm_map),
    }
    return numbers, {"data": data, "mle": gm, "slow": slow, "map": gm_map}


# --- the posterior: minutes (NUTS) ------------------------------------------------------------


def posterior(data, gm_mle, gm_map, poor_top_mean: float, draw: bool = True) -> dict:
    """Step 5: the posterior by NUTS under the same prior, next to the MLE and the MAP."""
    from latentmix import PyMCGaussianMixture

    X = data.data
    post = PyMCGaussianMixture(3, prior="default").fit(
        X, draws=1000, tune=1000, chains=4, random_state=0
    )
    d = post.diagnostics_
    pm = post.idata_.posterior
    means = pm["means"].values[..., 0].reshape(-1, 3)
    weights = pm["weights"].values.reshape(-1, 3)
    sds = np.sqrt(pm["covariances"].values[..., 0, 0].reshape(-1, 3))
    order = np.argsort(post.reference_.means[:, 0])
    tail = (1 - LEVEL) / 2
    summary = {}
    for name, draws in (("mean", means), ("weight", weights), ("sd", sds)):
        draws = draws[:, order]
        lo, hi = np.quantile(draws, [tail, 1 - tail], axis=0)
        summary[name] = {"mean": _floats(draws.mean(axis=0)), "lower": _floats(lo),
                         "upper": _floats(hi)}  # fmt: skip
    map_check = post.find_map(X, start=gm_map.params_)
    top = means[:, order[-1]]
    map_top = float(post.reference_.means[order[-1], 0])
    numbers = {
        # The second hump: draws of the top mean nearer the poor start's local maximum.
        "share_near_poor": float(np.mean(np.abs(top - poor_top_mean) < np.abs(top - map_top))),
        "n_draws": int(means.shape[0]),
        "max_r_hat": float(d.max_r_hat),
        "min_ess": float(min(d.min_ess_bulk, d.min_ess_tail)),
        "n_divergent": int(d.n_divergent),
        "problems": [str(p) for p in d.problems],
        "find_map_means": _floats(np.sort(map_check.means[:, 0])),
        **summary,
    }
    if draw:
        from latentmix.teach import draw as fg

        mle_order = np.argsort(gm_mle.means_[:, 0])
        ref = post.reference_
        fig = fg.new_figure(10.0, 2.9)
        axes = fig.subplots(1, 3)
        colours = fg.component_colours(3)
        for j, ax in enumerate(axes):
            ax.hist(means[:, order[j]], bins=30, color=colours[j], alpha=0.6, density=True)
            ax.axvline(gm_mle.means_[mle_order[j], 0], color="black", ls=":", lw=1.5, label="MLE")
            ax.axvline(ref.means[order[j], 0], color="black", lw=1.5, label="MAP")
            ax.set_title(f"posterior of the mean of component {j + 1}", fontsize=9)
            ax.set_yticks([])
            ax.set_xlabel("price_k (thousands)")
        axes[0].legend(frameon=False, fontsize=8)
        _save(fig, "tutorial_posterior.png")
    return numbers


# --- the page ----------------------------------------------------------------------------------


def number(value, spec: str = ".3f") -> str:
    """A number as the tutorial prints it: ``format(value, spec)`` with a real minus sign."""
    return format(value, spec).replace("-", "\u2212")


def sci(value, digits: int = 1) -> str:
    """``7.2 × 10<sup>−6</sup>`` (HTML inside the Markdown, as the tutorial writes powers)."""
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    power = number(int(exponent), "d")
    return f"{number(float(mantissa), f'.{digits}f')} \u00d7 10<sup>{power}</sup>"


def render(numbers: dict) -> str:
    """docs/tutorial.md: the template filled with ``numbers`` (as in the JSON)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["num"] = number
    env.filters["fmt"] = format  # plain ASCII, for code comments
    env.filters["sci"] = sci
    return env.get_template(TEMPLATE).render(n=numbers, level=LEVEL)


def write(numbers: dict) -> None:
    """Write the JSON of the numbers and the tutorial rendered from it."""
    NUMBERS.write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n")
    TUTORIAL.write_text(render(json.loads(NUMBERS.read_text())))
    print(f"wrote {NUMBERS.relative_to(HERE.parent)} and {TUTORIAL.relative_to(HERE.parent)}")


def main(argv=None) -> None:
    """Compute everything and write the figures, the JSON and the tutorial (or only render)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--render",
        action="store_true",
        help="only render docs/tutorial.md from docs/figures/tutorial_numbers.json",
    )
    parser.add_argument(
        "--no-posterior",
        action="store_true",
        help="recompute the EM numbers and figures, keep the JSON's posterior numbers and "
        "figure (no sampling), and render",
    )
    args = parser.parse_args(argv)
    if args.no_posterior:
        kept = json.loads(NUMBERS.read_text())["posterior"]
        numbers, _ = em_numbers(draw=True)
        write({**numbers, "posterior": kept})
        return
    if args.render:
        TUTORIAL.write_text(render(json.loads(NUMBERS.read_text())))
        print(f"wrote {TUTORIAL.relative_to(HERE.parent)}")
        return
    OUT.mkdir(exist_ok=True)
    numbers, fitted = em_numbers(draw=True)
    walkthrough_pictures(fitted["data"])
    numbers["posterior"] = posterior(
        fitted["data"], fitted["mle"], fitted["map"], numbers["poor"]["top_mean"]
    )
    write(numbers)


if __name__ == "__main__":
    main()
