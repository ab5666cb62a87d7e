"""The EM walkthrough: one run from a poor start, drawn iteration by iteration, as a web page.

:func:`build_walkthrough` writes a directory::

    index.html          self-contained page (every image embedded as a data URI)
    walkthrough.gif     the iterations as an animation, for slides
    frames/frame_NNN.png  one picture per shown iteration
    figures/*.png       the static figures of the page

EM itself is :class:`latentmix.EMGaussianMixture` (and, for the run that collapses,
:func:`latentmix.em.fit.run_em`, which keeps the iterates up to the collapse); this module only
computes what the pictures need (:mod:`latentmix.teach.bound`, :mod:`latentmix.teach.hard`)
and draws it.
"""

from __future__ import annotations

import base64
import html
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from latentmix.datasets import Dataset
from latentmix.params import MixtureParams
from latentmix.teach.bound import bound_slice, decomposition_path
from latentmix.teach.hard import hard_em
from latentmix.validation import check_data, check_n_components

#: The walkthrough run stops when an iteration raises the log-likelihood by less than this
#: (relative); tighter only adds frames nobody can tell apart.
TOL = 1e-8
MAX_ITER = 500
#: At most this many iterations are drawn as frames (all the early ones, then spaced out).
MAX_FRAMES = 16
#: The restarts section: galaxies with this many components and starts.
RESTART_COMPONENTS = 4
RESTART_STARTS = 10


# --- the runs ---------------------------------------------------------------------------


def poor_start(X, n_components: int) -> MixtureParams:
    """A deliberately poor starting point: every mean bunched at one end of the data.

    The means sit close together near the low end of the data's main axis (the first
    principal direction), spaced by a tenth of its standard deviation; every component gets
    equal weight and half the data's covariance. EM has to pull them apart.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int

    Returns
    -------
    MixtureParams
        ``covariance_type="full"``.
    """
    centre = X.mean(axis=0)
    cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True))
    _, _, vt = np.linalg.svd(X - centre, full_matrices=False)
    axis = vt[0] * np.sign(vt[0][np.argmax(np.abs(vt[0]))])
    proj = (X - centre) @ axis
    offsets = np.quantile(proj, 0.05) + 0.1 * proj.std() * np.arange(n_components)
    return MixtureParams(
        np.full(n_components, 1.0 / n_components),
        centre + offsets[:, None] * axis,
        np.repeat(0.5 * cov[None], n_components, axis=0),
        "full",
    )


def _fit(X, n_components: int, **kwargs):
    """:class:`latentmix.EMGaussianMixture` fitted with the walkthrough's settings."""
    from latentmix.estimator import EMGaussianMixture

    options = {"covariance_type": "full", "tol": TOL, "max_iter": MAX_ITER, "n_init": 1}
    options.update(kwargs)
    return EMGaussianMixture(n_components, **options).fit(X)


def collapse_example(random_state=0) -> np.ndarray:
    """Small 1-D data on which the two-component MLE collapses: one sale far from the rest.

    Thirty prices (thousands) from one neighbourhood, N(300, 40^2), and a single sale at 560.
    A component that sits on the lone sale can shrink its variance towards zero and send the
    likelihood to infinity; k-means++ or a random start put a mean there often.

    Returns
    -------
    ndarray of shape (31, 1)
    """
    rng = np.random.default_rng(random_state)
    return np.concatenate([rng.normal(300.0, 40.0, 30), [560.0]])[:, None]


def collapse_start(X) -> MixtureParams:
    """The start shared by MLE and MAP in the collapse example: one mean on the lone sale."""
    return MixtureParams(
        np.array([0.5, 0.5]),
        np.array([[float(np.median(X))], [float(X.max())]]),
        np.array([[[40.0**2]], [[80.0**2]]]),
        "full",
    )


class Frame(NamedTuple):
    """One drawn iteration: its number and the PNG."""

    iteration: int
    png: bytes


