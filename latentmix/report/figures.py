"""The report's figures, drawn with matplotlib's Agg backend.

Every function takes plain arrays (or a :class:`~latentmix.comparison.Comparison`) and returns a
:class:`matplotlib.figure.Figure`; :func:`draw_figures` makes the report's figures in page
order. One colour per estimate throughout: MLE orange dashed, MAP blue solid, posterior
purple, truth black dotted. Components are numbered from 1 in labels and legends.
"""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.special import logsumexp
from scipy.stats import chi2

from latentmix.comparison import Comparison, draw_weighted_log_prob
from latentmix.params import PARAMETER_NAMES, MixtureParams, full_covariances
from latentmix.report.context import percent

MLE_STYLE = {"color": "#d95f02", "linestyle": "--", "linewidth": 2.0}
MAP_STYLE = {"color": "#1b62a5", "linestyle": "-", "linewidth": 2.0}
TRUTH_STYLE = {"color": "black", "linestyle": ":", "linewidth": 2.0}
POSTERIOR_COLOR = "#7570b3"
VB_COLOR = "#1b9e77"
POINT_COLORS = ("#66a61e", "#e7298a", "#a6761d", "#1b9e77", "#e6ab02", "#666666")
CHAIN_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
# Radius of the 95% probability ellipse of a 2-D Gaussian.
_R95 = float(np.sqrt(chi2.ppf(0.95, 2)))


