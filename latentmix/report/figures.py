"""The report's figures, drawn with matplotlib's Agg backend.

Every function takes plain arrays (or a :class:`~latentmix.comparison.Comparison`) and returns a
:class:`matplotlib.figure.Figure`; :func:`draw_figures` makes the report's figures in page
order. One colour per estimate throughout: MLE orange dashed, MAP blue solid, posterior
purple, truth black dotted. Components are numbered from 1 in labels and legends.
"""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.linalg import solve_triangular
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


# --- the prior of one entry ----------------------------------------------------------------

PRIOR_STYLE = {"color": "#555555", "linestyle": "-.", "linewidth": 1.3}
# Draws of an inverse-Wishart for the prior of an off-diagonal covariance entry.
_N_PRIOR_DRAWS = 20000


def prior_marginal(prior, group: str, index, covariance_type: str, n_components: int):
    r"""The prior's marginal distribution of one entry, in closed form where there is one.

    Under :class:`~latentmix.priors.ConjugatePrior` (notation of :mod:`latentmix.priors`):

    * a weight :math:`w_k \sim \operatorname{Beta}(\alpha_k, \sum_l \alpha_l - \alpha_k)`;
    * a mean coordinate is Student-t: :math:`\mu_{kj} \sim t_{\nu'}(m_{0j},\,
      \Psi_{jj} / (\kappa \nu'))` with :math:`\nu' = \nu - d + 1` for ``full`` and ``tied``
      (the inverse-Wishart's diagonal) and :math:`\nu' = \nu` for the inverse-gamma types;
    * a variance is inverse-gamma: :math:`\Sigma_{jj} \sim \operatorname{InvGamma}(\nu'/2,\,
      \Psi_{jj}/2)`, the same :math:`\nu'`;
    * an off-diagonal covariance of ``full`` or ``tied`` has no closed form: None.

    Parameters
    ----------
    prior : ConjugatePrior
    group : {"weights", "means", "covariances"}
    index : tuple of int
        0-based into the group's array (:class:`~latentmix.comparison.Entry` ``index``).
    covariance_type : str
    n_components : int

    Returns
    -------
    scipy.stats frozen distribution or None
    """
    from scipy import stats

    d = prior.mean.size
    nu, kappa = prior.degrees_of_freedom, prior.mean_precision
    index = tuple(int(i) for i in index)
    if group == "weights":
        alpha = prior.concentration(n_components)
        return stats.beta(alpha[index[0]], alpha.sum() - alpha[index[0]])
    wishart = covariance_type in ("full", "tied")
    if wishart:
        df, scale_diag = nu - d + 1, np.diag(prior.scale)
    else:
        df, scale_diag = nu, np.broadcast_to(prior.scale, (d,))
    if group == "means":
        j = index[-1]
        return stats.t(df, loc=prior.mean[j], scale=np.sqrt(scale_diag[j] / (kappa * df)))
    if wishart:
        i, j = index[-2:]
        if i != j:
            return None
    else:
        # diag (k, j), tied_diag (j,), spherical (k,) and tied_spherical (): one variance.
        j = index[-1] if covariance_type in ("diag", "tied_diag") else 0
    return stats.invgamma(0.5 * df, scale=0.5 * scale_diag[j])


def prior_offdiagonal_draws(prior, n_draws: int = _N_PRIOR_DRAWS, seed: int = 0) -> np.ndarray:
    """Draws of a full or tied covariance matrix from the prior, shape (n_draws, d, d)."""
    from scipy.stats import invwishart

    d = prior.mean.size
    draws = invwishart(df=prior.degrees_of_freedom, scale=prior.scale).rvs(
        size=n_draws, random_state=np.random.default_rng(seed)
    )
    return np.reshape(draws, (n_draws, d, d))


def _density_curve(values, lo, hi, bins=40):
    """Histogram density of draws over (lo, hi), normalised by ALL draws: (centres, density).

    Draws outside the range count in the total, so a curve cut at the panel's edge keeps
    its height (``density=True`` would inflate it).
    """
    values = np.asarray(values, float)
    edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(values, bins=edges)
    return edges, counts / (values.size * np.diff(edges))


