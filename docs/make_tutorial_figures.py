"""Run the tutorial's code and write its figures to docs/figures/ (and print its numbers).

Usage: ``python docs/make_tutorial_figures.py`` from the repository root. The printed numbers
are the ones quoted in docs/tutorial.md.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from latentmix import EMGaussianMixture, pages
from latentmix.datasets import house_prices
from latentmix.em.estep import DegenerateMixtureError
from latentmix.em.fit import EMOptions, em_init, em_step
from latentmix.teach import draw as fg
from latentmix.teach.bound import bound_slice, decomposition_path
from latentmix.teach.examples import collapse_example, collapse_start, poor_start
from latentmix.teach.walkthrough import build_walkthrough

OUT = Path(__file__).resolve().parent / "figures"


def _save(fig, name):
    (OUT / name).write_bytes(pages.figure_png(fig, dpi=90))
    print(f"wrote docs/figures/{name}")


def simulate():
    """Step 1: the simulated house prices, coloured by their true neighbourhood."""
    data = house_prices(n_samples=240, random_state=0)
    X, truth = data.data, data.truth
    print("truth weights", truth.weights, "means", truth.means.ravel())
    print("sample sizes per neighbourhood", np.bincount(data.target))
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
    return data


def fit(data):
    """Step 2: EM from k-means++ starts, and the fitted density."""
    X = data.data
    gm = EMGaussianMixture(3, random_state=0).fit(X)
    order = np.argsort(gm.means_[:, 0])
    print("MLE weights", gm.weights_[order].round(3))
    print("MLE means", gm.means_[order, 0].round(1))
    print("MLE sds", np.sqrt(gm.covariances_[order, 0, 0]).round(1))
    print("MLE log-likelihood", round(gm.log_likelihood_, 3), "iterations", gm.n_iter_)
    print("restart objectives", [round(r["objective"], 3) for r in gm.restarts_])
    grid = np.linspace(50, 750, 500)
    fig = fg.new_figure(7.5, 3.0)
    ax = fig.subplots()
    ax.hist(X[:, 0], bins=40, range=(50, 750), density=True, color="0.85")
    dens = fg.mixture_densities_1d(gm.params_, grid)
    colours = fg.component_colours(3)
    for j, k in enumerate(order):
        ax.plot(grid, dens[k], color=colours[j], lw=1.6, label=f"component {j + 1}")
    ax.plot(grid, dens.sum(axis=0), color="black", ls="--", lw=1.2, label="mixture")
    truth = fg.mixture_densities_1d(
        data.truth._replace(covariances=data.truth.full_covariances(), covariance_type="full"),
        grid,
    ).sum(axis=0)
    ax.plot(grid, truth, color="0.4", lw=1, ls=":", label="true density")
    ax.set_yticks([])
    ax.set_xlabel("price_k (thousands)")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("the maximum-likelihood mixture (EM, 10 k-means++ starts)", fontsize=9)
    _save(fig, "tutorial_fit.png")

    # The identity of the lecture, checked on the trajectory of a poor start.
    slow = EMGaussianMixture(3, init=poor_start(X, 3), keep_trajectory=True, tol=1e-8).fit(X)
    path = decomposition_path(X, [p for p, _ in slow.trajectory_])
    print("poor start: iterations", slow.n_iter_, "final log-lik", round(slow.log_likelihood_, 3))
    print("max |Q + H - loglik|", np.abs(path.q + path.entropy - path.log_likelihood).max())
    print("smallest rise in Q", np.nanmin(path.q_gain), "smallest KL", np.nanmin(path.kl_gain))
    print("first rows", np.c_[path.log_likelihood, path.q, path.entropy][:3].round(3))

    # The same run stepped by hand, as the tutorial shows it.
    options = EMOptions(tol=1e-8)
    state = em_init(X, poor_start(X, 3), options)
    while state.n_iter < options.max_iter:
        state, info = em_step(X, state, options)
        if abs(info.change) < options.tol * abs(state.objective):
            break
    print("stepped by hand: iterations", state.n_iter, "log-lik", round(state.log_likelihood, 3))
    return gm, slow


def walkthrough_pictures(data, slow):
    """Step 3: one frame and the bound, as in the walkthrough page."""
    X = data.data
    params = [p for p, _ in slow.trajectory_]
    b = bound_slice(X, params[0], 2, np.linspace(20, 760, 400))
    print(
        "bound at t=0: current",
        round(b.current, 2),
        "peak",
        round(b.maximiser, 2),
        "next EM mean",
        round(params[1].means[2, 0], 2),
        "max(B - loglik)",
        (b.lower_bound - b.log_likelihood).max(),
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = build_walkthrough(data, 3, Path(tmp) / "teach")
        shutil.copy(out / "frames" / "frame_005.png", OUT / "tutorial_frame_005.png")
        shutil.copy(out / "figures" / "bound.png", OUT / "tutorial_bound.png")
        shutil.copy(out / "figures" / "mle_vs_map.png", OUT / "tutorial_mle_vs_map.png")
    print("copied a frame, the bound and the MLE/MAP figure from the walkthrough")


def prior(data):
    """Step 4: MAP under the default prior, and the collapse the prior prevents."""
    X = data.data
    gm = EMGaussianMixture(3, prior="default", random_state=0).fit(X)
    order = np.argsort(gm.means_[:, 0])
    print("MAP weights", gm.weights_[order].round(3))
    print("MAP means", gm.means_[order, 0].round(1))
    print("MAP sds", np.sqrt(gm.covariances_[order, 0, 0]).round(1))
    print(
        "MAP log-lik",
        round(gm.log_likelihood_, 3),
        "log prior",
        round(gm.log_prior_, 3),
        "objective",
        round(gm.objective_, 3),
    )
    Xc = collapse_example(0)
    start = collapse_start(Xc)
    try:
        EMGaussianMixture(2, init=start).fit(Xc)
    except DegenerateMixtureError as err:
        print("MLE on the collapse example:", str(err)[:160], "...")
    m = EMGaussianMixture(2, init=start, prior="default").fit(Xc)
    print(
        "MAP on the collapse example: means",
        m.means_.ravel().round(1),
        "sds",
        np.sqrt(m.covariances_[:, 0, 0]).round(2),
        "weights",
        m.weights_.round(3),
    )
    return gm


def posterior(data, gm_mle, gm_map):
    """Step 5: the posterior by NUTS under the same prior, next to the MLE and the MAP."""
    from latentmix import PyMCGaussianMixture

    X = data.data
    post = PyMCGaussianMixture(3, prior="default").fit(
        X, draws=1000, tune=1000, chains=4, random_state=0
    )
    d = post.diagnostics_
    print("diagnostics: max_r_hat", round(float(d.max_r_hat), 4), "problems", d.problems)
    pm = post.idata_.posterior
    means = pm["means"].values[..., 0].reshape(-1, 3)
    weights = pm["weights"].values.reshape(-1, 3)
    sds = np.sqrt(pm["covariances"].values[..., 0, 0].reshape(-1, 3))
    ref = post.reference_
    order = np.argsort(ref.means[:, 0])
    mle_order = np.argsort(gm_mle.means_[:, 0])
    rows = {
        "weight": (gm_mle.weights_[mle_order], ref.weights[order], weights[:, order]),
        "mean": (gm_mle.means_[mle_order, 0], ref.means[order, 0], means[:, order]),
        "sd": (
            np.sqrt(gm_mle.covariances_[mle_order, 0, 0]),
            np.sqrt(ref.full_covariances()[order, 0, 0]),
            sds[:, order],
        ),
    }
    for name, (mle, map_, draws) in rows.items():
        lo, hi = np.quantile(draws, [0.03, 0.97], axis=0)
        for j in range(3):
            print(
                f"{name} {j + 1}: MLE {mle[j]:.3f} MAP {map_[j]:.3f} posterior mean "
                f"{draws[:, j].mean():.3f} 94% [{lo[j]:.3f}, {hi[j]:.3f}]"
            )
    map_check = post.find_map(X, start=gm_map.params_)
    print(
        "find_MAP means",
        np.sort(map_check.means[:, 0]).round(4),
        "EM MAP means",
        np.sort(gm_map.means_[:, 0]).round(4),
    )
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


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    data = simulate()
    gm, slow = fit(data)
    walkthrough_pictures(data, slow)
    gm_map = prior(data)
    posterior(data, gm, gm_map)