def _margins(fig: Figure, top=0.55, bottom=0.45, left=0.35, right=0.2, **space) -> None:
    """Fixed margins in inches: much cheaper than constrained layout for many axes."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, **space
    )


def _suptitle(fig: Figure, text: str, fontsize=11) -> None:
    """A figure title 0.12 inch below the top edge, whatever the figure height."""
    fig.suptitle(text, fontsize=fontsize, y=1 - 0.12 / fig.get_size_inches()[1], va="top")


def _text(label) -> str:
    """A user string safe for matplotlib (a '$' would start mathtext)."""
    return str(label).replace("$", r"\$")


def _thin(n_total: int, n_keep: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_total - 1, min(n_total, n_keep)).astype(int))


def _flat_draws(draws: MixtureParams, n_keep: int) -> list[np.ndarray]:
    """Up to ``n_keep`` evenly spaced draws, chains pooled: weights, means, covariances."""
    C, S = draws.weights.shape[:2]
    keep = _thin(C * S, n_keep)
    return [a.reshape(C * S, *a.shape[2:])[keep] for a in draws[:3]]


def _estimates(comparison: Comparison):
    """(label, params, line style) of every point estimate present."""
    out = [("MLE", comparison.mle, MLE_STYLE), ("MAP", comparison.map, MAP_STYLE)]
    out.append(("truth", comparison.truth, TRUTH_STYLE))
    return [(name, p, style) for name, p, style in out if p is not None]


def _mixture_density(grid, params_arrays, covariance_type) -> np.ndarray:
    """Mixture density on a 1-D grid for a batch of draws, shape (S, G)."""
    wlp = draw_weighted_log_prob(grid[:, None], *params_arrays, covariance_type)
    return np.exp(logsumexp(wlp, axis=-1))


# --- the data with the fitted mixtures -------------------------------------------------------


def density_1d(X, comparison: Comparison, draws: MixtureParams, level: float = 0.95) -> Figure:
    """Histogram of 1-D data with the MLE, MAP and posterior predictive densities.

    The posterior predictive density is the mean over draws of the mixture density; the band
    is its pointwise equal-tailed interval of probability ``level`` over draws.
    """
    x = np.asarray(X, dtype=float).ravel()
    covariance_type = comparison.covariance_type
    span = x.max() - x.min()
    grid = np.linspace(x.min() - 0.1 * span, x.max() + 0.1 * span, 400)
    fig = Figure(figsize=(8, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(
        x,
        bins=min(60, max(10, x.size // 4)),
        density=True,
        color="#d9d9d9",
        edgecolor="white",
        label="data",
    )
    ax.plot(x, np.full_like(x, -0.01 * _hist_top(x)), "|", color="#555555", markersize=8)
    dens = _mixture_density(grid, _flat_draws(draws, 400), covariance_type)
    tail = (1 - level) / 2
    lo, hi = np.quantile(dens, [tail, 1 - tail], axis=0)
    ax.fill_between(
        grid,
        lo,
        hi,
        color=POSTERIOR_COLOR,
        alpha=0.25,
        linewidth=0,
        label=f"posterior {percent(level)} band",
    )
    ax.plot(grid, dens.mean(0), color=POSTERIOR_COLOR, linewidth=2, label="posterior predictive")
    for name, params, style in _estimates(comparison):
        d = _mixture_density(grid, [a[None] for a in params[:3]], covariance_type)[0]
        ax.plot(grid, d, label=f"{name} plug-in", **style)
    ax.set_xlabel(_text(comparison.feature_names[0]))
    ax.set_ylabel("density")
    ax.set_xlim(grid[0], grid[-1])
    ax.legend(frameon=False, fontsize=9)
    ax.set_title("Data and the fitted mixture densities", fontsize=11)
    return fig


def _hist_top(x):
    counts, _ = np.histogram(x, bins=30, density=True)
    return counts.max()


def _ellipse(mean, cov, n=100) -> np.ndarray:
    """Points on the 95% probability ellipse of a 2-D Gaussian, shape (n, 2)."""
    t = np.linspace(0, 2 * np.pi, n)
    chol = np.linalg.cholesky(cov)
    return mean + _R95 * np.stack([np.cos(t), np.sin(t)], axis=1) @ chol.T


def _draw_pair(ax, X, dims, comparison: Comparison, flat, labels, n_cloud=40):
    """Scatter of two columns with 95% ellipses of every estimate and of posterior draws."""
    i, j = dims
    sub = np.ix_(dims, dims)
    K = comparison.map.n_components
    for k in range(K):
        pts = X[labels == k]
        ax.scatter(
            pts[:, i],
            pts[:, j],
            s=9,
            color=POINT_COLORS[k % len(POINT_COLORS)],
            alpha=0.55,
            linewidths=0,
        )
    weights, means, covs = flat
    covariance_type = comparison.covariance_type
    full = full_covariances(covs, covariance_type, K, comparison.map.n_features)
    keep = _thin(len(weights), n_cloud)
    segs = [_ellipse(means[s, k, list(dims)], full[s, k][sub]) for s in keep for k in range(K)]
    ax.add_collection(LineCollection(segs, colors=POSTERIOR_COLOR, alpha=0.18, linewidths=0.7))
    for _, params, style in _estimates(comparison):
        fc = params.full_covariances()
        for k in range(K):
            e = _ellipse(params.means[k, list(dims)], fc[k][sub])
            ax.plot(e[:, 0], e[:, 1], **style)
    ax.autoscale_view()


def _pair_legend(fig_or_ax, comparison: Comparison, **kwargs):
    handles = [Line2D([], [], **style, label=name) for name, _, style in _estimates(comparison)]
    handles.append(Line2D([], [], color=POSTERIOR_COLOR, alpha=0.6, label="posterior draws"))
    K = comparison.map.n_components
    handles += [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color=POINT_COLORS[k % len(POINT_COLORS)],
            label=f"points of component {k + 1} (MAP)",
        )
        for k in range(K)
    ]
    fig_or_ax.legend(handles=handles, frameon=False, fontsize=8, **kwargs)


def scatter_2d(X, comparison: Comparison, draws: MixtureParams) -> Figure:
    """2-D data coloured by MAP component, with 95% ellipses of MLE, MAP and 40 draws."""
    fig = Figure(figsize=(7.5, 5.8), layout="constrained")
    ax = fig.add_subplot()
    labels = comparison.membership.responsibilities_map.argmax(1)
    _draw_pair(ax, X, (0, 1), comparison, _flat_draws(draws, 400), labels)
    names = comparison.feature_names
    ax.set_xlabel(_text(names[0]))
    ax.set_ylabel(_text(names[1]))
    ax.set_title("Data with 95% ellipses: MLE, MAP and posterior draws", fontsize=11)
    _pair_legend(ax, comparison, loc="best")
    return fig


def pairs(X, comparison: Comparison, draws: MixtureParams, max_dims: int = 4) -> Figure:
    """Pairwise panels of the leading ``max_dims`` features (lower triangle) with ellipses."""
    d = min(comparison.map.n_features, max_dims)
    names = comparison.feature_names
    fig = Figure(figsize=(2.6 * d + 0.6, 2.6 * d + 0.5))
    _margins(fig, top=0.55, bottom=0.6, left=0.7, hspace=0.15, wspace=0.15)
    axes = fig.subplots(d, d, squeeze=False)
    labels = comparison.membership.responsibilities_map.argmax(1)
    flat = _flat_draws(draws, 400)
    for r in range(d):
        for c in range(d):
            ax = axes[r, c]
            if c > r:
                ax.set_axis_off()
                continue
            if r == c:
                column = X[:, r]
                # Observed cells only (a missing cell is NaN).
                ax.hist(column[~np.isnan(column)], bins=30, color="#bdbdbd", edgecolor="white")
                ax.set_yticks([])
            else:
                _draw_pair(ax, X, (c, r), comparison, flat, labels, n_cloud=25)
            if r == d - 1:
                ax.set_xlabel(_text(names[c]))
            if c == 0 and r > 0:
                ax.set_ylabel(_text(names[r]))
            ax.tick_params(labelsize=7)
    _pair_legend(fig, comparison, loc="upper right", bbox_to_anchor=(0.98, 0.98))
    _suptitle(fig, "Pairs of the leading features, 95% ellipses")
    return fig


# --- the posterior ---------------------------------------------------------------------------


def marginals(
    comparison: Comparison, draws: MixtureParams, group: str, ncols=4, vb=None
) -> Figure:
    """Posterior histogram of every entry of a group with its interval and point estimates.

    Where the comparison has them, the Laplace approximation around the MAP is drawn over the
    histogram as the outline of a histogram of its draws (same bins), and the Wald interval of
    the MLE as a bar below it. With ``vb`` (a :class:`latentmix.report.vb.VBResult`) the
    variational posterior q is drawn the same way (green outline).
    """
    table = comparison.tables[group]
    samples_all = draws[PARAMETER_NAMES.index(group)]
    lap = comparison.laplace
    n = len(table.entries)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(3.1 * ncols, 2.0 * nrows + 1.0))
    _margins(fig, top=0.7, bottom=0.65, left=0.15, right=0.15, hspace=0.45, wspace=0.08)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    has_wald = False
    for ax, entry in zip(axes, table.entries, strict=False):
        s = samples_all[(slice(None), slice(None), *entry.index)].ravel()
        # The central 99% of the draws, every point estimate and the Wald and Laplace
        # intervals: a heavy tail (a variance of a small component) would otherwise squeeze
        # the histogram into one bar.
        points = [v for v in (entry.mle, entry.map, entry.truth) if v is not None]
        points += [
            v
            for v in (entry.wald_lower, entry.wald_upper, entry.laplace_lower, entry.laplace_upper)
            if v is not None and np.isfinite(v)
        ]
        lo, hi = np.quantile(s, [0.005, 0.995])
        lo, hi = min(lo, *points), max(hi, *points)
        ax.hist(s, bins=40, range=(lo, hi), color=POSTERIOR_COLOR, alpha=0.55, density=True)
        ax.axvspan(entry.lower, entry.upper, color=POSTERIOR_COLOR, alpha=0.10, linewidth=0)
        if lap is not None and entry.column is not None:
            ax.hist(
                lap.draws[:, entry.column], bins=40, range=(lo, hi), density=True, histtype="step",
                color=MAP_STYLE["color"], linewidth=1.1,
            )  # fmt: skip
        if vb is not None:
            ax.hist(
                vb.samples(group, entry.index), bins=40, range=(lo, hi), density=True,
                histtype="step", color=VB_COLOR, linewidth=1.1,
            )  # fmt: skip
        for value, style in (
            (entry.mle, MLE_STYLE),
            (entry.map, MAP_STYLE),
            (entry.truth, TRUTH_STYLE),
        ):
            if value is not None:
                ax.axvline(value, **style)
        if entry.wald_lower is not None:
            # Below the histogram, so that it hides no bar.
            has_wald = True
            top = ax.get_ylim()[1]
            ax.errorbar(
                entry.mle, -0.06 * top, xerr=[[entry.mle - entry.wald_lower],
                [entry.wald_upper - entry.mle]], color=MLE_STYLE["color"], capsize=3,
                linewidth=1.5, fmt="none",
            )  # fmt: skip
            ax.set_ylim(-0.12 * top, top)
        ax.set_title(_text(entry.label), fontsize=9)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_axis_off()
    handles = [Line2D([], [], **style, label=name) for name, _, style in _estimates(comparison)]
    handles.append(
        Line2D(
            [],
            [],
            color=POSTERIOR_COLOR,
            alpha=0.35,
            linewidth=8,
            label=f"{percent(table.level)} interval",
        )
    )
    if lap is not None:
        handles.append(
            Line2D([], [], color=MAP_STYLE["color"], linewidth=1.1, label="Laplace (MAP)")
        )
    if vb is not None:
        handles.append(Line2D([], [], color=VB_COLOR, linewidth=1.1, label="VB (q)"))
    if has_wald:
        handles.append(
            Line2D(
                [], [], color=MLE_STYLE["color"], linewidth=1.5, marker="|", markersize=7,
                label=f"Wald {percent(table.level)} (MLE)",
            )
        )  # fmt: skip
    # One row of legend where the figure is wide enough, two otherwise.
    legend_cols = len(handles) if 3.1 * ncols >= 1.6 * len(handles) else -(-len(handles) // 2)
    fig.legend(handles=handles, loc="lower center", ncols=legend_cols, frameon=False, fontsize=9)
    _suptitle(fig, f"Posterior of the {group}")
    return fig


def trace_rank(comparison: Comparison, draws: MixtureParams, group: str, bins=20) -> Figure:
    """Trace (left) and rank histogram per chain (right) of every entry of a group."""
    table = comparison.tables[group]
    samples_all = draws[PARAMETER_NAMES.index(group)]
    C, S = samples_all.shape[:2]
    n = len(table.entries)
    per_row = 2 if n > 1 else 1
    nrows = -(-n // per_row)
    fig = Figure(figsize=(6.5 * per_row, 1.45 * nrows + 0.8))
    _margins(fig, top=0.75, bottom=0.3, left=0.5, right=0.15, hspace=0.55, wspace=0.18)
    grid = fig.add_gridspec(nrows, 2 * per_row, width_ratios=[3, 1.2] * per_row)
    edges = np.linspace(0, C * S, bins + 1)
    for e, entry in enumerate(table.entries):
        r, c = divmod(e, per_row)
        ax_t = fig.add_subplot(grid[r, 2 * c])
        ax_r = fig.add_subplot(grid[r, 2 * c + 1])
        s = samples_all[(slice(None), slice(None), *entry.index)]
        ranks = np.argsort(np.argsort(s.ravel(), kind="stable")).reshape(C, S)
        for ch in range(C):
            color = CHAIN_COLORS[ch % len(CHAIN_COLORS)]
            ax_t.plot(s[ch], color=color, linewidth=0.5, alpha=0.7)
            counts, _ = np.histogram(ranks[ch], bins=edges)
            ax_r.stairs(counts, edges, color=color, linewidth=1.1, baseline=None)
        ax_r.axhline(S / bins, color="#444444", linestyle=":", linewidth=1)
        ax_r.set_ylim(0, max(1.0, 2.2 * S / bins))
        ax_t.set_title(_text(entry.label), fontsize=8, loc="left")
        ax_r.set_title("ranks by chain", fontsize=7)
        for ax in (ax_t, ax_r):
            ax.tick_params(labelsize=6)
        ax_r.set_yticks([])
        ax_r.set_xticks([])
    _suptitle(fig, f"Trace and rank plots: {group} ({C} chains x {S} draws)", fontsize=10)
    return fig


# --- EM and membership -----------------------------------------------------------------------


def em_objective(restarts: dict) -> Figure:
    """Gap to the best objective by iteration, every restart, for each EM fit.

    Parameters
    ----------
    restarts : dict of str to list of ndarray
        For each fit (``"MLE"``, ``"MAP"``) the objective history of every restart.
    """
    fits = [(name, runs) for name, runs in restarts.items() if runs]
    fig = Figure(figsize=(5.2 * max(1, len(fits)), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(fits)), squeeze=False)).ravel()
    for ax, (name, runs) in zip(axes, fits, strict=False):
        finite = [np.asarray(h, float)[np.isfinite(h)] for h in runs]
        finite = [h for h in finite if h.size]
        if not finite:
            continue
        best = max(h[-1] for h in finite)
        scale = max(1.0, abs(best))
        floor = 1e-13 * scale
        style = MLE_STYLE if name == "MLE" else MAP_STYLE
        best_run = int(np.argmax([h[-1] for h in finite]))
        for r, h in enumerate(finite):
            gap = np.maximum(best - h, floor)
            is_best = r == best_run
            ax.plot(
                np.arange(h.size),
                gap,
                color=style["color"],
                alpha=0.95 if is_best else 0.35,
                linewidth=2 if is_best else 1,
            )
        ax.set_yscale("log")
        if max(h.size for h in finite) > 60:
            ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("EM iteration")
        ax.set_ylabel("best objective - objective")
        n_best = sum(abs(h[-1] - best) <= 1e-6 * scale for h in finite)
        ax.set_title(
            f"{name}: {len(finite)} restarts, {n_best} reach the best ({best:.4g})", fontsize=10
        )
    fig.suptitle("EM objective by iteration (bold: the run kept)", fontsize=11)
    return fig


def membership(X, comparison: Comparison, rows=None, max_panels: int = 3) -> Figure:
    """Membership: EM (MAP) responsibilities against the posterior, and where they differ.

    Left panels (one per component, one for K = 2): each point's MAP responsibility against
    its posterior membership probability, bars ± 1 sd over draws. Right panel: the data
    (1-D: posterior membership probability of every component along x, band ± 1 sd, MAP
    responsibilities dashed; d >= 2: the first two features coloured by the posterior sd of
    membership), the points that disagree most circled and labelled by ``rows[i] + 1``
    (their row in the data set; default the row in ``X``).
    """
    m = comparison.membership
    X = np.asarray(X, dtype=float)
    K = m.responsibilities_map.shape[1]
    comps = [0] if K == 2 else list(range(min(K, max_panels)))
    n_panels = len(comps) + 1
    fig = Figure(figsize=(3.9 * n_panels + 0.6, 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n_panels, squeeze=False)).ravel()
    top = [int(i) for i in m.top[:5] if m.disagreement[i] > 0.02]
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    for ax, k in zip(axes, comps, strict=False):
        x, y, e = m.responsibilities_map[:, k], m.posterior_mean[:, k], m.posterior_sd[:, k]
        ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle=":")
        ax.errorbar(
            x, y, yerr=e, fmt="o", markersize=3, color=POSTERIOR_COLOR, alpha=0.45,
            elinewidth=0.7, capsize=0,
        )  # fmt: skip
        for i in top:
            ax.annotate(
                str(rows[i] + 1), (x[i], y[i]), fontsize=7, xytext=(3, 3),
                textcoords="offset points", color="#b2182b",
            )  # fmt: skip
        ax.set_xlim(-0.04, 1.04)
        ax.set_ylim(-0.04, 1.04)
        ax.set_aspect("equal")
        ax.set_xlabel(f"EM MAP responsibility, component {k + 1}")
        ax.set_ylabel(f"posterior P(component {k + 1})")
    ax = axes[-1]
    names = comparison.feature_names
    if X.shape[1] == 1:
        order = np.argsort(X[:, 0])
        x = X[order, 0]
        for k in range(K):
            color = POINT_COLORS[k % len(POINT_COLORS)]
            mean, sd = m.posterior_mean[order, k], m.posterior_sd[order, k]
            ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2, linewidth=0)
            ax.plot(x, mean, color=color, linewidth=1.8, label=f"component {k + 1}")
            ax.plot(x, m.responsibilities_map[order, k], color=color, linestyle="--", linewidth=1)
        ax.plot(X[top, 0], np.full(len(top), 1.03), "v", color="#b2182b", markersize=6)
        ax.set_xlabel(_text(names[0]))
        ax.plot([], [], color="#666666", linestyle="--", linewidth=1, label="EM MAP")
        ax.set_ylabel("P(component): posterior mean ± sd")
        ax.set_ylim(-0.04, 1.08)
        ax.legend(frameon=False, fontsize=8)
    else:
        spread = m.posterior_sd.max(axis=1)
        sc = ax.scatter(X[:, 0], X[:, 1], c=spread, s=12, cmap="viridis", linewidths=0)
        ax.scatter(
            X[top, 0], X[top, 1], s=90, facecolors="none", edgecolors="#b2182b", linewidths=1.3
        )
        for i in top:
            ax.annotate(
                str(rows[i] + 1),
                (X[i, 0], X[i, 1]),
                fontsize=7,
                xytext=(5, 5),
                textcoords="offset points",
                color="#b2182b",
            )
        fig.colorbar(sc, ax=ax, label="posterior sd of membership", shrink=0.85)
        ax.set_xlabel(_text(names[0]))
        ax.set_ylabel(_text(names[1]))
    ax.set_title("where membership is uncertain", fontsize=9)
    fig.suptitle("Membership: EM MAP against the posterior", fontsize=11)
    return fig


# --- the report's figures --------------------------------------------------------------------


def draw_figures(analysis):
    """The report's figures in page order, one at a time.

    Parameters
    ----------
    analysis : latentmix.report.analysis.Analysis

    Yields
    ------
    name : str
        The PNG file name, also the key of its caption
        (:func:`latentmix.report.context.figure_captions`).
    figure : matplotlib.figure.Figure
    """
    from latentmix.comparison import posterior_draws

    comp = analysis.comparison
    X = analysis.X
    draws = posterior_draws(analysis.idata, comp.covariance_type)
    d = comp.map.n_features
    if d == 1:
        yield "data.png", density_1d(X, comp, draws, comp.level)
    else:
        yield "data.png", (scatter_2d if d == 2 else pairs)(X, comp, draws)
    if getattr(analysis, "imputation", None) is not None:
        yield "imputation.png", imputation(analysis.imputation, comp)
    for group in PARAMETER_NAMES:
        yield (
            f"posterior_{group}.png",
            marginals(comp, draws, group, vb=getattr(analysis, "vb", None)),
        )
    yield "membership.png", membership(X, comp, analysis.data_rows())
    restarts = {
        name: [] if model is None else [r["objective_history"] for r in model.restarts_]
        for name, model in (("MLE", analysis.mle), ("MAP", analysis.map))
    }
    yield "em_objective.png", em_objective(restarts)
    for group in PARAMETER_NAMES:
        yield f"trace_{group}.png", trace_rank(comp, draws, group)


def imputation(imp, comparison: Comparison) -> Figure:
    """The most uncertain missing cells: EM at the MAP against the posterior predictive.

    One panel per cell: draws of the cell's conditional distribution under the MAP and of its
    posterior predictive, the EM conditional mean ± sd and the predictive interval.

    Parameters
    ----------
    imp : latentmix.report.imputation.Imputation
    comparison : Comparison
        For the level (and the colours' meaning, shared with the other figures).
    """
    m = len(imp.cells)
    n_cols = 2 if m > 1 else 1
    n_rows = -(-m // n_cols)
    fig = Figure(figsize=(4.2 * n_cols, 1.9 * n_rows + 0.9))
    _margins(fig, top=0.75, bottom=0.45, left=0.3, right=0.2, hspace=0.75, wspace=0.15)
    level = percent(imp.level)
    for i, cell in enumerate(imp.cells):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        post, plug = imp.posterior_draws[:, i], imp.plug_in_draws[:, i]
        lo, hi = np.quantile(np.concatenate([post, plug]), [0.005, 0.995])
        bins = np.linspace(lo, hi, 40)
        ax.hist(post, bins=bins, density=True, color=POSTERIOR_COLOR, alpha=0.45)
        ax.hist(
            plug, bins=bins, density=True, histtype="step", color=MAP_STYLE["color"],
            linewidth=1.5,
        )  # fmt: skip
        top = ax.get_ylim()[1]
        ax.errorbar(
            cell.em_mean, 0.92 * top, xerr=cell.em_sd, fmt="o", color=MAP_STYLE["color"],
            markersize=4, capsize=3,
        )  # fmt: skip
        ax.plot([cell.lower, cell.upper], [0.8 * top] * 2, color=POSTERIOR_COLOR, linewidth=3)
        ax.set_ylim(0, top)
        ax.set_yticks([])
        ax.set_xlim(lo, hi)
        ax.set_title(f"row {cell.row + 1}, {_text(cell.feature)}", fontsize=9, loc="left", pad=3)
        ax.tick_params(labelsize=8)
    fig.legend(
        handles=[
            Line2D([], [], color=MAP_STYLE["color"], marker="o", label="EM MAP: mean ± sd"),
            Line2D([], [], color=MAP_STYLE["color"], linewidth=1.5, label="MAP conditional"),
            Line2D(
                [], [], color=POSTERIOR_COLOR, linewidth=6, alpha=0.45,
                label=f"posterior predictive ({level} bar)",
            ),
        ],
        loc="upper center", ncol=3, fontsize=8, frameon=False,
        bbox_to_anchor=(0.5, 1 - 0.3 / fig.get_size_inches()[1]),
    )  # fmt: skip
    _suptitle(fig, "Missing cells with the largest EM conditional sd", fontsize=10)
    return fig