def panel_limits(samples, points, positive: bool = False, margin: float = 0.08):
    """The x-range of a marginal panel: the posterior's central 99% and the point estimates.

    The central 99% is cut at a quarter of the central 95% interval's width beyond that
    interval (a long right tail of a variance).

    Approximate intervals (Wald, Laplace, VB, the prior) do not widen it: they are cut at
    the edge, marked there, and the caption says so.

    Parameters
    ----------
    samples : ndarray of shape (S,)
        Posterior draws of the entry.
    points : sequence of float
        Point estimates to keep in view (MLE, MAP, truth).
    positive : bool
        The entry is a weight or a variance: the range starts at 0 or above.
    margin : float
        Added on each side, as a fraction of the width.

    Returns
    -------
    lo, hi : float
    """
    lo, hi, lower, upper = np.quantile(samples, [0.005, 0.995, 0.025, 0.975])
    # A long tail (the variance of a small component) would squeeze the bulk into a few
    # bars: at most a quarter of the central 95% interval's width beyond it.
    reach = 0.25 * (upper - lower)
    lo, hi = max(lo, lower - reach), min(hi, upper + reach)
    finite = [float(v) for v in points if v is not None and np.isfinite(v)]
    lo, hi = min([lo, *finite]), max([hi, *finite])
    width = hi - lo if hi > lo else max(abs(hi), 1.0) * 1e-3
    lo, hi = lo - margin * width, hi + margin * width
    if positive:
        lo = max(lo, 0.0)
    return float(lo), float(hi)


def _is_positive(group: str, index, covariance_type: str) -> bool:
    if group == "weights":
        return True
    if group != "covariances":
        return False
    return covariance_type not in ("full", "tied") or index[-1] == index[-2]


