"""Drawing helpers for the EM walkthrough: soft colours, components, the bound, the split.

Every ``draw_*`` function draws on a matplotlib ``Axes`` it is given and returns nothing, so
that the callers (:mod:`latentmix.teach.frames`, :mod:`latentmix.teach.figures`) decide the
layout. Figures are built with ``matplotlib.figure.Figure`` (no pyplot state).
Components are numbered from 1 in every label (text a person reads); arrays are 0-based.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from latentmix.params import MixtureParams
from latentmix.teach.bound import BoundSlice, bound_slice

# Colour-blind-safe component colours (Okabe-Ito), as RGB in [0, 1].
_PALETTE = np.array(
    [
        [0.000, 0.447, 0.698],  # blue
        [0.835, 0.369, 0.000],  # vermillion
        [0.000, 0.620, 0.451],  # bluish green
        [0.800, 0.475, 0.655],  # reddish purple
        [0.902, 0.624, 0.000],  # orange
        [0.337, 0.706, 0.914],  # sky blue
        [0.941, 0.894, 0.259],  # yellow
        [0.3, 0.3, 0.3],  # grey
    ]
)


def component_colours(n_components: int) -> np.ndarray:
    """One RGB colour per component, shape (K, 3); cycles after eight."""
    return _PALETTE[np.arange(n_components) % len(_PALETTE)]


def blend_colours(resp) -> np.ndarray:
    """Each point's colour as the responsibility-weighted mix of the component colours.

    Parameters
    ----------
    resp : ndarray of shape (n, K)
        Responsibilities (rows sum to one); one-hot rows give the pure component colours.

    Returns
    -------
    ndarray of shape (n, 3)
    """
    resp = np.asarray(resp, dtype=float)
    return np.clip(resp @ component_colours(resp.shape[1]), 0.0, 1.0)


def limits(values, pad: float = 0.08) -> tuple[float, float]:
    """The range of ``values`` widened by ``pad`` of its span on each side (axis limits)."""
    low, high = float(np.min(values)), float(np.max(values))
    span = high - low or 1.0
    return low - pad * span, high + pad * span


def plain_text(text: str) -> str:
    """A label safe for matplotlib: ``$`` would otherwise start mathematical text."""
    return str(text).replace("$", r"\$")


def _normal_pdf(grid, mean, variance):
    return np.exp(-0.5 * (grid - mean) ** 2 / variance) / np.sqrt(2 * np.pi * variance)


def mixture_densities_1d(params: MixtureParams, grid) -> np.ndarray:
    r"""Weighted component densities :math:`\phi_j \mathcal N(x; \mu_j, \sigma_j^2)`, (K, m)."""
    variances = params.full_covariances()[:, 0, 0]
    return np.stack(
        [
            w * _normal_pdf(grid, m[0], v)
            for w, m, v in zip(params.weights, params.means, variances, strict=True)
        ]
    )


def draw_mixture_1d(ax, X, params: MixtureParams, resp, *, grid, ymax, strip_seed=0):
    """Histogram, the points in a strip coloured by responsibility, and the densities.

    Parameters
    ----------
    ax : matplotlib Axes
    X : ndarray of shape (n, 1)
    params : MixtureParams
    resp : ndarray of shape (n, K)
    grid : ndarray of shape (m,)
        Where to evaluate the densities (also sets the x range).
    ymax : float
        Top of the density axis; the strip of points sits below zero.
    """
    x = X[:, 0]
    K = params.n_components
    colours = component_colours(K)
    ax.hist(x, bins=30, range=(grid[0], grid[-1]), density=True, color="0.88", zorder=0)
    dens = mixture_densities_1d(params, grid)
    for k in range(K):
        ax.plot(grid, dens[k], color=colours[k], lw=1.8, label=f"component {k + 1}")
    ax.plot(grid, dens.sum(axis=0), color="black", lw=1.2, ls="--", label="mixture")
    jitter = np.random.default_rng(strip_seed).uniform(0.02, 0.16, size=x.size) * ymax
    ax.scatter(x, -jitter, c=blend_colours(resp), s=9, lw=0, zorder=3)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(-0.19 * ymax, ymax)
    ax.set_yticks([])


def covariance_ellipse(mean, cov, radius, **kwargs) -> Ellipse:
    r"""The ellipse :math:`(x-\mu)^T \Sigma^{-1} (x-\mu) = r^2` of a 2-D covariance."""
    # Axes from the eigen-decomposition of the covariance (drawing only, nothing is inverted).
    values, vectors = np.linalg.eigh(np.asarray(cov, dtype=float))
    values = np.maximum(values, 0.0)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    width, height = 2 * radius * np.sqrt(values[::-1])
    return Ellipse(mean, width, height, angle=angle, fill=False, **kwargs)


def draw_mixture_2d(ax, X, params: MixtureParams, resp, *, xlim, ylim, dims=(0, 1)):
    """Points coloured by responsibility, with 1- and 2-sd ellipses of every component."""
    i, j = dims
    colours = component_colours(params.n_components)
    ax.scatter(X[:, i], X[:, j], c=blend_colours(resp), s=12, lw=0, alpha=0.9)
    covs = params.full_covariances()[:, [i, j]][:, :, [i, j]]
    for k in range(params.n_components):
        mean = params.means[k, [i, j]]
        for radius, style in [(1.0, "-"), (2.0, ":")]:
            ax.add_patch(
                covariance_ellipse(mean, covs[k], radius, color=colours[k], lw=1.6, ls=style)
            )
        ax.plot(*mean, marker="X", ms=9, color=colours[k], mec="black", mew=0.8)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)


def draw_objective(ax, history, upto: int, *, ylim=None, label="log-likelihood"):
    """The objective over iterations 0..T, drawn up to ``upto`` with the rest faint."""
    history = np.asarray(history, dtype=float)
    t = np.arange(history.size)
    ax.plot(t, history, color="0.85", lw=1)
    ax.plot(t[: upto + 1], history[: upto + 1], color="black", lw=1.5, marker="o", ms=2.5)
    ax.plot(t[upto], history[upto], "o", color="tab:red", mec="black", ms=7)
    ax.set_xlim(-0.5, max(history.size - 0.5, 1))
    if ylim is not None:
        ax.set_ylim(*ylim)
        # Values below the axis (a very poor start) are marked at its foot with their value.
        below = np.flatnonzero(history[: upto + 1] < ylim[0])
        for i in below:
            foot = ylim[0] + 0.02 * (ylim[1] - ylim[0])
            ax.plot(t[i], foot, "v", color="tab:red" if i == upto else "black", ms=7)
            ax.annotate(
                f"{history[i]:.1f} (off scale)",
                (t[i], foot),
                xytext=(8, 2),
                textcoords="offset points",
                fontsize=8,
            )
    ax.set_xlabel("iteration")
    ax.set_ylabel(label)


def draw_bound(ax, bound, next_value, colour, *, ylim=None, show_legend=True):
    """The log-likelihood along one mean, the bound touching it, and where EM goes next.

    Parameters
    ----------
    ax : matplotlib Axes
    bound : BoundSlice
    next_value : float or None
        The next EM value of that mean coordinate.
    colour : RGB
        The component's colour.
    """
    ax.plot(bound.values, bound.log_likelihood, color="black", lw=1.6, label="log-likelihood")
    ax.plot(bound.values, bound.lower_bound, color=colour, lw=1.6, label="bound Q + H")
    current_ll = np.interp(bound.current, bound.values, bound.log_likelihood)
    ax.plot(bound.current, current_ll, "o", color="black", ms=6, label="current (they touch)")
    top = np.interp(bound.maximiser, bound.values, bound.lower_bound)
    ax.plot(bound.maximiser, top, "^", color=colour, mec="black", ms=8, label="bound's peak")
    if next_value is not None:
        ax.axvline(next_value, color=colour, ls="--", lw=1, label="next EM value")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlim(bound.values[0], bound.values[-1])
    if show_legend:
        ax.legend(fontsize=8, loc="lower center", frameon=False)


def draw_bound_line(ax, line, colour, *, show_legend=True):
    """The log-likelihood and the bound along EM's whole step, s = 0 (now) to s = 1 (next).

    Parameters
    ----------
    ax : matplotlib Axes
    line : latentmix.teach.bound.BoundLine
    colour : RGB or str
        The bound's colour.
    """
    s, ll, b = line.steps, line.log_likelihood, line.lower_bound
    i0, i1 = int(np.argmin(np.abs(s))), int(np.argmin(np.abs(s - 1.0)))
    ax.plot(s, ll, color="black", lw=1.6, label="log-likelihood")
    ax.plot(s, b, color=colour, lw=1.6, label="bound Q + H")
    ax.plot(0.0, ll[i0], "o", color="black", ms=6, label="now, s = 0 (they touch)")
    ax.plot(1.0, b[i1], "^", color=colour, mec="black", ms=8, label="bound's peak")
    ax.plot(1.0, ll[i1], "s", color="black", mfc="white", ms=6, label="next log-likelihood")
    ax.axvline(1.0, color=colour, ls="--", lw=1, label="EM's next point, s = 1")
    rise = max(ll[i1] - ll[i0], 1e-9 * abs(ll[i0]), 1e-9)  # zoom on the step itself
    ax.set_ylim(ll[i0] - 1.5 * rise, ll[i0] + 1.6 * rise)
    ax.ticklabel_format(axis="y", useOffset=False)  # values as printed on the page
    ax.set_xlim(s[0], s[-1])
    ax.set_xlabel("s along the step (all parameters)")
    if show_legend:
        ax.legend(fontsize=8, loc="lower center", frameon=False)


def bound_ylim(bound) -> tuple[float, float]:
    """A y range that shows the touching point, the peak of the bound and a little more."""
    current = np.interp(bound.current, bound.values, bound.log_likelihood)
    rise = max(bound.log_likelihood.max(), bound.lower_bound.max()) - current
    span = max(rise, 1e-3 * abs(current), 1.0)
    return current - 4.0 * span, current + 1.6 * span


def zoomed_bound_slice(X, params: MixtureParams, component: int, grid) -> BoundSlice:
    """The bound along ``means[component, 0]`` on a grid narrowed to where it is worth a look.

    The window keeps the touching point, the peak and the stretch where the bound is inside
    the range :func:`bound_ylim` plots; the full ``grid`` would show only a thin spike late in
    a run, when the bound is sharp.

    Parameters
    ----------
    X : ndarray of shape (n, 1)
    params : MixtureParams
        The current iterate (where the bound is built).
    component : int
        0-based.
    grid : ndarray of shape (m,)
        The widest range to look in.

    Returns
    -------
    BoundSlice
        On 240 points inside ``grid``.
    """
    coarse = bound_slice(X, params, component, grid)
    low, _ = bound_ylim(coarse)
    inside = coarse.values[coarse.lower_bound >= low]
    a = min(inside.min(), coarse.current, coarse.maximiser)
    b = max(inside.max(), coarse.current, coarse.maximiser)
    pad = 0.3 * (b - a) + 1e-9
    fine = np.linspace(max(a - pad, grid[0]), min(b + pad, grid[-1]), 240)
    return bound_slice(X, params, component, fine)


def draw_decomposition(ax, path, upto: int | None = None):
    r""":math:`\ell = Q + H` over iterations; the gap between Q and the log-likelihood is H."""
    T = path.log_likelihood.size
    upto = T - 1 if upto is None else upto
    t = np.arange(upto + 1)
    ll, q = path.log_likelihood[: upto + 1], path.q[: upto + 1]
    ax.fill_between(t, q, ll, color="tab:olive", alpha=0.3, lw=0, label="entropy H")
    ax.plot(t, ll, color="black", lw=1.5, marker="o", ms=2.5, label=r"log-likelihood $\ell$")
    ax.plot(t, q, color="tab:olive", lw=1.5, marker="o", ms=2.5, label="Q(θ, θ)")
    ax.set_xlim(-0.5, max(T - 0.5, 1))
    low = min(np.nanmin(path.q), np.nanmin(path.log_likelihood))
    high = np.nanmax(path.log_likelihood)
    pad = 0.05 * (high - low) + 1e-9
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel("iteration")
    ax.legend(fontsize=8, loc="lower right", frameon=False)


def draw_gains(ax, path):
    """Each step's rise in ℓ split into the M-step's gain in Q and the KL term (log scale)."""
    steps = np.arange(path.log_likelihood.size - 1)
    gain = np.diff(path.log_likelihood)
    q_gain, kl = path.q_gain[:-1], path.kl_gain[:-1]
    floor = 1e-12
    ax.semilogy(steps, np.maximum(gain, floor), color="black", lw=1.5, label=r"rise in $\ell$")
    ax.semilogy(steps, np.maximum(q_gain, floor), color="tab:olive", lw=1.2, label="rise in Q")
    ax.semilogy(steps, np.maximum(kl, floor), color="tab:purple", lw=1.2, label="KL term")
    ax.set_xlabel("step t → t+1")
    ax.legend(fontsize=8, loc="upper right", frameon=False)


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure with the layout engine used throughout the walkthrough."""
    return Figure(figsize=(width, height), layout="constrained")
