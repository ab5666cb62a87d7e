"""The walkthrough's static figures, one per section after the frames.

Each function takes what :mod:`latentmix.teach.examples` computed and returns a matplotlib
``Figure`` (no pyplot state); the walkthrough saves it once, as ``figures/NAME.png`` and
embedded in the page. Component labels are 1-based (text a person reads).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from latentmix.teach import draw


def bound_figure(X, name: str, params_path, component: int, grid) -> Figure:
    """The bound along one mean at the first four iterations (1-D data).

    Parameters
    ----------
    X : ndarray of shape (n, 1)
    name : str
        The feature's name.
    params_path : list of MixtureParams
        The run's iterates.
    component : int
        0-based.
    grid : ndarray of shape (m,)
        The widest window for the mean.
    """
    colour = draw.component_colours(params_path[0].n_components)[component]
    shown = [t for t in range(4) if t + 1 < len(params_path)]
    fig = draw.new_figure(3.0 * len(shown), 3.0)
    axes = np.atleast_1d(fig.subplots(1, len(shown)))
    for ax, t in zip(axes, shown, strict=True):
        b = draw.zoomed_bound_slice(X, params_path[t], component, grid)
        nxt = params_path[t + 1].means[component, 0]
        draw.draw_bound(ax, b, nxt, colour, ylim=draw.bound_ylim(b), show_legend=t == 0)
        ax.set_title(f"bound built at iteration {t}", fontsize=9)
        ax.set_xlabel(f"mean of component {component + 1} ({draw.plain_text(name)})", fontsize=8)
    return fig


def step_bound_figure(X, params_path, steps) -> Figure:
    """The bound along EM's whole step at the first four iterations (any dimension).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params_path : list of MixtureParams
        The run's iterates.
    steps : ndarray of shape (m,)
        Values of s (0 the current point, 1 the next iterate).
    """
    from latentmix.teach.bound import bound_along_step

    shown = [t for t in range(4) if t + 1 < len(params_path)]
    fig = draw.new_figure(3.2 * len(shown), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(shown)))
    for ax, t in zip(axes, shown, strict=True):
        line = bound_along_step(X, params_path[t], params_path[t + 1], steps)
        draw.draw_bound_line(ax, line, "tab:olive", show_legend=t == 0)
        ax.set_title(f"bound built at iteration {t}", fontsize=10)
    return fig


def decomposition_figure(path) -> Figure:
    """Log-likelihood = Q + H over the run, and each rise split into Q's rise and KL.

    Parameters
    ----------
    path : latentmix.teach.bound.DecompositionPath
    """
    fig = draw.new_figure(9.0, 3.0)
    a, b = fig.subplots(1, 2)
    draw.draw_decomposition(a, path)
    a.set_title("log-likelihood = Q + entropy H", fontsize=9)
    draw.draw_gains(b, path)
    b.set_title("each step's rise = rise in Q + KL term", fontsize=9)
    return fig


def hard_soft_figure(X, names, hard_soft) -> Figure:
    """k-means above (1-D) or beside (2-D) soft EM, from the same start.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    names : list of str
        Feature names.
    hard_soft : latentmix.teach.examples.HardSoft
        Clusters already in EM's component order, so that colours correspond.
    """
    kmeans, params, resp = hard_soft.kmeans, hard_soft.params, hard_soft.resp
    K = params.n_components
    hard = np.eye(K)[kmeans.labels]
    if X.shape[1] == 1:
        grid = np.linspace(*draw.limits(X[:, 0]), 400)
        ymax = 1.15 * draw.mixture_densities_1d(params, grid).sum(axis=0).max()
        fig = draw.new_figure(9.0, 4.6)
        ax_hard, ax_soft = fig.subplots(2, 1, sharex=True)
        draw.draw_mixture_1d(ax_hard, X, kmeans.as_mixture(), hard, grid=grid, ymax=ymax)
        for m in kmeans.means[:, 0]:
            ax_hard.axvline(m, color="0.3", lw=0.8, ls=":")
        ax_hard.set_title(
            "k-means (hard EM): every point wholly in its nearest centre's cluster; "
            "equal weights, one shared spread",
            fontsize=9,
        )
        draw.draw_mixture_1d(ax_soft, X, params, resp, grid=grid, ymax=ymax)
        ax_soft.set_title(
            "soft EM: shared points take mixed colours; own weights and spreads", fontsize=9
        )
        ax_soft.set_xlabel(draw.plain_text(names[0]))
    else:
        fig = draw.new_figure(9.5, 4.0)
        ax_hard, ax_soft = fig.subplots(1, 2, sharex=True, sharey=True)
        xlim, ylim = draw.limits(X[:, 0]), draw.limits(X[:, 1])
        colours = draw.component_colours(K)
        ax_hard.scatter(X[:, 0], X[:, 1], c=draw.blend_colours(hard), s=12, lw=0)
        for k in range(K):
            ax_hard.plot(*kmeans.means[k], marker="X", ms=10, color=colours[k], mec="black")
        ax_hard.set_xlim(*xlim)
        ax_hard.set_ylim(*ylim)
        ax_hard.set_title("k-means (hard EM)", fontsize=9)
        draw.draw_mixture_2d(ax_soft, X, params, resp, xlim=xlim, ylim=ylim)
        ax_soft.set_title("soft EM (full covariances)", fontsize=9)
        for ax in (ax_hard, ax_soft):
            ax.set_xlabel(draw.plain_text(names[0]))
        ax_hard.set_ylabel(draw.plain_text(names[1]))
    return fig


def collapse_figure(result) -> Figure:
    """The collapse example: fitted densities, the collapsing sd, and the profile behind it.

    Parameters
    ----------
    result : latentmix.teach.examples.CollapseResult
    """
    from latentmix.em.estep import log_likelihood
    from latentmix.params import MixtureParams
    from latentmix.priors import log_prior

    X, mle, map_fit, prior = result
    fig = draw.new_figure(11.0, 3.4)
    a, b, c = fig.subplots(1, 3)
    grid = np.linspace(150, 620, 600)
    a.hist(X[:, 0], bins=40, range=(grid[0], grid[-1]), density=True, color="0.85")
    dens = draw.mixture_densities_1d(mle.params, grid).sum(axis=0)
    a.plot(grid, dens, color="tab:red", lw=1.2, label="MLE, last step before collapse")
    a.plot(
        grid,
        draw.mixture_densities_1d(map_fit.params_, grid).sum(axis=0),
        color="black",
        lw=1.6,
        label="MAP (default prior)",
    )
    a.set_ylim(
        0, 2.2 * np.histogram(X[:, 0], bins=40, range=(grid[0], grid[-1]), density=True)[0].max()
    )
    a.set_xlabel("price_k")
    a.set_yticks([])
    a.legend(fontsize=7, frameon=False, loc="upper right")
    a.set_title("fitted densities", fontsize=9)

    # The MLE's component on the lone sale is the one the start put there (index 1).
    sd_path = [np.sqrt(p.full_covariances()[1, 0, 0]) for p, _ in mle.trajectory]
    b.semilogy(sd_path, color="tab:red", marker="o", ms=4, label="MLE")
    b.plot(len(sd_path), sd_path[-1] / 30, "X", color="tab:red", ms=10)
    b.annotate(
        "collapsed",
        (len(sd_path), sd_path[-1] / 30),
        xytext=(-60, -4),
        textcoords="offset points",
        fontsize=8,
        color="tab:red",
    )
    hi = result.lone
    map_sd = np.sqrt(map_fit.params_.full_covariances()[:, 0, 0])
    b.axhline(map_sd[hi], color="black", lw=1.2, label="MAP (converged)")
    b.set_xlabel("iteration")
    b.set_xlim(-0.5, len(sd_path) + 0.8)
    b.set_ylabel("sd of the component on the lone sale")
    b.legend(fontsize=7, frameon=False)
    b.set_title(f"MLE collapses after {mle.n_iter} iterations", fontsize=9)

    # Profile along that component's sd, its mean on the lone sale, the rest at the MAP.
    sds = np.geomspace(1e-8, 300, 400)
    ll, lpost = [], []
    for s in sds:
        covs = map_fit.params_.full_covariances().copy()
        means = map_fit.params_.means.copy()
        covs[hi, 0, 0] = s**2
        means[hi, 0] = X.max()
        p = MixtureParams(map_fit.params_.weights, means, covs, "full")
        ll.append(log_likelihood(X, p))
        lpost.append(ll[-1] + log_prior(p, prior))
    c.semilogx(sds, ll, color="tab:red", lw=1.5, label="log-likelihood → ∞")
    c.semilogx(sds, lpost, color="black", lw=1.5, label="log-likelihood + log prior")
    c.set_ylim(max(lpost) - 60, max(ll) + 10)
    c.set_xlabel("sd of the component on the lone sale")
    c.legend(fontsize=7, frameon=False)
    c.set_title("why: the likelihood has no maximum", fontsize=9)
    return fig


def restarts_figure(X, restarts) -> Figure:
    """Objective paths of the restarts, and the density at each distinct local optimum.

    Parameters
    ----------
    X : ndarray of shape (82, 1)
        Galaxies.
    restarts : list of latentmix.teach.examples.Restart
    """
    good = [r for r in restarts if r.params is not None]
    optima = np.unique(np.round([r.objective for r in good], 2))[::-1]
    cmap = draw.component_colours(max(len(optima), 1))

    def colour(r):
        return cmap[int(np.flatnonzero(optima == np.round(r.objective, 2))[0]) % len(cmap)]

    fig = draw.new_figure(10.0, 3.4)
    a, b = fig.subplots(1, 2)
    for r in good:
        a.plot(r.objective_history, color=colour(r), lw=1.2, alpha=0.85)
    a.set_xscale("symlog", linthresh=10)
    a.set_xlabel("iteration")
    a.set_ylabel("log-likelihood")
    top = optima.max()
    a.set_ylim(top - max(30, 3 * (top - optima.min())), top + 3)
    a.set_title(f"{len(good)} random starts, {len(optima)} distinct end points", fontsize=9)
    grid = np.linspace(5, 40, 600)
    b.hist(X[:, 0], bins=40, range=(grid[0], grid[-1]), density=True, color="0.87")
    drawn = set()
    for r in sorted(good, key=lambda r: -r.objective):
        key = round(r.objective, 2)
        if key in drawn:
            continue
        drawn.add(key)
        density = draw.mixture_densities_1d(r.params, grid).sum(axis=0)
        best = " (best)" if key == optima[0] else ""
        b.plot(grid, density, color=colour(r), lw=1.5, label=f"log-lik {r.objective:.2f}{best}")
    counts = np.histogram(X[:, 0], bins=40, range=(grid[0], grid[-1]), density=True)[0]
    b.set_ylim(0, 2.5 * counts.max())  # near-collapsed optima have tall spikes: clipped
    b.set_xlabel("velocity (1000 km/s)")
    b.set_yticks([])
    b.legend(fontsize=7, frameon=False)
    b.set_title("the distinct local optima (spikes clipped)", fontsize=9)
    return fig