def marginals(
    comparison: Comparison, draws: MixtureParams, group: str, ncols=4, vb=None, prior=None
) -> Figure:
    """Posterior histogram of every entry of a group with its interval and point estimates.

    Where the comparison has them, the Laplace approximation around the MAP is drawn over the
    histogram as the outline of a histogram of its draws (same bins), and the Wald interval of
    the MLE as a bar below it. With ``vb`` (a :class:`latentmix.report.vb.VBResult`) the
    variational posterior q is drawn the same way (green outline); with ``prior`` (a
    ConjugatePrior) the prior's marginal density of the entry (:func:`prior_marginal`; an
    off-diagonal covariance from inverse-Wishart draws), grey dash-dot, on the same density
    scale as the posterior. Each panel spans the posterior's central 99% and the point
    estimates (:func:`panel_limits`); a Wald bar cut at the edge ends in a triangle.
    """
    table = comparison.tables[group]
    samples_all = draws[PARAMETER_NAMES.index(group)]
    lap = comparison.laplace
    K = comparison.map.n_components
    covariance_type = comparison.covariance_type
    n = len(table.entries)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(3.1 * ncols, 2.0 * nrows + 1.0))
    _margins(fig, top=0.7, bottom=0.65, left=0.15, right=0.15, hspace=0.5, wspace=0.08)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    has_wald = has_cut = False
    wishart_draws = None
    for ax, entry in zip(axes, table.entries, strict=False):
        s = samples_all[(slice(None), slice(None), *entry.index)].ravel()
        positive = _is_positive(group, entry.index, covariance_type)
        lo, hi = panel_limits(s, (entry.mle, entry.map, entry.truth), positive)
        heights = ax.hist(
            s, bins=40, range=(lo, hi), color=POSTERIOR_COLOR, alpha=0.55, density=True,
            histtype="stepfilled",
        )[0]  # fmt: skip
        ax.axvspan(entry.lower, entry.upper, color=POSTERIOR_COLOR, alpha=0.10, linewidth=0)
        if lap is not None and entry.column is not None:
            edges, dens = _density_curve(lap.draws[:, entry.column], lo, hi)
            ax.stairs(dens, edges, color=MAP_STYLE["color"], linewidth=1.1)
        if vb is not None:
            edges, dens = _density_curve(vb.samples(group, entry.index), lo, hi)
            ax.stairs(dens, edges, color=VB_COLOR, linewidth=1.1)
        if prior is not None:
            dist = prior_marginal(prior, group, entry.index, covariance_type, K)
            if dist is not None:
                grid = np.linspace(lo, hi, 200)
                with np.errstate(all="ignore"):
                    ax.plot(grid, np.nan_to_num(dist.pdf(grid)), **PRIOR_STYLE)
            else:
                if wishart_draws is None:
                    wishart_draws = prior_offdiagonal_draws(prior)
                i, j = entry.index[-2:]
                edges, dens = _density_curve(wishart_draws[:, i, j], lo, hi, bins=30)
                ax.plot(0.5 * (edges[1:] + edges[:-1]), dens, **PRIOR_STYLE)
        for value, style in (
            (entry.mle, MLE_STYLE),
            (entry.map, MAP_STYLE),
            (entry.truth, TRUTH_STYLE),
        ):
            if value is not None:
                ax.axvline(value, **style)
        # The posterior sets the height: a much taller Laplace or VB peak is cut at the top.
        top = min(ax.get_ylim()[1], 1.6 * max(float(np.max(heights)), 1e-300))
        ax.set_ylim(0, top)
        if entry.wald_lower is not None:
            # Below the histogram, so that it hides no bar; cut at the panel's edge.
            has_wald = True
            left, right = max(entry.wald_lower, lo), min(entry.wald_upper, hi)
            y = -0.06 * top
            ax.plot([left, right], [y, y], color=MLE_STYLE["color"], linewidth=1.5)
            for end, cut, marker in ((left, entry.wald_lower < lo, "<"),
                                     (right, entry.wald_upper > hi, ">")):  # fmt: skip
                has_cut |= cut
                ax.plot(
                    end, y, marker=marker if cut else "|", color=MLE_STYLE["color"],
                    markersize=6 if cut else 7, linestyle="",
                )  # fmt: skip
            ax.set_ylim(-0.12 * top, top)
        ax.set_xlim(lo, hi)
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
    if prior is not None:
        handles.append(Line2D([], [], **PRIOR_STYLE, label="prior"))
    if has_wald:
        handles.append(
            Line2D(
                [], [], color=MLE_STYLE["color"], linewidth=1.5, marker="|", markersize=7,
                label=f"Wald {percent(table.level)} (MLE)" + (", ▸ cut" if has_cut else ""),
            )
        )  # fmt: skip
    # One row of legend where the figure is wide enough, two otherwise.
    legend_cols = len(handles) if 3.1 * ncols >= 1.6 * len(handles) else -(-len(handles) // 2)
    fig.legend(handles=handles, loc="lower center", ncols=legend_cols, frameon=False, fontsize=9)
    _suptitle(fig, f"Posterior of the {group}")
    return fig


def rank_bars(ax, ranks: np.ndarray, n_total: int, bins: int = 20) -> None:
    """Rank histograms as bars, one band per chain stacked upwards, chain colours.

    Each band is scaled so that the uniform count (what mixed chains give) is at 0.6 of its
    height, drawn dotted; bars above 1.7 x uniform are cut at the band's top.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    ranks : ndarray of int, shape (C, S)
        Rank of every draw among all C x S draws.
    n_total : int
        C x S.
    bins : int
    """
    C = ranks.shape[0]
    edges = np.linspace(0, n_total, bins + 1)
    expected = ranks.shape[1] / bins
    boxes, colors = [], []
    for ch in range(C):
        counts, _ = np.histogram(ranks[ch], bins=edges)
        height = 0.6 * counts / expected  # uniform at 0.6; bars cut at 1.0 (1.7 x uniform)
        base = C - 1 - ch
        top = base + 0.9 * np.minimum(height, 1.0)
        for lo, hi, y in zip(edges[:-1], edges[1:], top, strict=True):
            boxes.append([(lo, base), (lo, y), (hi, y), (hi, base)])
        colors += [CHAIN_COLORS[ch % len(CHAIN_COLORS)]] * bins
        ax.axhline(base + 0.6 * 0.9, color="#444444", linestyle=":", linewidth=0.8)
    # One collection for every bar: a patch per bar cost about a second per trace figure.
    ax.add_collection(
        PolyCollection(boxes, facecolors=colors, edgecolors="white", linewidths=0.4, alpha=0.85)
    )
    ax.set_xlim(0, n_total)
    ax.set_ylim(0, C)
    ax.set_yticks(np.arange(C) + 0.45, [str(C - ch) for ch in range(C)])
    ax.set_xticks([])


def trace_rank(comparison: Comparison, draws: MixtureParams, group: str, bins=20) -> Figure:
    """Trace (left) and rank histograms by chain (right) of every entry of a group.

    The trace puts the chains side by side (chain 1, then 2, ...; thin lines in the chain's
    colour, grey separators), so none hides another; the rank panel has one band of bars
    per chain, chain 1 at the top: mixed chains give flat bars around the dotted line.
    """
    table = comparison.tables[group]
    samples_all = draws[PARAMETER_NAMES.index(group)]
    C, S = samples_all.shape[:2]
    n = len(table.entries)
    per_row = 2 if n > 1 else 1
    nrows = -(-n // per_row)
    row_height = max(1.6, 0.3 * C + 0.6)
    fig = Figure(figsize=(7.0 * per_row, row_height * nrows + 1.0))
    _margins(fig, top=0.95, bottom=0.35, left=0.55, right=0.15, hspace=0.6, wspace=0.22)
    grid = fig.add_gridspec(nrows, 2 * per_row, width_ratios=[3, 1.1] * per_row)
    x = np.arange(S)
    for e, entry in enumerate(table.entries):
        r, c = divmod(e, per_row)
        ax_t = fig.add_subplot(grid[r, 2 * c])
        ax_r = fig.add_subplot(grid[r, 2 * c + 1])
        s = samples_all[(slice(None), slice(None), *entry.index)]
        ranks = np.argsort(np.argsort(s.ravel(), kind="stable")).reshape(C, S)
        for ch in range(C):
            color = CHAIN_COLORS[ch % len(CHAIN_COLORS)]
            ax_t.plot(ch * S + x, s[ch], color=color, linewidth=0.5, alpha=0.8)
            if ch:
                ax_t.axvline(ch * S, color="#999999", linewidth=0.8)
        ax_t.set_xlim(0, C * S)
        ax_t.set_xticks((np.arange(C) + 0.5) * S, [f"chain {ch + 1}" for ch in range(C)])
        rank_bars(ax_r, ranks, C * S, bins)
        ax_t.set_title(_text(entry.label), fontsize=9, loc="left")
        ax_r.set_title("ranks by chain", fontsize=8)
        for ax in (ax_t, ax_r):
            ax.tick_params(labelsize=8, length=2)
    _suptitle(
        fig,
        f"Trace and rank plots: {group} ({C} chains x {S} draws; traces side by side, "
        "rank bars flat when chains mix)",
        fontsize=10,
    )
    return fig


# --- joint views of the posterior ------------------------------------------------------------

#: Entries of the posterior pair plot at most.
MAX_PAIR_ENTRIES = 6


def leading_entries(comparison: Comparison, max_entries: int = MAX_PAIR_ENTRIES) -> list:
    """The entries of the posterior pair plot, in this order, at most ``max_entries``.

    The first mean coordinate of every component, then the weights of components 1 to
    K - 1 (the K-th is one minus their sum), then the first variance of every component:
    where the components sit, how big they are and how wide.

    Returns
    -------
    list of Entry
    """
    K = comparison.map.n_components
    tables = comparison.tables
    means = [e for e in tables["means"].entries if e.index[-1] == 0]
    weights = [e for e in tables["weights"].entries if e.index[0] < K - 1]
    covariance_type = comparison.covariance_type
    variances = [
        e
        for e in tables["covariances"].entries
        if _is_positive("covariances", e.index, covariance_type)
        and (covariance_type in ("spherical", "tied_spherical") or e.index[-1] == 0)
    ]
    return (means + weights + variances)[:max_entries]


def _entry_draws(draws: MixtureParams, entry) -> np.ndarray:
    """Draws of one entry, chains pooled, shape (C * S,)."""
    return draws[PARAMETER_NAMES.index(entry.parameter)][
        (slice(None), slice(None), *entry.index)
    ].ravel()


def posterior_pairs(comparison: Comparison, draws: MixtureParams, n_points: int = 1500) -> Figure:
    """Pair plot of the posterior of the leading entries (:func:`leading_entries`).

    Lower triangle: draws (up to ``n_points``, evenly spaced over the chains) of each pair,
    with the MLE (orange cross) and the MAP (blue plus); diagonal: the marginal histogram
    with both as lines; upper triangle: the posterior correlation of the pair (of all
    draws). Axes span each entry's posterior as the marginal panels do (:func:`panel_limits`).
    """
    entries = leading_entries(comparison)
    m = len(entries)
    values = np.stack([_entry_draws(draws, e) for e in entries])
    keep = _thin(values.shape[1], n_points)
    corr = np.corrcoef(values) if m > 1 else np.ones((1, 1))
    covariance_type = comparison.covariance_type
    # A few stray draws (another mode) would otherwise set the axes: as the marginal panels.
    lims = [
        panel_limits(v, (e.mle, e.map), _is_positive(e.parameter, e.index, covariance_type))
        for v, e in zip(values, entries, strict=True)
    ]
    fig = Figure(figsize=(1.9 * m + 0.9, 1.9 * m + 0.8))
    _margins(fig, top=0.75, bottom=0.75, left=0.8, right=0.15, hspace=0.12, wspace=0.12)
    axes = fig.subplots(m, m, squeeze=False)
    for r in range(m):
        for c in range(m):
            ax = axes[r, c]
            ax.tick_params(labelsize=6, length=2)
            if c > r:
                ax.set_xticks([])
                ax.set_yticks([])
                v = corr[r, c]
                ax.text(
                    0.5, 0.5, f"{v:+.2f}", ha="center", va="center", transform=ax.transAxes,
                    fontsize=9 + 5 * abs(v), color="#b2182b" if v > 0 else "#2166ac",
                )  # fmt: skip
                for spine in ax.spines.values():
                    spine.set_color("#cccccc")
                continue
            if r == c:
                ax.hist(
                    values[r], bins=30, range=lims[r], color=POSTERIOR_COLOR, alpha=0.55,
                    histtype="stepfilled",
                )  # fmt: skip
                ax.set_xlim(lims[r])
                ax.set_yticks([])
                for value, style in ((entries[r].mle, MLE_STYLE), (entries[r].map, MAP_STYLE)):
                    if value is not None:
                        ax.axvline(value, **{**style, "linewidth": 1.4})
            else:
                ax.scatter(
                    values[c, keep], values[r, keep], s=3, color=POSTERIOR_COLOR, alpha=0.3,
                    linewidths=0,
                )  # fmt: skip
                for point, marker, style in (("mle", "x", MLE_STYLE), ("map", "+", MAP_STYLE)):
                    x, y = getattr(entries[c], point), getattr(entries[r], point)
                    if x is not None and y is not None:
                        ax.plot(
                            x, y, marker=marker, color=style["color"], markersize=8,
                            markeredgewidth=2, linestyle="",
                        )  # fmt: skip
                ax.set_xlim(lims[c])
                ax.set_ylim(lims[r])
            if r < m - 1:
                ax.set_xticklabels([])
            else:
                ax.set_xlabel(_text(entries[c].label).replace("[", "\n["), fontsize=7)
            if c > 0 and r != c:
                ax.set_yticklabels([])
            elif c == 0 and r > 0:
                ax.set_ylabel(_text(entries[r].label).replace("[", "\n["), fontsize=7)
    handles = [
        Line2D([], [], color=POSTERIOR_COLOR, marker="o", linestyle="", alpha=0.5,
               label="posterior draws"),
        Line2D([], [], color=MLE_STYLE["color"], marker="x", linestyle="", label="MLE"),
        Line2D([], [], color=MAP_STYLE["color"], marker="+", linestyle="", label="MAP"),
    ]  # fmt: skip
    if comparison.mle is None:
        handles.pop(1)
    fig.legend(handles=handles, loc="lower center", ncols=len(handles), frameon=False, fontsize=8)
    _suptitle(fig, "Posterior pairs of the leading entries (upper: correlation)", fontsize=10)
    return fig


def posterior_correlation(comparison: Comparison, draws: MixtureParams) -> Figure:
    """The posterior correlation matrix of every entry of the tables (all groups)."""
    entries = [e for g in PARAMETER_NAMES for e in comparison.tables[g].entries]
    m = len(entries)
    values = np.stack([_entry_draws(draws, e) for e in entries])
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(values)
    size = max(5.0, 0.22 * m + 3.2)
    fig = Figure(figsize=(size + 0.9, size), layout="constrained")
    ax = fig.add_subplot()
    # 20 steps of 0.1: few colours, so that the PNG palette keeps every one exactly.
    cmap = matplotlib.colormaps["RdBu_r"].resampled(20)
    image = ax.imshow(corr, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    labels = [_text(e.label) for e in entries]
    fontsize = 8 if m <= 15 else 6
    ax.set_xticks(np.arange(m), labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(np.arange(m), labels, fontsize=fontsize)
    # Lines between the groups.
    start = 0
    for g in PARAMETER_NAMES[:-1]:
        start += len(comparison.tables[g].entries)
        for line in (ax.axhline, ax.axvline):
            line(start - 0.5, color="black", linewidth=0.8)
    if m <= 14:
        for i in range(m):
            for j in range(m):
                if i != j and np.isfinite(corr[i, j]):
                    ax.text(
                        j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if abs(corr[i, j]) > 0.6 else "black",
                    )  # fmt: skip
    fig.colorbar(image, ax=ax, shrink=0.8, label="posterior correlation")
    ax.set_title("Posterior correlations of the parameters", fontsize=10)
    return fig


def replicate_statistics(X, draws: MixtureParams, n_replicates: int = 200, seed: int = 0):
    """Test statistics of the data and of data replicated from posterior draws.

    Each replicate is ``len(X)`` rows drawn from one posterior draw (evenly spaced over the
    chains). The statistics: each feature's standard deviation (up to 4 features), the
    correlation of the first pairs of features (up to 3), and the largest squared
    Mahalanobis distance of a row from the rows' mean under their sample covariance (the
    tails). Rows with a missing cell are left out of the observed statistics, and the
    replicates have as many rows as are left.

    Parameters
    ----------
    X : ndarray of shape (n, d), d >= 2
    draws : MixtureParams
        Posterior draws leading with (chain, draw).
    n_replicates : int
    seed : int

    Returns
    -------
    names : list of str
        Display names (features by index from 1; see ``feature_names`` in the figure).
    observed : ndarray of shape (m,)
    replicated : ndarray of shape (n_replicates, m)
    """
    from latentmix.params import sample_mixture

    X = np.asarray(X, float)
    X = X[~np.isnan(X).any(axis=1)]
    d = X.shape[1]
    features = list(range(min(d, 4)))
    pairs_ = [(i, j) for i in range(d) for j in range(i + 1, d)][:3]

    def stats(Y):
        sd = Y[:, features].std(axis=0, ddof=1)
        corr = np.corrcoef(Y, rowvar=False)
        centred = Y - Y.mean(axis=0)
        # Squared distances by the Cholesky factor of the sample covariance, not its inverse;
        # a singular one (collinear columns) by least squares, its pseudo-inverse's distance.
        cov = np.cov(Y, rowvar=False)
        try:
            z = solve_triangular(np.linalg.cholesky(cov), centred.T, lower=True)
            maha = (z**2).sum(axis=0)
        except np.linalg.LinAlgError:
            maha = np.einsum("ij,ji->i", centred, np.linalg.lstsq(cov, centred.T, rcond=None)[0])
        return np.concatenate([sd, [corr[i, j] for i, j in pairs_], [maha.max()]])

    names = [("sd", (j,)) for j in features] + [("corr", p) for p in pairs_] + [("maha", ())]
    flat = _flat_draws(draws, n_replicates)
    rng = np.random.default_rng(seed)
    covariance_type = draws.covariance_type
    replicated = np.stack(
        [
            stats(
                sample_mixture(
                    MixtureParams(flat[0][s], flat[1][s], flat[2][s], covariance_type),
                    len(X),
                    rng,
                )[0]
            )
            for s in range(len(flat[0]))
        ]
    )
    return names, stats(X), replicated


def predictive_checks(X, comparison: Comparison, draws: MixtureParams, seed: int = 0) -> Figure:
    """Posterior predictive checks (d >= 2): statistics of replicated data against the data.

    One panel per statistic of :func:`replicate_statistics`: the histogram over replicates,
    the observed value (black line), and the posterior predictive p-value P(T_rep >= T_obs).
    """
    names, observed, replicated = replicate_statistics(X, draws, seed=seed)
    features = comparison.feature_names
    m = len(names)
    ncols = min(4, m)
    nrows = -(-m // ncols)
    fig = Figure(figsize=(3.0 * ncols, 2.1 * nrows + 0.8))
    _margins(fig, top=0.6, bottom=0.4, left=0.2, right=0.2, hspace=0.7, wspace=0.12)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, (kind, idx), obs, rep in zip(axes, names, observed, replicated.T, strict=False):
        ax.hist(rep, bins=25, color=POSTERIOR_COLOR, alpha=0.55, histtype="stepfilled")
        ax.axvline(obs, color="black", linewidth=1.8)
        p = float(np.mean(rep >= obs))
        label = {
            "sd": lambda i: f"sd of {_text(features[i[0]])}",
            "corr": lambda i: f"corr({_text(features[i[0]])}, {_text(features[i[1]])})",
            "maha": lambda i: "largest Mahalanobis² of a row",
        }[kind](idx)
        ax.set_title(f"{label}\np = {p:.2f}", fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    for ax in axes[m:]:
        ax.set_axis_off()
    _suptitle(
        fig,
        f"Posterior predictive checks: {len(replicated)} replicated data sets (purple) "
        "against the data (black)",
        fontsize=10,
    )
    return fig


def predictive_density(
    X, comparison: Comparison, draws: MixtureParams, n_draws: int = 200, n_grid: int = 120
) -> Figure:
    """Contours of the posterior predictive density of the first two features over the data.

    The density is the mean over ``n_draws`` posterior draws of the mixture's marginal
    density of the first two features; contours at the levels that enclose 25%, 50%, 75%,
    90% and 99% of its mass (highest-density regions, from the grid).
    """
    X = np.asarray(X, float)
    K, d = comparison.map.means.shape
    weights, means, covs = _flat_draws(draws, n_draws)
    full = full_covariances(covs, comparison.covariance_type, K, d)[..., :2, :2]
    pts = X[:, :2]
    lo, hi = np.nanmin(pts, axis=0), np.nanmax(pts, axis=0)
    pad = 0.3 * (hi - lo)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], n_grid)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], n_grid)
    mx, my = np.meshgrid(gx, gy)
    grid = np.column_stack([mx.ravel(), my.ravel()])
    # The likelihood's compiled kernel: 14,400 points x 200 draws in 0.1 s, against 1.1 s in
    # NumPy's broadcast arrays.
    from latentmix.bayes.kernels import draws_rows

    means, full = (np.ascontiguousarray(a) for a in (means[..., :2], full))
    rows, _, _ = draws_rows(grid, weights, means, full)
    dens = np.exp(rows).mean(axis=1).reshape(mx.shape)
    # Highest-density levels: the density above which a given share of the mass lies.
    flat = np.sort(dens.ravel())[::-1]
    mass = np.cumsum(flat) / flat.sum()
    shares = (0.25, 0.5, 0.75, 0.9, 0.99)
    levels = sorted({float(flat[min(np.searchsorted(mass, q), flat.size - 1)]) for q in shares})
    fig = Figure(figsize=(7.0, 5.6), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(pts[:, 0], pts[:, 1], s=8, color="#666666", alpha=0.6, linewidths=0)
    contours = ax.contour(mx, my, dens, levels=levels, colors=POSTERIOR_COLOR, linewidths=1.2)
    share_of = dict(zip(levels, sorted(shares, reverse=True), strict=False))
    ax.clabel(contours, fmt=lambda v: f"{100 * share_of.get(v, 0):.0f}%", fontsize=7)
    names = comparison.feature_names
    ax.set_xlabel(_text(names[0]))
    ax.set_ylabel(_text(names[1]))
    title = "Posterior predictive density over the data"
    if d > 2:
        title += f" (first two of {d} features)"
    ax.set_title(title, fontsize=10)
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


def gap_runs(x, gap_fraction: float = 0.05) -> list[slice]:
    """Runs of sorted values without a gap wider than ``gap_fraction`` of their range.

    A curve through sorted points is drawn one run at a time, so it does not join points
    across an empty stretch of the axis (galaxies: nothing between 10 and 16).

    Parameters
    ----------
    x : ndarray of shape (n,)
        Sorted.
    gap_fraction : float

    Returns
    -------
    list of slice
        Consecutive, covering ``range(n)``.
    """
    x = np.asarray(x, float)
    span = float(x[-1] - x[0]) if x.size else 0.0
    cuts = np.flatnonzero(np.diff(x) > gap_fraction * span) + 1 if span > 0 else []
    bounds = [0, *map(int, cuts), x.size]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def _annotate_rows(ax, xs, ys, texts, scale, step: float = 0.06) -> None:
    """Row labels beside points, moved up where they would overlap, with a leader line.

    ``scale`` is the (x, y) extent of the panel's data; labels closer than ``step`` of the
    y extent (and a few steps in x) to one already placed move up by one step.
    """
    placed = []
    for x, y, text in sorted(zip(xs, ys, texts, strict=True), key=lambda t: (t[1], t[0])):
        x_text = x + 0.02 * scale[0]
        y_text = y + 0.01 * scale[1]
        while any(
            abs(x_text - px) < 5 * step * scale[0] and abs(y_text - py) < step * scale[1]
            for px, py in placed
        ):
            y_text += step * scale[1]
        placed.append((x_text, y_text))
        moved = y_text - y > 0.02 * scale[1]
        ax.annotate(
            text, (x, y), xytext=(x_text, y_text), textcoords="data", fontsize=7,
            color="#b2182b", va="bottom", annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "#b2182b", "linewidth": 0.5,
                        "shrinkA": 0, "shrinkB": 2} if moved else None,
        )  # fmt: skip


#: Points the membership figure draws at most: beyond, a seeded random subset of the rows
#: (with the rows that disagree most), said in the figure's title. 1e5 error bars took 13 s
#: to draw and show no more than 5000.
MAX_MEMBERSHIP_POINTS = 5000


def membership(
    X, comparison: Comparison, rows=None, max_panels: int = 3, max_points=MAX_MEMBERSHIP_POINTS
) -> Figure:
    """Membership: EM (MAP) responsibilities against the posterior, and where they differ.

    Left panels (one per component, one for K = 2): each point's MAP responsibility against
    its posterior membership probability, bars ± 1 sd over draws. Right panel: the data
    (1-D: posterior membership probability of every component along x, band ± 1 sd, MAP
    responsibilities dashed; d >= 2: the first two features coloured by the posterior sd of
    membership), the points that disagree most circled and labelled by ``rows[i] + 1``
    (their row in the data set; default the row in ``X``). Of more than ``max_points`` rows,
    a random ``max_points`` (seed 0) and the most disagreeing are drawn.
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
    shown = np.arange(len(X))
    if len(X) > max_points:
        picked = np.random.default_rng(0).choice(len(X), max_points, replace=False)
        shown = np.union1d(picked, np.asarray(top, dtype=int))
    at = np.searchsorted(shown, top)  # the top rows' places among those shown
    for ax, k in zip(axes, comps, strict=False):
        x, y, e = (a[shown, k] for a in (m.responsibilities_map, m.posterior_mean, m.posterior_sd))
        ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle=":")
        ax.errorbar(
            x, y, yerr=e, fmt="o", markersize=3, color=POSTERIOR_COLOR, alpha=0.45,
            elinewidth=0.7, capsize=0,
        )  # fmt: skip
        _annotate_rows(ax, x[at], y[at], [str(rows[i] + 1) for i in top], (1.0, 1.0))
        ax.set_xlim(-0.04, 1.04)
        ax.set_ylim(-0.04, 1.04)
        ax.set_aspect("equal")
        ax.set_xlabel(f"EM MAP responsibility, component {k + 1}")
        ax.set_ylabel(f"posterior P(component {k + 1})")
    ax = axes[-1]
    names = comparison.feature_names
    if X.shape[1] == 1:  # curves along x: every row
        order = np.argsort(X[:, 0])
        x = X[order, 0]
        runs = gap_runs(x)
        for k in range(K):
            color = POINT_COLORS[k % len(POINT_COLORS)]
            mean, sd = m.posterior_mean[order, k], m.posterior_sd[order, k]
            resp = m.responsibilities_map[order, k]
            for j, run in enumerate(runs):
                ax.fill_between(
                    x[run], (mean - sd)[run], (mean + sd)[run], color=color, alpha=0.2,
                    linewidth=0,
                )  # fmt: skip
                ax.plot(
                    x[run], mean[run], color=color, linewidth=1.8, marker=".", markersize=3,
                    label=f"component {k + 1}" if j == 0 else None,
                )  # fmt: skip
                ax.plot(x[run], resp[run], color=color, linestyle="--", linewidth=1)
        ax.plot(X[top, 0], np.full(len(top), 1.03), "v", color="#b2182b", markersize=6)
        span = float(np.ptp(x)) or 1.0
        _annotate_rows(
            ax, X[top, 0], np.full(len(top), 1.03), [str(rows[i] + 1) for i in top], (span, 1.0)
        )
        ax.set_xlabel(_text(names[0]))
        ax.plot([], [], color="#666666", linestyle="--", linewidth=1, label="EM MAP")
        ax.set_ylabel("P(component): posterior mean ± sd")
        ax.set_ylim(-0.04, 1.16)
        ax.legend(frameon=False, fontsize=8)
    else:
        spread = m.posterior_sd[shown].max(axis=1)
        sc = ax.scatter(X[shown, 0], X[shown, 1], c=spread, s=12, cmap="viridis", linewidths=0)
        ax.scatter(
            X[top, 0], X[top, 1], s=90, facecolors="none", edgecolors="#b2182b", linewidths=1.3
        )
        _annotate_rows(
            ax, X[top, 0], X[top, 1], [str(rows[i] + 1) for i in top],
            (float(np.nanmax(X[:, 0]) - np.nanmin(X[:, 0])) or 1.0,
             float(np.nanmax(X[:, 1]) - np.nanmin(X[:, 1])) or 1.0),
        )  # fmt: skip
        fig.colorbar(sc, ax=ax, label="posterior sd of membership", shrink=0.85)
        ax.set_xlabel(_text(names[0]))
        ax.set_ylabel(_text(names[1]))
    ax.set_title("where membership is uncertain", fontsize=9)
    subset = ""
    if len(shown) < len(X):
        subset = f" (a random {max_points} of the {len(X)} rows"
        subset += f", and the {len(top)} that disagree most)" if top else ")"
    fig.suptitle(f"Membership: EM MAP against the posterior{subset}", fontsize=11)
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
            marginals(
                comp,
                draws,
                group,
                vb=getattr(analysis, "vb", None),
                prior=getattr(analysis, "prior", None),
            ),
        )
    yield "membership.png", membership(X, comp, analysis.data_rows())
    yield "posterior_pairs.png", posterior_pairs(comp, draws)
    yield "posterior_correlation.png", posterior_correlation(comp, draws)
    if d >= 2:
        seed = getattr(analysis.settings, "seed", 0) or 0
        yield "predictive_checks.png", predictive_checks(X, comp, draws, seed=seed)
        yield "predictive_density.png", predictive_density(X, comp, draws)
    sensitivity = getattr(analysis, "sensitivity", None)
    if sensitivity is not None:
        from latentmix.report.sensitivity import sensitivity_figure

        yield "sensitivity.png", sensitivity_figure(sensitivity)
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
        ax.hist(
            post, bins=bins, density=True, color=POSTERIOR_COLOR, alpha=0.45,
            histtype="stepfilled",
        )  # fmt: skip
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