def frame_iterations(n_states: int, max_frames: int | None = None) -> list[int]:
    """Which iterations 0..n_states-1 to draw: all early ones, then spaced out, and the last.

    ``max_frames`` defaults to :data:`MAX_FRAMES`.
    """
    max_frames = MAX_FRAMES if max_frames is None else max_frames
    if n_states <= max_frames:
        return list(range(n_states))
    early = list(range(max_frames // 2))
    later = np.unique(
        np.round(np.geomspace(early[-1] + 1, n_states - 1, max_frames - len(early))).astype(int)
    )
    return sorted(set(early) | set(later.tolist()) | {n_states - 1})


# --- drawing ----------------------------------------------------------------------------


def _limits(values, pad=0.08):
    low, high = float(np.min(values)), float(np.max(values))
    span = high - low or 1.0
    return low - pad * span, high + pad * span


def _moving_component(params_path) -> int:
    """The component whose mean travels furthest in the run (its bound is the liveliest)."""
    travel = np.abs(params_path[-1].means[:, 0] - params_path[0].means[:, 0])
    return int(np.argmax(travel))


def _zoomed_bound(X, params, component, grid):
    """The bound slice on a grid narrowed to where it is worth looking at.

    The window keeps the touching point and the peak, and the stretch where the bound is
    within the plotted range; a fixed grid would show only a thin spike late in the run.
    """
    from latentmix.teach.figures import bound_ylim

    coarse = bound_slice(X, params, component, grid)
    low, _ = bound_ylim(coarse)
    inside = coarse.values[coarse.lower_bound >= low]
    a = min(inside.min(), coarse.current, coarse.maximiser)
    b = max(inside.max(), coarse.current, coarse.maximiser)
    pad = 0.3 * (b - a) + 1e-9
    fine = np.linspace(max(a - pad, grid[0]), min(b + pad, grid[-1]), 240)
    return bound_slice(X, params, component, fine)


def _objective_ylim(history):
    """A y range for the objective; a start far below the rest is left off the axis."""
    if history.size > 2 and history[1] - history[0] > (history[-1] - history[1]):
        span = history[-1] - history[1]
        return history[1] - 0.6 * span - 1e-9, history[-1] + 0.1 * span + 1e-9
    return _limits(history, 0.06)


def _draw_frames(X, names, params_path, resp_path, path, bound_component, grid):
    from latentmix.teach import figures as fg

    d = X.shape[1]
    history = path.log_likelihood
    ylim_obj = _objective_ylim(history)
    colours = fg.component_colours(params_path[0].n_components)
    if d == 1:
        ymax = 1.15 * max(fg.mixture_densities_1d(p, grid).sum(axis=0).max() for p in params_path)
        counts, _ = np.histogram(X[:, 0], bins=30, range=(grid[0], grid[-1]), density=True)
        ymax = max(ymax, 1.05 * counts.max())
    else:
        xlim, ylim = _limits(X[:, 0]), _limits(X[:, 1])
    frames = []
    T = len(params_path)
    for t in frame_iterations(T):
        fig = fg.new_figure(10.5, 3.6)
        axes = fig.subplots(1, 3, width_ratios=[1.45, 1, 1])
        if d == 1:
            fg.draw_mixture_1d(axes[0], X, params_path[t], resp_path[t], grid=grid, ymax=ymax)
            axes[0].set_xlabel(fg.plain_text(names[0]))
            axes[0].legend(fontsize=7, loc="upper right", frameon=False)
        else:
            fg.draw_mixture_2d(axes[0], X, params_path[t], resp_path[t], xlim=xlim, ylim=ylim)
            axes[0].set_xlabel(fg.plain_text(names[0]))
            axes[0].set_ylabel(fg.plain_text(names[1]))
        axes[0].set_title(f"iteration {t}: points coloured by responsibility", fontsize=9)
        fg.draw_objective(axes[1], history, t, ylim=ylim_obj)
        axes[1].set_title(f"log-likelihood {history[t]:.2f}", fontsize=9)
        if d == 1:
            b = _zoomed_bound(X, params_path[t], bound_component, grid)
            nxt = params_path[t + 1].means[bound_component, 0] if t + 1 < T else None
            fg.draw_bound(
                axes[2], b, nxt, colours[bound_component], ylim=fg.bound_ylim(b), show_legend=False
            )
            axes[2].set_xlabel(f"mean of component {bound_component + 1}")
            axes[2].set_title("log-lik (black) and the bound (colour)", fontsize=9)
        else:
            fg.draw_decomposition(axes[2], path, t)
            axes[2].set_title(
                f"$\\ell$ = Q + H: {history[t]:.1f} = {path.q[t]:.1f} + {path.entropy[t]:.1f}",
                fontsize=9,
            )
        frames.append(Frame(t, fg.figure_png(fig)))
    return frames


def _gif(frames) -> bytes:
    from PIL import Image

    images = [Image.open(io.BytesIO(f.png)).convert("RGB") for f in frames]
    palette = images[-1].quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    quantised = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [900] * len(quantised)
    durations[0] = durations[-1] = 2500
    buf = io.BytesIO()
    quantised[0].save(
        buf,
        format="gif",
        save_all=True,
        append_images=quantised[1:],
        duration=durations,
        loop=0,
        optimize=True,
    )
    return buf.getvalue()


def _bound_figure(X, name, params_path, component, grid):
    from latentmix.teach import figures as fg

    colour = fg.component_colours(params_path[0].n_components)[component]
    shown = [t for t in range(4) if t + 1 < len(params_path)]
    fig = fg.new_figure(3.0 * len(shown), 3.0)
    axes = np.atleast_1d(fig.subplots(1, len(shown)))
    for ax, t in zip(axes, shown, strict=True):
        b = _zoomed_bound(X, params_path[t], component, grid)
        nxt = params_path[t + 1].means[component, 0]
        fg.draw_bound(ax, b, nxt, colour, ylim=fg.bound_ylim(b), show_legend=t == 0)
        ax.set_title(f"bound built at iteration {t}", fontsize=9)
        ax.set_xlabel(f"mean of component {component + 1} ({fg.plain_text(name)})", fontsize=8)
    return fg.figure_png(fig, dpi=90)


def _decomposition_figure(path):
    from latentmix.teach import figures as fg

    fig = fg.new_figure(9.0, 3.0)
    a, b = fig.subplots(1, 2)
    fg.draw_decomposition(a, path)
    a.set_title("log-likelihood = Q + entropy H", fontsize=9)
    fg.draw_gains(b, path)
    b.set_title("each step's rise = rise in Q + KL term", fontsize=9)
    return fg.figure_png(fig, dpi=90)


def _match(reference_means, means) -> np.ndarray:
    """The order of ``means`` that best matches ``reference_means`` (squared distance)."""
    from scipy.optimize import linear_sum_assignment

    cost = ((reference_means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    return linear_sum_assignment(cost)[1]


def _hard_soft_figure(X, names, params, resp, kmeans):
    from latentmix.teach import figures as fg

    K = params.n_components
    hard = np.eye(K)[kmeans.labels]
    if X.shape[1] == 1:
        grid = np.linspace(*_limits(X[:, 0]), 400)
        ymax = 1.15 * fg.mixture_densities_1d(params, grid).sum(axis=0).max()
        fig = fg.new_figure(9.0, 4.6)
        top, bottom = fig.subplots(2, 1, sharex=True)
        ax_hard, ax_soft = top, bottom
        # k-means as a mixture: equal weights, one shared spread (its clusters' pooled variance).
        pooled = kmeans.inertia / X.shape[0]
        as_mixture = MixtureParams(
            np.full(K, 1 / K), kmeans.means, np.full((K, 1, 1), pooled), "full"
        )
        fg.draw_mixture_1d(ax_hard, X, as_mixture, hard, grid=grid, ymax=ymax)
        for m in kmeans.means[:, 0]:
            ax_hard.axvline(m, color="0.3", lw=0.8, ls=":")
        ax_hard.set_title(
            "k-means (hard EM): every point wholly in its nearest centre's cluster; "
            "equal weights, one shared spread",
            fontsize=9,
        )
        fg.draw_mixture_1d(ax_soft, X, params, resp, grid=grid, ymax=ymax)
        ax_soft.set_title(
            "soft EM: shared points take mixed colours; own weights and spreads", fontsize=9
        )
        ax_soft.set_xlabel(fg.plain_text(names[0]))
    else:
        fig = fg.new_figure(9.5, 4.0)
        ax_hard, ax_soft = fig.subplots(1, 2, sharex=True, sharey=True)
        xlim, ylim = _limits(X[:, 0]), _limits(X[:, 1])
        colours = fg.component_colours(K)
        ax_hard.scatter(X[:, 0], X[:, 1], c=fg.blend_colours(hard), s=12, lw=0)
        for k in range(K):
            ax_hard.plot(*kmeans.means[k], marker="X", ms=10, color=colours[k], mec="black")
        ax_hard.set_xlim(*xlim)
        ax_hard.set_ylim(*ylim)
        ax_hard.set_title("k-means (hard EM)", fontsize=9)
        fg.draw_mixture_2d(ax_soft, X, params, resp, xlim=xlim, ylim=ylim)
        ax_soft.set_title("soft EM (full covariances)", fontsize=9)
        for ax in (ax_hard, ax_soft):
            ax.set_xlabel(fg.plain_text(names[0]))
        ax_hard.set_ylabel(fg.plain_text(names[1]))
    return fg.figure_png(fig, dpi=90)


class CollapseResult(NamedTuple):
    """The MLE and MAP runs of the collapse example."""

    X: np.ndarray
    mle: object  # latentmix.em.fit.EMRun, degenerate
    map_fit: object  # fitted EMGaussianMixture
    prior: object


def run_collapse_example(random_state=0) -> CollapseResult:
    """Run MLE (which collapses) and MAP (which does not) from the same start."""
    from latentmix.em.fit import run_em
    from latentmix.priors import ConjugatePrior

    X = collapse_example(random_state)
    start = collapse_start(X)
    # The estimator raises when every MLE run collapses; the engine's single run keeps the
    # iterates up to the collapse, which is what the picture needs.
    mle = run_em(X, start, tol=TOL, max_iter=MAX_ITER, keep_trajectory=True)
    prior = ConjugatePrior.default(X, 2, "full")
    map_fit = _fit(X, 2, init=start, prior=prior)
    return CollapseResult(X, mle, map_fit, prior)


def _collapse_figure(result: CollapseResult):
    from latentmix.em.estep import log_likelihood
    from latentmix.priors import log_prior
    from latentmix.teach import figures as fg

    X, mle, map_fit, prior = result
    fig = fg.new_figure(11.0, 3.4)
    a, b, c = fig.subplots(1, 3)
    grid = np.linspace(150, 620, 600)
    a.hist(X[:, 0], bins=40, range=(grid[0], grid[-1]), density=True, color="0.85")
    last = mle.params
    dens = fg.mixture_densities_1d(last, grid).sum(axis=0)
    a.plot(grid, dens, color="tab:red", lw=1.2, label="MLE, last step before collapse")
    a.plot(
        grid,
        fg.mixture_densities_1d(map_fit.params_, grid).sum(axis=0),
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
    map_sd = np.sqrt(map_fit.params_.full_covariances()[:, 0, 0])
    b.axhline(
        map_sd[np.argmax(map_fit.params_.means[:, 0])],
        color="black",
        lw=1.2,
        label="MAP (converged)",
    )
    b.set_xlabel("iteration")
    b.set_xlim(-0.5, len(sd_path) + 0.8)
    b.set_ylabel("sd of the component on the lone sale")
    b.legend(fontsize=7, frameon=False)
    b.set_title(f"MLE collapses after {mle.n_iter} iterations", fontsize=9)

    # Profile along that component's sd, its mean on the lone sale, the rest at the MAP.
    hi = int(np.argmax(map_fit.params_.means[:, 0]))
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
    return fg.figure_png(fig, dpi=90)


class Restart(NamedTuple):
    """One EM run on galaxies from one random start."""

    seed: int
    objective_history: np.ndarray | None
    objective: float
    n_iter: int
    params: MixtureParams | None
    message: str = ""


def run_restarts(random_state=0):
    """EM on galaxies from ``RESTART_STARTS`` random starts, one estimator per start.

    Each start is its own fit (``n_init=1``) so that every local optimum's parameters can be
    drawn. A start whose MLE collapses is kept with ``params=None`` and the reason.

    Returns
    -------
    X : ndarray of shape (82, 1)
    restarts : list of Restart
    """
    from latentmix.datasets import load
    from latentmix.em.estep import DegenerateMixtureError

    X = load("galaxies").data
    out = []
    for i in range(RESTART_STARTS):
        seed = 1000 * int(random_state) + i
        try:
            est = _fit(X, RESTART_COMPONENTS, init="random", random_state=seed, max_iter=5000)
        except DegenerateMixtureError as err:
            out.append(Restart(seed, None, float("nan"), 0, None, str(err).split(" (")[0]))
            continue
        out.append(Restart(seed, est.objective_history_, est.objective_, est.n_iter_, est.params_))
    return X, out


def _restarts_figure(X, restarts):
    from latentmix.teach import figures as fg

    good = [r for r in restarts if r.params is not None]
    optima = np.unique(np.round([r.objective for r in good], 2))[::-1]
    cmap = fg.component_colours(max(len(optima), 1))

    def colour(r):
        return cmap[int(np.flatnonzero(optima == np.round(r.objective, 2))[0]) % len(cmap)]

    fig = fg.new_figure(10.0, 3.4)
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
        density = fg.mixture_densities_1d(r.params, grid).sum(axis=0)
        best = " (best)" if key == optima[0] else ""
        b.plot(grid, density, color=colour(r), lw=1.5, label=f"log-lik {r.objective:.2f}{best}")
    counts = np.histogram(X[:, 0], bins=40, range=(grid[0], grid[-1]), density=True)[0]
    b.set_ylim(0, 2.5 * counts.max())  # near-collapsed optima have tall spikes: clipped
    b.set_xlabel("velocity (1000 km/s)")
    b.set_yticks([])
    b.legend(fontsize=7, frameon=False)
    b.set_title("the distinct local optima (spikes clipped)", fontsize=9)
    return fg.figure_png(fig, dpi=90)


# --- the page -----------------------------------------------------------------------------


def _img(png: bytes, alt: str, cls: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    attr = f' class="{cls}"' if cls else ""
    return f'<img{attr} alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(x, digits=4) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
line-height:1.45;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
img{width:100%;height:auto}table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:2px 7px;text-align:right}
th{background:#f2f2f2}.frame{display:none}.frame.on{display:block}
.controls{margin:.4em 0}.controls button{font-size:1em;margin-right:.3em}
.note{color:#555;font-size:.92em}code{background:#f4f4f4;padding:0 3px}
tr.on td{background:#fff3c4}
"""

_JS = """
(function(){
  var frames=document.querySelectorAll('.frame'), rows=document.querySelectorAll('tr.step');
  var slider=document.getElementById('slider'), label=document.getElementById('which');
  var timer=null;
  function show(i){
    i=(i+frames.length)%frames.length;
    frames.forEach(function(f,j){f.classList.toggle('on',j===i);});
    rows.forEach(function(r,j){r.classList.toggle('on',j===i);});
    slider.value=i; label.textContent=frames[i].dataset.iteration;
  }
  document.getElementById('prev').onclick=function(){show(+slider.value-1);};
  document.getElementById('next').onclick=function(){show(+slider.value+1);};
  slider.oninput=function(){show(+slider.value);};
  document.getElementById('play').onclick=function(){
    if(timer){clearInterval(timer);timer=null;this.textContent='play';return;}
    this.textContent='pause';
    timer=setInterval(function(){show(+slider.value+1);},900);
  };
  show(0);
})();
"""


def _page(ctx) -> str:
    e = html.escape
    frames = ctx["frames"]
    path = ctx["path"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>EM step by step: {e(ctx['name'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>EM step by step: {e(ctx['name'])}</h1>",
        f"<p>{e(ctx['description'])}</p>",
        f"<p>{ctx['n']} points, {ctx['d']} feature(s) ({e(', '.join(ctx['names']))}), "
        f"K = {ctx['K']} components with full covariances, maximum likelihood. Notation: "
        "weights φ<sub>j</sub>, means μ<sub>j</sub>, covariances Σ<sub>j</sub>, "
        "responsibilities w<sub>j</sub><sup>(i)</sup> = p(z<sup>(i)</sup> = j | "
        "x<sup>(i)</sup>).</p>",
        "<h2>1. EM from a poor start</h2>",
        "<p>All means start bunched together at one end of the data, with equal weights and "
        "broad covariances. Each iteration is an E-step (recompute the responsibilities "
        "w<sub>j</sub><sup>(i)</sup>) and an M-step (weighted means, covariances and "
        "weights). A point's colour mixes the component colours in proportion to its "
        "responsibilities: a point shared half and half between two components is drawn in "
        "a colour halfway between theirs.</p>",
        f"<p>The run took {ctx['n_iter']} iterations (stopping when the log-likelihood "
        f"rose by less than {TOL:g} of its size); {len(frames)} of them are drawn. "
        f"The log-likelihood went from {path.log_likelihood[0]:.3f} to "
        f"{path.log_likelihood[-1]:.3f} and never fell. For comparison, the best of 10 "
        f"k-means++ starts reaches {ctx['best_log_likelihood']:.3f}"
        + (
            ": this poor start stopped at a lower local maximum.</p>"
            if ctx["best_log_likelihood"] - path.log_likelihood[-1]
            > 1e-6 * abs(ctx["best_log_likelihood"])
            else ": the poor start got there too.</p>"
        ),
        '<div class="controls"><button id="prev">◀ back</button><button id="next">next ▶'
        '</button><button id="play">play</button> <input id="slider" type="range" min="0" '
        f'max="{len(frames) - 1}" value="0"> iteration <b id="which">0</b></div>',
        "<noscript><p class='note'>Scripts are off: every frame is listed below.</p>"
        "<style>.frame{display:block}</style></noscript>",
    ]
    for f in frames:
        parts.append(
            f'<div class="frame" data-iteration="{f.iteration}">'
            + _img(f.png, f"EM iteration {f.iteration}")
            + "</div>"
        )
    right = (
        "the bound (right) is explained in section 2"
        if ctx["d"] == 1
        else "the right panel is the split of section 3 up to this iteration"
    )
    parts.append(
        f"<p class='note'>Left: data and components; middle: the objective so far; {right}. "
        "The same frames are in <code>frames/</code> and animated in "
        "<code>walkthrough.gif</code>.</p>"
    )
    # Section 2: the bound.
    parts.append("<h2>2. The lower bound that EM maximises</h2>")
    parts.append(
        "<p>For the current parameters θ<sub>old</sub> the log-likelihood splits exactly as "
        "&ell;(θ) = Q(θ, θ<sub>old</sub>) + H(θ<sub>old</sub>; θ), where Q is the expected "
        "complete-data log-likelihood under the responsibilities of θ<sub>old</sub> and H is "
        "the cross-entropy between the responsibilities at θ<sub>old</sub> and at θ. The "
        "cross-entropy is never smaller than the entropy H(θ<sub>old</sub>) (Gibbs' "
        "inequality), so B(θ) = Q(θ, θ<sub>old</sub>) + H(θ<sub>old</sub>) lies below &ell; "
        "everywhere and touches it at θ<sub>old</sub>. The M-step maximises Q, hence B; "
        "since &ell; sits above B and met it at the old point, &ell; cannot go down.</p>"
    )
    if ctx["bound_png"] is not None:
        c = ctx["bound_component"] + 1
        parts.append(
            f"<p>Below, only the mean of component {c} moves; everything else is held at the "
            "current iteration. Black: &ell; along that line. Coloured: the bound built at that "
            "iteration. They touch at the current mean (dot); the bound peaks (triangle) "
            f"exactly at the weighted mean Σ<sub>i</sub> w<sub>{c}</sub><sup>(i)</sup> "
            f"x<sup>(i)</sup> / Σ<sub>i</sub> w<sub>{c}</sub><sup>(i)</sup>, which is EM's "
            "next value (dashed).</p>"
        )
        parts.append(_img(ctx["bound_png"], "the bound at the first iterations"))
        parts.append(
            "<p class='note'>Numbers: the largest gap B &minus; &ell; over the grids of every "
            f"frame is {ctx['bound_max_gap']:.2e} (it must be ≤ 0), the gap at the touching "
            f"point at most {ctx['bound_touch']:.1e}; the bound's peak and the next EM mean "
            f"differ by at most {ctx['bound_peak_error']:.1e}.</p>"
        )
    else:
        parts.append(
            "<p>In two dimensions the bound along one coordinate of a mean still touches &ell; "
            "and lies below it, but EM moves every coordinate at once, so its next value is "
            "not the peak of a one-coordinate slice; run <code>latentmix teach</code> on 1-D "
            "data (for example <code>house_prices</code>) for the picture.</p>"
        )
    # Section 3: decomposition.
    parts.append("<h2>3. Log-likelihood = Q + entropy, at every iteration</h2>")
    parts.append(
        "<p>At θ = θ<sub>old</sub> the split reads &ell; = Q(θ, θ) + H(θ): the entropy of the "
        "responsibilities fills the gap between Q and &ell; (shaded). From one iteration to the "
        "next, the rise in &ell; is the rise in Q won by the M-step plus a Kullback-Leibler "
        "term (cross-entropy minus entropy), both never negative.</p>"
    )
    parts.append(_img(ctx["decomposition_png"], "decomposition"))
    rows = [
        "<table><tr><th>iteration t</th><th>&ell;(θ<sub>t</sub>)</th><th>Q(θ<sub>t</sub>, "
        "θ<sub>t</sub>)</th><th>H(θ<sub>t</sub>)</th><th>Q + H &minus; &ell;</th>"
        "<th>rise in Q to t+1</th><th>KL term</th><th>rise in &ell;</th></tr>"
    ]
    shown = {f.iteration for f in frames}
    for t in range(path.log_likelihood.size):
        if t not in shown:
            continue
        rise = (
            path.log_likelihood[t + 1] - path.log_likelihood[t]
            if t + 1 < path.log_likelihood.size
            else None
        )
        rows.append(
            f'<tr class="step"><td>{t}</td><td>{_fmt(path.log_likelihood[t])}</td>'
            f"<td>{_fmt(path.q[t])}</td><td>{_fmt(path.entropy[t])}</td>"
            f"<td>{path.q[t] + path.entropy[t] - path.log_likelihood[t]:.1e}</td>"
            f"<td>{_fmt(path.q_gain[t], 6)}</td><td>{_fmt(path.kl_gain[t], 6)}</td>"
            f"<td>{_fmt(rise, 6)}</td></tr>"
        )
    rows.append("</table>")
    parts.append("".join(rows))
    parts.append(
        f"<p class='note'>Rows are the drawn iterations (highlighted row: the frame shown "
        f"above). Over all {path.log_likelihood.size} iterations the largest "
        f"|Q + H &minus; &ell;| is {ctx['split_error']:.1e}.</p>"
    )
    # Section 4: hard vs soft.
    hs = ctx["hard_soft"]
    parts.append("<h2>4. Hard assignments (k-means) next to soft EM</h2>")
    parts.append(
        "<p>Replace each point's responsibilities by a single 1 for its most responsible "
        "component, fix equal weights and one shared round covariance, and EM becomes "
        "k-means: the E-step assigns each point to the nearest mean and the M-step moves each "
        "mean to the average of its points. Both runs below start from the same poor means."
        "</p>"
    )
    parts.append(_img(hs["png"], "k-means next to soft EM"))
    parts.append(
        f"<p>What changes: k-means ended after {hs['kmeans_iter']} iterations with inertia "
        f"{hs['inertia']:.4g}. {hs['n_disagree']} of {ctx['n']} points get a different label "
        f"from k-means than from EM's most responsible component, and {hs['n_shared']} "
        f"{'point is' if hs['n_shared'] == 1 else 'points are'} genuinely shared by EM (no "
        "component takes more than 90% of them); k-means gives those points wholly to one "
        "cluster. EM also learns unequal weights and "
        "spreads, which k-means cannot express.</p>"
    )
    parts.append(hs["table"])
    # Section 5: MLE vs MAP.
    col = ctx["collapse"]
    parts.append("<h2>5. When the MLE does not exist: MLE versus MAP</h2>")
    parts.append(
        "<p>A separate small example (the same for every data set): thirty house prices "
        "from one neighbourhood and one lone sale at 560. Start one component on the lone "
        "sale. Its responsibilities for every other point soon vanish, its variance "
        "shrinks at every iteration and the likelihood climbs without bound: a normal "
        "density on one point is as tall as we like. This is a degenerate maximum, not a "
        "fit. A conjugate prior on the covariances (inverse-Wishart, here the package's "
        "data-scaled default) adds a log-density that falls to &minus;&infin; as the variance "
        "goes to zero; EM for the MAP estimate then converges to a proper answer from the same "
        "start.</p>"
    )
    parts.append(_img(col["png"], "MLE collapse and MAP"))
    parts.append(
        f"<p>MLE: stopped after {col['mle_iter']} iterations, when the component on the lone "
        "sale collapsed; "
        f"the log-likelihood rising from {col['mle_first']:.2f} to {col['mle_last']:.2f} "
        f"with the component's sd down to {col['mle_sd']:.2e}. MAP: converged in "
        f"{col['map_iter']} iterations to sd {col['map_sd']:.2f} on that component, "
        f"objective (log-likelihood + log prior) {col['map_objective']:.3f}.</p>"
    )
    # Section 6: restarts.
    rs = ctx["restarts"]
    parts.append("<h2>6. Restarts and local optima (galaxies)</h2>")
    parts.append(
        f"<p>The likelihood of a mixture has many local maxima, and EM climbs to whichever "
        f"is nearest its start. The 82 galaxy velocities, K = {RESTART_COMPONENTS}, from "
        f"{RESTART_STARTS} random starts (each a set of data points as means): the runs end "
        "at different log-likelihoods, and the package keeps the best one.</p>"
    )
    parts.append(_img(rs["png"], "restarts on galaxies"))
    rows = [
        "<table><tr><th>start (seed)</th><th>iterations</th><th>final log-likelihood</th>"
        "<th>means (sorted)</th></tr>"
    ]
    for r in rs["restarts"]:
        if r.params is None:
            rows.append(
                f"<tr><td>{r.seed}</td><td></td><td>collapsed</td><td>{e(r.message)}</td></tr>"
            )
            continue
        means = np.array2string(np.sort(r.params.means[:, 0]), precision=2)
        rows.append(
            f"<tr><td>{r.seed}</td><td>{r.n_iter}</td><td>{r.objective:.4f}</td>"
            f"<td>{means}</td></tr>"
        )
    rows.append("</table>")
    parts.append("".join(rows))
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)


def _hard_soft(X, names, params, resp, start):
    kmeans = hard_em(X, start.means)
    order = _match(params.means, kmeans.means)
    kmeans = kmeans._replace(means=kmeans.means[order], labels=np.argsort(order)[kmeans.labels])
    em_labels = resp.argmax(axis=1)
    K = params.n_components
    rows = [
        "<table><tr><th>component</th><th>k-means centre</th><th>EM mean</th>"
        "<th>k-means share</th><th>EM weight</th><th>EM sd (first feature)</th></tr>"
    ]
    sd = np.sqrt(params.full_covariances()[:, 0, 0])
    for k in range(K):
        share = np.mean(kmeans.labels == k)
        rows.append(
            f"<tr><td>{k + 1}</td><td>{np.array2string(kmeans.means[k], precision=3)}</td>"
            f"<td>{np.array2string(params.means[k], precision=3)}</td><td>{share:.3f}</td>"
            f"<td>{params.weights[k]:.3f}</td><td>{sd[k]:.3f}</td></tr>"
        )
    rows.append("</table>")
    return {
        "png": _hard_soft_figure(X, names, params, resp, kmeans),
        "kmeans_iter": kmeans.n_iter,
        "inertia": kmeans.inertia,
        "n_disagree": int(np.sum(kmeans.labels != em_labels)),
        "n_shared": int(np.sum(resp.max(axis=1) < 0.9)),
        "table": "".join(rows),
    }


def build_walkthrough(data: Dataset, n_components: int, out_dir, *, random_state=0) -> Path:
    """Write the walkthrough of one EM run on ``data`` to ``out_dir``, atomically.

    Parameters
    ----------
    data : Dataset
        One or two features (the pictures are 1-D or 2-D).
    n_components : int
    out_dir : str or Path
        Created (or replaced) only once everything is written: the files go to a temporary
        sibling directory that is then renamed.
    random_state : int
        Seeds the restarts on galaxies and the collapse example's data.

    Returns
    -------
    Path
        ``out_dir``.
    """
    K = check_n_components(n_components)
    X = check_data(data.data, n_components=K)
    n, d = X.shape
    if d > 2:
        raise ValueError(
            f"the walkthrough draws 1-D or 2-D data, but {data.name!r} has {d} features; "
            "pick one or two with --columns."
        )
    names = list(data.feature_names)
    start = poor_start(X, K)
    est = _fit(X, K, init=start, keep_trajectory=True)
    params_path = [p for p, _ in est.trajectory_]
    resp_path = [np.asarray(r) for _, r in est.trajectory_]
    path = decomposition_path(X, params_path)
    split_error = float(np.max(np.abs(path.q + path.entropy - path.log_likelihood)))
    best = _fit(X, K, init="k-means++", n_init=10, random_state=random_state)

    ctx = {
        "name": data.name,
        "description": data.description,
        "names": names,
        "n": n,
        "d": d,
        "K": K,
        "n_iter": len(params_path) - 1,
        "path": path,
        "split_error": split_error,
        "best_log_likelihood": float(best.log_likelihood_),
    }
    grid = np.linspace(*_limits(X[:, 0], 0.12), 300)
    component = _moving_component(params_path)
    ctx["bound_component"] = component
    ctx["frames"] = _draw_frames(X, names, params_path, resp_path, path, component, grid)
    if d == 1:
        ctx["bound_png"] = _bound_figure(X, names[0], params_path, component, grid)
        gaps, touch, peak = [], [], []
        for t in [f.iteration for f in ctx["frames"]]:
            b = bound_slice(X, params_path[t], component, grid)
            gaps.append(np.max(b.lower_bound - b.log_likelihood))
            at = bound_slice(X, params_path[t], component, [b.current])
            touch.append(abs(at.lower_bound[0] - at.log_likelihood[0]))
            if t + 1 < len(params_path):
                peak.append(abs(b.maximiser - params_path[t + 1].means[component, 0]))
        ctx["bound_max_gap"] = float(max(gaps))
        ctx["bound_touch"] = float(max(touch))
        ctx["bound_peak_error"] = float(max(peak)) if peak else 0.0
    else:
        ctx["bound_png"] = None
    ctx["decomposition_png"] = _decomposition_figure(path)
    ctx["hard_soft"] = _hard_soft(X, names, params_path[-1], resp_path[-1], start)

    collapse = run_collapse_example(random_state)
    mle = collapse.mle
    sd_last = float(np.sqrt(mle.params.full_covariances()[1, 0, 0]))
    hi = int(np.argmax(collapse.map_fit.params_.means[:, 0]))
    ctx["collapse"] = {
        "png": _collapse_figure(collapse),
        "mle_iter": mle.n_iter,
        "mle_first": float(mle.objective_history[0]),
        "mle_last": float(mle.objective_history[-1]),
        "mle_sd": sd_last,
        "map_iter": int(collapse.map_fit.n_iter_),
        "map_sd": float(np.sqrt(collapse.map_fit.params_.full_covariances()[hi, 0, 0])),
        "map_objective": float(collapse.map_fit.objective_history_[-1]),
    }
    gX, restarts = run_restarts(random_state)
    ctx["restarts"] = {"png": _restarts_figure(gX, restarts), "restarts": restarts}

    out_dir = Path(out_dir)
    _write_atomically(out_dir, ctx)
    return out_dir


def _write_atomically(out_dir: Path, ctx) -> None:
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    try:
        (tmp / "frames").mkdir()
        (tmp / "figures").mkdir()
        for f in ctx["frames"]:
            (tmp / "frames" / f"frame_{f.iteration:03d}.png").write_bytes(f.png)
        (tmp / "walkthrough.gif").write_bytes(_gif(ctx["frames"]))
        figures = {
            "bound": ctx["bound_png"],
            "decomposition": ctx["decomposition_png"],
            "hard_vs_soft": ctx["hard_soft"]["png"],
            "mle_vs_map": ctx["collapse"]["png"],
            "restarts_galaxies": ctx["restarts"]["png"],
        }
        for name, png in figures.items():
            if png is not None:
                (tmp / "figures" / f"{name}.png").write_bytes(png)
        (tmp / "index.html").write_text(_page(ctx), encoding="utf-8")
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            # Swap: move the old directory aside, move the new one in, then delete the old.
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=parent))
            old.rmdir()
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
