"""What the report's pages say: captions, headline, warnings, table rows, the template context.

Every function here turns an :class:`~latentmix.report.analysis.Analysis` into text and
numbers formatted for a person (components numbered from 1); user strings are left unescaped,
for the templates to escape. ``estimates.json`` is made elsewhere
(:mod:`latentmix.report.record`), from the unformatted numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from latentmix.comparison import PARETO_K_MAX
from latentmix.comparison.prior import N_PRIOR_DRAWS
from latentmix.pages import fmt
from latentmix.params import PARAMETER_NAMES
from latentmix.report.analysis import STAGES
from latentmix.report.labels import label_sentence
from latentmix.report.modes import SAME_PARTITION_ARI, modes_sentences, modes_warnings
from latentmix.report.record import package_versions, thresholds
from latentmix.report.sensitivity import sensitivity_context

# More relabelled draws than this fraction of all draws gets a line in the warning box.
RELABELLED_WARN_FRACTION = 0.10


def percent(level: float) -> str:
    """A level as people read it: 0.95 as "95%", 0.975 as "97.5%"."""
    return f"{100 * level:.4g}%"


# --- figures -------------------------------------------------------------------------------


def figure_captions(comparison, imputation=None, vb=False, sensitivity=False) -> dict:
    """Title and caption of every figure, keyed by its file name.

    Parameters
    ----------
    comparison : Comparison
    imputation : latentmix.report.imputation.Imputation, optional
        Adds the figure of the missing cells.
    vb : bool
        Whether the marginal figures draw the variational posterior.
    sensitivity : bool
        Adds the figure of the prior sensitivity.

    Returns
    -------
    dict of str to (str, str)
        Keys as :func:`latentmix.report.figures.draw_figures` names its figures.
    """
    level = percent(comparison.level)
    d = comparison.map.n_features
    out = {}
    if d == 1:
        out["data.png"] = (
            "The data and the fitted densities",
            "Histogram of the data (ticks: every observation) with the plug-in mixture "
            "densities of the MLE and the MAP and the posterior predictive density (mean over "
            f"draws) with its pointwise {level} band.",
        )
    elif d == 2:
        out["data.png"] = (
            "The data and the fitted components",
            "Points coloured by their most probable component under the MAP; 95% probability "
            "ellipses of each component for the MLE, the MAP, the truth where known, and 40 "
            "posterior draws.",
        )
    else:
        out["data.png"] = (
            "The data and the fitted components, pairwise",
            f"Pairs of the leading {min(d, 4)} of {d} features with the 95% ellipses of the "
            "marginal components (MLE, MAP, truth where known, 25 posterior draws).",
        )
    if imputation is not None:
        out["imputation.png"] = (
            "Missing cells: EM imputation against the posterior predictive",
            f"The {len(imputation.cells)} missing cells with the largest conditional sd under "
            "the EM MAP. Blue outline: the cell's conditional distribution given the row's "
            "observed cells at the MAP (a mixture over components), with its mean ± sd (blue "
            "dot and bar); purple: the posterior predictive of the cell, which also carries "
            f"the uncertainty of the parameters, with its central {level} interval (bar).",
        )
    laplace = (
        "; blue outline: histogram of draws from the Laplace approximation around the MAP"
        if comparison.laplace is not None
        else ""
    )
    wald = (
        f"; orange bar below: the {level} Wald interval of the MLE."
        if comparison.wald is not None
        else "."
    )
    vb_text = "; green outline: histogram of draws of the VB posterior q" if vb else ""
    for group in PARAMETER_NAMES:
        out[f"posterior_{group}.png"] = (
            f"Posterior of the {group}",
            "Posterior histogram of every entry (central 99% of the draws) with its "
            f"{level} equal-tailed interval (shaded) and the point estimates{laplace}{vb_text}"
            f"{wald} Grey dash-dot: the prior's marginal density of the entry, on the same "
            "scale (flat where the prior is weak). Each panel spans the posterior (its central "
            f"99%, at most a quarter of the {level} interval's width beyond it) and the point "
            "estimates, and its height the posterior histogram; the Laplace, VB and prior "
            "curves and the Wald bar are cut at the panel's edges (a Wald bar that goes on "
            "ends in a triangle).",
        )
    out["membership.png"] = (
        "Cluster membership",
        "Left: each point's EM responsibility at the MAP against its posterior membership "
        "probability (mean over draws, bar ± 1 sd); points on the diagonal agree, labelled "
        "points (row numbers, from 1) disagree most. Right: where in the data membership is "
        "uncertain.",
    )
    out["em_objective.png"] = (
        "EM objective by iteration",
        "For every restart, how far the objective (log-likelihood for the MLE, log-likelihood "
        "+ log-prior for the MAP) is below the best value found. Runs that flatten above the "
        "floor stopped at a worse local optimum.",
    )
    for group in PARAMETER_NAMES:
        out[f"trace_{group}.png"] = (
            f"Trace and rank plots: {group}",
            "Left: the draws of each chain after relabelling, the chains side by side (one "
            "colour each). Right: one band of bars per chain (chain 1 at the top), the "
            "histogram of the ranks of its draws among all draws; for well-mixed chains "
            "every band is flat around its dotted line.",
        )
    out["posterior_pairs.png"] = (
        "Posterior pairs of the leading entries",
        "The first mean coordinate of every component, the weights of components 1 to K - 1 "
        "and the first variance of every component (at most six entries): posterior draws "
        "of each pair (lower), the marginal histograms (diagonal) and the posterior "
        "correlations (upper); orange cross: MLE, blue plus: MAP.",
    )
    out["posterior_correlation.png"] = (
        "Posterior correlations of the parameters",
        "The correlation over posterior draws of every pair of table entries, lines between "
        "weights, means and covariances. Strong correlations are where a one-at-a-time "
        "reading of the tables misleads.",
    )
    if d >= 2:
        out["predictive_checks.png"] = (
            "Posterior predictive checks",
            "Data sets of the same size replicated from 200 posterior draws: the distribution "
            "of a statistic over them (purple) against its value in the data (black), and the "
            "posterior predictive p-value P(T_rep ≥ T_obs); values near 0 or 1 show what the "
            "mixture does not reproduce. Statistics: each feature's sd (up to four), the "
            "first correlations, and the largest squared Mahalanobis distance of a row from "
            "the data's mean (the tails). Rows with a missing cell are left out; weights are "
            "not used.",
        )
        out["predictive_density.png"] = (
            "Posterior predictive density",
            "Contours of the posterior predictive density of the first two features (the "
            "mean over 200 draws of the mixture's marginal density) over the data, at the "
            "levels enclosing 25%, 50%, 75%, 90% and 99% of its mass.",
        )
    if sensitivity:
        out["sensitivity.png"] = (
            "Prior sensitivity",
            "How far each entry's estimates move, in posterior sds, from their values under "
            "the report's prior (blue line) when the prior is twice as weak (open) or twice as "
            "strong (filled): the MAP (blue), VB's mean (green) and, where sampled "
            "(--sensitivity), the posterior mean (purple; its intervals are in the table).",
        )
    return out


# --- the sentences -------------------------------------------------------------------------


def warnings_list(analysis) -> list[str]:
    """Plain-language warnings for the box at the top of the report (empty if all is well).

    The sampler's own problems (R-hat, ESS, divergences, E-BFMI; see
    :mod:`latentmix.bayes.diagnostics`) come first, then those of this comparison.
    """
    diag = analysis.diagnostics
    pred = analysis.comparison.predictive
    out = list(diag["problems"])
    rows = getattr(analysis, "posterior_rows", None)
    if rows is not None:
        n, m = len(analysis.X), len(rows)
        out.append(
            f"The posterior was sampled on a random subsample of {m} of the {n} rows "
            f"(--posterior-rows {m}); EM, VB, the Wald and Laplace intervals and the "
            f"comparison use every row. Its sds are about sqrt(n / m) = {np.sqrt(n / m):.1f} "
            "times those of the posterior of all the rows, so its intervals are wider than "
            "these data warrant, and the estimates fall inside them more easily. In its "
            "predictive score the other rows count as held out (their exact log predictive "
            "density)."
        )
    n_total = max(1, diag["n_chains"] * diag["n_draws"])
    # Switches within chains, not chains relabelled as a whole (a chain that sampled a
    # relabelled copy of the mode is as good as any). None: draws never relabelled.
    n_switched = diag["n_switched"]
    if (n_switched or 0) > RELABELLED_WARN_FRACTION * n_total:
        out.append(
            f"{n_switched} of {n_total} draws had their labels switched within their chain "
            "and were relabelled: the components overlap or swap often, so component-wise "
            "summaries are fragile."
        )
    if pred.pareto_k_bad:
        out.append(
            f"PSIS-LOO is unreliable at {pred.pareto_k_bad} point(s) (Pareto k above "
            f"{PARETO_K_MAX}, largest {pred.pareto_k_max:.2f}); trust the held-out "
            "comparison (--test-fraction) more."
        )
    out += list(getattr(analysis, "data_warnings", []))
    if analysis.mle_error:
        out.append(f"There is no MLE: {analysis.mle_error}")
    # Warnings EM raised (ConvergenceWarning and the like), once each.
    out += list(dict.fromkeys(analysis.em_warnings))
    # Wald or Laplace intervals that could not be computed, and why.
    out += list(dict.fromkeys(analysis.comparison.warnings))
    if getattr(analysis, "modes", None) is not None:
        out += modes_warnings(analysis.modes)
    return out


def headline(analysis) -> list[str]:
    """A few sentences that say what the tables show."""
    comp = analysis.comparison
    level = percent(comp.level)
    lines = []
    total = sum(len(t.entries) for t in comp.tables.values())
    out_map = sum(t.n_outside["map"] for t in comp.tables.values())
    lines.append(
        f"The MAP lies outside the posterior's {level} interval for {out_map} of "
        f"{total} parameter entries."
    )
    if comp.mle is not None:
        out_mle = sum(t.n_outside["mle"] for t in comp.tables.values())
        lines.append(f"The MLE lies outside it for {out_mle} of {total}.")
    if comp.truth is not None:
        known = [e for t in comp.tables.values() for e in t.entries if e.truth is not None]
        out_truth = sum(bool(e.truth_outside) for e in known)
        lines.append(
            f"The true value lies outside the {level} interval for {out_truth} of "
            f"{len(known)} entries (about {percent(1 - comp.level)} would by chance alone)."
        )
    pred = comp.predictive
    lines.append(
        "Estimated out-of-sample log density: "
        + ", ".join(f"{r.estimate} {r.out_of_sample:.2f}" for r in pred.rows)
        + f"; {_paired_verdict(pred, 'out_of_sample')}."
    )
    if pred.n_test:
        lines.append(
            f"On the {pred.n_test} held-out rows the log density is "
            + ", ".join(f"{r.estimate} {r.held_out:.2f}" for r in pred.rows)
            + f"; {_paired_verdict(pred, 'held_out')}."
        )
    for source, what in (("laplace", "Laplace approximation around the MAP"),
                         ("wald", "Wald intervals of the MLE")):  # fmt: skip
        row = comp.agreement_row(source)
        if row is not None:
            lines.append(f"{what}: {_agreement_text(row)}.")
    if (line := vb_line(analysis)) is not None:
        lines.append(line)
    m = comp.membership
    lines.append(
        f"{m.n_label_changes} of {len(m.disagreement)} points change their most probable "
        f"component between the MAP and the posterior; the largest disagreement in membership "
        f"probability is {m.disagreement.max():.3f}."
    )
    return lines


def _paired_verdict(pred, on: str) -> str:
    """Which estimate scores highest, judged by the standard errors of paired differences.

    ``on`` is a column of the predictive table (``"out_of_sample"`` or ``"held_out"``). The
    highest total is set against each other estimate's with the standard error of their
    pointwise differences (:func:`latentmix.comparison.predictive.paired_se`), not the
    standard error of one total, which is far wider when the estimates score the same
    points alike.
    """
    best = max(pred.rows, key=lambda r: getattr(r, on))
    pairs = [pred.pair(best.estimate, r.estimate, on) for r in pred.rows if r is not best]
    pairs = [p for p in pairs if p is not None]
    if not pairs:
        return f"highest: {best.estimate}"
    close = [p for p in pairs if p.difference < p.se]
    if len(close) == len(pairs):
        return (
            "the differences are within one standard error of the paired differences ("
            + _pairs_text(pairs)
            + ")"
        )
    ahead = [p for p in pairs if p not in close]
    text = f"highest: {best.estimate}, ahead of {_pairs_text(ahead)}"
    if close:
        text += f", but within one standard error of {_pairs_text(close)}"
    return text


def _pairs_text(pairs) -> str:
    """Each PairedDifference as "MAP by 1.20 (paired se 0.45)", joined by "and"."""
    return " and ".join(f"{p.second} by {p.difference:.2f} (paired se {p.se:.2f})" for p in pairs)


def paired_rows(pred) -> list[dict]:
    """The rows of the page's table of paired differences, one per pair and column."""
    what = {"out_of_sample": "out-of-sample estimate", "held_out": "held out"}
    return [
        {
            "on": what[p.on],
            "pair": f"{p.first} \u2212 {p.second}",
            # Two decimals, as in the headline (a difference can run to thousands).
            "difference": fmt(p.difference, 2, fixed=True),
            "se": fmt(p.se, 2, fixed=True),
            "ratio": fmt(p.difference / p.se, 1, fixed=True) if p.se > 0 else "—",
            "n": p.n,
        }
        for p in pred.paired
    ]


def _agreement_text(row) -> str:
    """One clause on an IntervalAgreement: width against the posterior's, containment."""
    low, high = fmt(row.width_ratio_min, 3), fmt(row.width_ratio_max, 3)
    spread = "" if low == high else f"; {low} to {high}"
    return (
        f"width {fmt(row.width_ratio_median, 3)}\u00d7 the posterior interval's (median over "
        f"entries{spread}), inside the posterior interval for {row.n_within_posterior} of "
        f"{row.n_entries} entries, endpoints within {fmt(row.max_endpoint_shift, 2)} posterior "
        "sd of its endpoints"
    )


def data_notes(analysis) -> list[str]:
    """Sentences on the missing cells and the observation weights of the fitted rows."""
    X = analysis.X
    lines = []
    n_cells = int(np.isnan(X).sum())
    if n_cells:
        n_rows = int(np.isnan(X).any(axis=1).sum())
        counts = np.isnan(X).sum(axis=0)
        names = analysis.comparison.feature_names
        per_column = ", ".join(
            f"{name} {int(c)}" for name, c in zip(names, counts, strict=True) if c
        )
        lines.append(
            f"{n_cells} of {X.size} cells ({100 * n_cells / X.size:.1f}%) are missing, in "
            f"{n_rows} of {len(X)} rows ({per_column}); they are taken as missing at random: "
            "EM and the posterior use the marginal likelihood of each row's observed cells. "
            "The column summaries are over observed cells."
        )
    w = analysis.sample_weight
    if w is not None:
        column = getattr(analysis.dataset, "weights_column", None)
        where = f"column {column}" if column else "the data set"
        lines.append(
            f"Observation weights from {where} (total {fmt(w.sum())}, from {fmt(w.min())} to "
            f"{fmt(w.max())}; {int((w == 0).sum())} rows of weight 0) multiply each row's "
            "log-likelihood term in both EM fits, their Wald and Laplace intervals and the "
            "posterior (not the prior)."
        )
    return lines


def imputation_context(imp) -> dict | None:
    """The missing-cells section: counts and one row per shown cell (None: no cell missing)."""
    if imp is None:
        return None
    return {
        "n_cells": imp.n_cells,
        "n_rows": imp.n_rows,
        "n_total_cells": imp.n_total_cells,
        "n_total_rows": imp.n_total_rows,
        "percent_cells": f"{100 * imp.n_cells / imp.n_total_cells:.1f}%",
        "n_shown": len(imp.cells),
        "rows": [
            {
                "row": c.row + 1,
                "feature": c.feature,
                "em": f"{fmt(c.em_mean)} ± {fmt(c.em_sd, 3)}",
                "plug_in": f"[{fmt(c.plug_in_lower)}, {fmt(c.plug_in_upper)}]",
                "posterior": f"{fmt(c.mean)} ± {fmt(c.sd, 3)}",
                "interval": f"[{fmt(c.lower)}, {fmt(c.upper)}]",
                "ratio": fmt(c.sd_ratio, 3),
            }
            for c in imp.cells
        ],
    }


def _elbo_rows(analysis) -> list[dict]:
    """The VB row of the predictive table: its ELBO, which is a bound, not a density."""
    vb = getattr(analysis, "vb", None)
    if vb is None:
        return []
    return [
        {
            "estimate": "VB (ELBO)",
            "in_sample": sig(vb.elbo, 6),
            "out_of_sample": "—",
            "se": "—",
            "out_of_sample_estimator": "ELBO: a lower bound on log p(X) (the log marginal "
            "likelihood), not a predictive density; not comparable with the rows above",
            "held_out": "—",
        }
    ]


def vb_line(analysis) -> str | None:
    """The summary's sentence on VB's interval widths against the NUTS posterior's."""
    from latentmix.report.vb import width_ratios

    if getattr(analysis, "vb", None) is None:
        error = getattr(analysis, "vb_error", None)
        return None if error is None else f"No variational Bayes column: {error}"
    ratios = width_ratios(analysis.vb, analysis.comparison)
    if not ratios.size:
        return None
    level = percent(analysis.comparison.level)
    return (
        f"Mean-field variational Bayes: its {level} intervals are "
        f"{fmt(np.median(ratios), 3)} times as wide as the NUTS posterior's (median over "
        f"{ratios.size} entries; {fmt(ratios.min(), 3)} to {fmt(ratios.max(), 3)})."
    )


def predictive_note(analysis) -> str:
    """Why PSIS-LOO and the log densities are per row on weighted data ("" if unweighted)."""
    if analysis.sample_weight is None:
        return ""
    return (
        "Weights are not applied in this table: every log density, the plug-in AIC and "
        "PSIS-LOO are sums over rows, each row counted once (per row, unweighted). Leaving one "
        "weighted row out is not leaving out every copy of a repeated row, so a weighted "
        "PSIS-LOO would be a different quantity; the fits themselves are weighted."
    )


def model_lines(covariance_type: str) -> list[str]:
    """The model and prior in a few lines of notation."""
    common = [
        "x_i | z_i = k ~ Normal(means[k], covariances[k]),  z_i ~ Categorical(weights)",
        "weights ~ Dirichlet(α)",  # noqa: RUF001
    ]
    return (
        common
        + {
            "full": [
                "covariances[k] ~ InverseWishart(ν, Ψ)",  # noqa: RUF001
                "means[k] | covariances[k] ~ Normal(m₀, covariances[k] / κ)",
            ],
            "tied": [
                "covariances ~ InverseWishart(ν, Ψ), one matrix shared by all components",  # noqa: RUF001
                "means[k] | covariances ~ Normal(m₀, covariances / κ)",
            ],
            "diag": [
                "covariances[k, j] ~ InverseGamma(ν/2, Ψ_j/2)  (variance of feature j)",  # noqa: RUF001
                "means[k, j] | covariances[k, j] ~ Normal(m₀_j, covariances[k, j] / κ)",
            ],
            "spherical": [
                "covariances[k] ~ InverseGamma(ν/2, Ψ/2)  (one variance per component)",  # noqa: RUF001
                "means[k] | covariances[k] ~ Normal(m₀, covariances[k] I / κ)",
            ],
            "tied_diag": [
                "covariances[j] ~ InverseGamma(ν/2, Ψ_j/2)  (variance of feature j, shared by "  # noqa: RUF001
                "all components)",
                "means[k, j] | covariances[j] ~ Normal(m₀_j, covariances[j] / κ)",
            ],
            "tied_spherical": [
                "covariances ~ InverseGamma(ν/2, Ψ/2)  (one variance shared by every feature "  # noqa: RUF001
                "and component)",
                "means[k] | covariances ~ Normal(m₀, covariances I / κ)",
            ],
        }[covariance_type]
    )


# --- tables --------------------------------------------------------------------------------


def _vector(values, names=None) -> str:
    values = np.atleast_1d(np.asarray(values, float))
    if names is None:
        return "(" + ", ".join(fmt(v) for v in values) + ")"
    return "(" + ", ".join(f"{n}: {fmt(v)}" for n, v in zip(names, values, strict=True)) + ")"


def _matrix(values, names) -> dict:
    return {
        "names": list(names),
        "rows": [
            {"name": n, "cells": [fmt(v) for v in row]}
            for n, row in zip(names, np.atleast_2d(values), strict=True)
        ],
    }


def sig(value, digits: int = 4) -> str:
    """A number with exactly ``digits`` significant digits, trailing zeros kept.

    One column of a table then reads alike: -1130.2640 beside -1157.1651, not -1130.264
    (``%g`` drops the zeros). An em dash for None, NaN and infinities.

    Examples
    --------
    >>> sig(-1130.264, 8), sig(0.5, 3), sig(1234.0, 4), sig(None)
    ('-1130.2640', '0.500', '1234', '—')
    """
    if value is None or not np.isfinite(value):
        return "—"
    text = f"{float(value):#.{digits}g}"
    mantissa, e, exponent = text.partition("e")
    return mantissa.rstrip(".") + e + exponent


def count(value) -> str:
    """A count-like estimate (an ESS) as a whole number; an em dash when missing."""
    return "—" if value is None or not np.isfinite(value) else str(round(value))


def interval_cell(lower, upper) -> str:
    """An interval as one table cell, ``[lower, upper]``; an em dash when missing.

    Three significant digits: the Monte Carlo error of a 2.5% quantile of a few thousand draws
    is a few hundredths of a standard deviation, so a fourth digit is mostly noise, and the
    parameter tables hold three intervals per row.
    """
    if lower is None or upper is None:
        return "—"
    return f"[{sig(lower, 3)}, {sig(upper, 3)}]"


def _vb_cells(vb, entry) -> dict:
    """The VB mean and interval cells of one entry.

    Dashes without VB, and for the standard deviations and correlations, which VB's column
    does not carry.
    """
    if vb is None or entry.parameter not in PARAMETER_NAMES:
        return {"vb_mean": "—", "vb": "—"}
    mean, lo, hi = vb.entry(entry)
    return {"vb_mean": sig(mean), "vb": interval_cell(lo, hi)}


def _prior_sd_cell(value) -> str:
    if value is None:
        return "—"
    return "∞" if np.isinf(value) else sig(value, 3)


def table_rows(table, r_hat_threshold: float, vb=None) -> list[dict]:
    """The rows of one parameter table as page cells, each column to the same precision.

    Point estimates, means and medians to 4 significant digits, sds, intervals, MCSEs and
    contractions to 3, quantiles and R-hat to 3 decimals, ESS as whole numbers.
    """
    rows = []
    for e in table.entries:
        rows.append(
            {
                "label": e.label,
                "truth": sig(e.truth),
                "truth_outside": bool(e.truth_outside),
                "mle": sig(e.mle),
                "map": sig(e.map),
                "mean": sig(e.mean),
                "median": sig(e.median),
                "sd": sig(e.sd, 3),
                "prior_sd": _prior_sd_cell(e.prior_sd),
                "contraction": sig(e.contraction, 3),
                "mcse_mean": sig(e.mcse_mean, 2),
                "mcse_ends": "—"
                if not np.isfinite(e.mcse_lower)
                else f"{sig(e.mcse_lower, 2)}, {sig(e.mcse_upper, 2)}",
                "interval": interval_cell(e.lower, e.upper),
                "wald": interval_cell(e.wald_lower, e.wald_upper),
                "laplace": interval_cell(e.laplace_lower, e.laplace_upper),
                **_vb_cells(vb, e),
                "q_mle": "—" if e.quantile_mle is None else f"{e.quantile_mle:.3f}",
                "q_map": "—" if e.quantile_map is None else f"{e.quantile_map:.3f}",
                "mle_outside": bool(e.mle_outside),
                "map_outside": bool(e.map_outside),
                "r_hat": f"{e.r_hat:.3f}" if np.isfinite(e.r_hat) else "—",
                "ess_bulk": count(e.ess_bulk),
                "r_hat_bad": not e.r_hat <= r_hat_threshold,
            }
        )
    return rows


# The scale of each kind of Wald interval, as a table header says it.
_SCALE_TEXT = {
    "logit": "logit scale",
    "log": "log scale",
    "fisher_z": "Fisher z scale",
}

#: q(MAP) this far from 0.5 (below 0.2 or above 0.8) gets a sentence under its table.
FAR_QUANTILE = 0.3

# What each table is called on the page.
TABLE_TITLES = {
    "weights": "weights",
    "means": "means",
    "covariances": "covariances",
    "standard_deviations": "standard deviations",
    "correlations": "correlations",
}


def wald_header(table) -> str:
    """The Wald column's header: the scale its intervals were computed on.

    For example ``Wald (MLE), logit scale`` for the weights and ``Wald (MLE), log scale
    for variances`` for full covariances, whose off-diagonal entries have no bound.
    """
    scales = {e.wald_scale for e in table.entries if e.wald_scale is not None}
    linked = sorted(scales - {"identity"})
    if not linked:
        return "Wald (MLE)"
    text = ", ".join(_SCALE_TEXT[s] for s in linked)
    if "identity" in scales and table.parameter == "covariances":
        text += " for variances"
    return f"Wald (MLE), {text}"


def map_position_notes(table) -> list[str]:
    """Sentences on the entries whose q(MAP) is far from 0.5, and why the MAP sits there.

    Where the posterior is skewed the way q(MAP) says (right-skewed, mean above median, and
    q(MAP) below 0.5), the MAP is where a mode should be: the mode of a right-skewed
    posterior lies below its median. Otherwise the bulk of the posterior is away from the
    MAP's peak. Either way the MAP is a mode of the density in one parameterisation (the
    covariances, the weights); a standard deviation's or a log-variance's mode is elsewhere.
    """
    skewed, away = [], []
    for e in table.entries:
        q = e.quantile_map
        if q is None or abs(q - 0.5) < FAR_QUANTILE:
            continue
        cell = f"{e.label} (q(MAP) {q:.3f})"
        right = e.mean > e.median
        (skewed if right == (q < 0.5) else away).append(cell)
    notes = []
    if skewed:
        notes.append(
            f"{', '.join(skewed)}: the posterior is skewed, and the mode of a skewed "
            "posterior lies on the other side of its median from the long tail: below the "
            "median for a right-skewed one (variances, small weights), above it for a "
            "left-skewed one. The MAP is that mode, of the density of these parameters; it "
            "depends on the parameterisation (the mode of a log-variance or of a standard "
            "deviation lies elsewhere), the median does not."
        )
    if away:
        notes.append(
            f"{', '.join(away)}: not what the skew of the posterior explains: the bulk of the "
            "posterior lies away from the MAP's peak (the prior's pull on a small component, "
            "or draws of another mode)."
        )
    return notes


def table_notes(comparison, group: str, table) -> list[str]:
    """The sentences under one parameter table: what it leaves out, contraction, the MAP."""
    K = comparison.map.n_components
    notes = []
    if group == "weights":
        notes.append(
            f"{K - 1} free weights shown: weights[{K}] is 1 minus the others, so its row would "
            "repeat theirs (its posterior is that of their sum)."
        )
    if group in ("standard_deviations", "correlations"):
        notes.append(
            "Computed from the covariances of every draw, of the MLE and of the MAP (the MAP "
            "column is the MAP's covariances' value, not the mode of this quantity's "
            "posterior). Wald: delta method on the log scale (standard deviations) or the "
            "Fisher z scale (correlations), mapped back."
        )
    if any(e.prior_sd is not None and np.isinf(e.prior_sd) for e in table.entries):
        notes.append(
            "The prior has no finite sd for some of these entries (∞: the inverse-Wishart or "
            "inverse-gamma tail is too heavy for a variance), so their contraction is not "
            "defined; the standard deviations and correlations have one."
        )
    return notes + map_position_notes(table)


def table_contexts(comparison, r_hat_threshold: float, vb=None) -> list[dict]:
    """Every parameter table of the page: the three groups, then sds and correlations."""
    from latentmix.em.derived import DERIVED_NAMES

    out = []
    for group in (*PARAMETER_NAMES, *DERIVED_NAMES):
        table = comparison.tables.get(group) or comparison.derived.get(group)
        if table is None or not table.entries:
            continue
        out.append(
            {
                "group": TABLE_TITLES[group],
                "rows": table_rows(table, r_hat_threshold, vb),
                "n_outside": table.n_outside,
                "wald_header": wald_header(table),
                "notes": table_notes(comparison, group, table),
                "agreement": [
                    f"{what} {_agreement_text(row)}"
                    for source, what in (("laplace", "Laplace (MAP):"), ("wald", "Wald (MLE):"))
                    if (row := comparison.agreement_row(source, group)) is not None
                ],
            }
        )
    return out


def order_text(comparison) -> str:
    """How the components are ordered, for the page."""
    from latentmix.comparison.order import ORDER_TEXT

    return ORDER_TEXT.get(comparison.order, comparison.order)


def timing_rows(timings: dict) -> list[dict]:
    """Wall seconds by stage, with a total."""
    rows = [{"stage": STAGES.get(k, k), "seconds": f"{v:.1f}"} for k, v in timings.items()]
    rows.append({"stage": "total", "seconds": f"{sum(timings.values()):.1f}"})
    return rows


def _prior_rows(prior, K, names):
    """The hyperparameters as rows, and the scale matrix when it is one."""
    scale = np.asarray(prior.scale, float)
    hyper = [
        {"symbol": "α", "name": "weight_concentration",  # noqa: RUF001
         "value": _vector(prior.concentration(K))},
        {"symbol": "m₀", "name": "mean", "value": _vector(prior.mean, names)},
        {"symbol": "κ", "name": "mean_precision", "value": fmt(prior.mean_precision)},
        {"symbol": "ν", "name": "degrees_of_freedom", "value": fmt(prior.degrees_of_freedom)},  # noqa: RUF001
    ]  # fmt: skip
    if scale.ndim == 2:
        hyper.append({"symbol": "Ψ", "name": "scale", "value": "the matrix below"})
        return hyper, _matrix(scale, names)
    hyper.append(
        {"symbol": "Ψ", "name": "scale",
         "value": _vector(scale, names if scale.ndim == 1 else None)}
    )  # fmt: skip
    return hyper, None


def _membership_rows(analysis, m) -> list[dict]:
    """The points where EM and the posterior disagree most, rows of the data set from 1."""
    data_rows = analysis.data_rows()
    return [
        {
            "row": int(data_rows[i]) + 1,
            "x": ", ".join(fmt(v) for v in analysis.X[i]),
            "map": ", ".join(f"{v:.3f}" for v in m.responsibilities_map[i]),
            "mle": "—"
            if m.responsibilities_mle is None
            else ", ".join(f"{v:.3f}" for v in m.responsibilities_mle[i]),
            "posterior": ", ".join(
                f"{a:.3f} ± {b:.3f}"
                for a, b in zip(m.posterior_mean[i], m.posterior_sd[i], strict=True)
            ),
            "disagreement": f"{m.disagreement[i]:.3f}",
        }
        for i in m.top
    ]


def report_context(analysis, figures: list[dict]) -> dict:
    """Everything the templates show, as strings and lists (user strings not yet escaped).

    Parameters
    ----------
    analysis : Analysis
    figures : list of dict
        ``file``, ``title``, ``caption`` (and for the HTML page ``data_uri``) of each figure,
        in page order.
    """
    from scipy.stats import norm

    comp = analysis.comparison
    ds = analysis.dataset
    s = analysis.settings
    names = list(comp.feature_names)
    K, d = comp.map.means.shape
    covariance_type = comp.covariance_type
    X = analysis.X
    diag = analysis.diagnostics
    limits = thresholds(s.chains)
    hyper, scale_matrix = _prior_rows(analysis.prior, K, names)
    pred = comp.predictive
    m = comp.membership
    level = percent(comp.level)
    modes = getattr(analysis, "modes", None)
    return {
        "title": f"{ds.name}: {K}-component Gaussian mixture, {covariance_type} covariances",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "headline": headline(analysis),
        "warnings": warnings_list(analysis),
        "modes": [] if modes is None else modes_sentences(modes),
        "modes_ari": SAME_PARTITION_ARI,
        "dataset": {
            "name": ds.name,
            "description": ds.description,
            "n": int(X.shape[0]),
            "n_test": 0 if analysis.X_test is None else int(analysis.X_test.shape[0]),
            "d": d,
            "columns": [
                {
                    "name": n,
                    # Over the observed cells of the column.
                    "mean": fmt(np.nanmean(X[:, j])),
                    "sd": fmt(np.nanstd(X[:, j], ddof=1) if len(X) > 1 else float("nan")),
                    "min": fmt(np.nanmin(X[:, j])),
                    "max": fmt(np.nanmax(X[:, j])),
                }
                for j, n in enumerate(names)
            ],
            "notes": data_notes(analysis),
        },
        "model": {
            "K": K,
            "covariance_type": covariance_type,
            "lines": model_lines(covariance_type),
            "hyper": hyper,
            "scale_matrix": scale_matrix,
            "prior_default": isinstance(s.prior, str),
        },
        "settings": {
            "draws": s.draws,
            "tune": s.tune,
            "chains": s.chains,
            "n_init": s.n_init,
            "sampler": s.sampler,
            "test_fraction": s.test_fraction,
            "posterior_rows": getattr(s, "posterior_rows", None),
        },
        "command": analysis.command,
        "seed": s.seed,
        "versions": package_versions(),
        "level": level,
        "has_mle": comp.mle is not None,
        "has_vb": getattr(analysis, "vb", None) is not None,
        "has_truth": comp.truth is not None,
        "approximations": {
            "z": f"{norm.ppf(0.5 + comp.level / 2):.3f}",
            "n_draws": 0 if comp.laplace is None else len(comp.laplace.draws),
        },
        "mle_error": analysis.mle_error,
        "em": [
            {
                "name": name,
                "objective": sig(model.objective_, 8),
                "log_likelihood": sig(model.log_likelihood_, 8),
                "log_prior": sig(model.log_prior_, 8),
                "n_iter": model.n_iter_,
                "converged": model.converged_,
                "restarts": len(model.restarts_),
            }
            for name, model in (("MLE", analysis.mle), ("MAP", analysis.map))
            if model is not None
        ],
        "tables": table_contexts(comp, limits["max_r_hat"], analysis.vb),
        "order": order_text(comp),
        "prior_draws": N_PRIOR_DRAWS,
        "has_prior_sd": any(
            e.prior_sd is not None for t in comp.tables.values() for e in t.entries
        ),
        "imputation": imputation_context(analysis.imputation),
        "predictive": {
            "weights_note": predictive_note(analysis),
            "rows": [
                {
                    "estimate": r.estimate,
                    "in_sample": sig(r.in_sample, 6),
                    "out_of_sample": sig(r.out_of_sample, 6),
                    "se": sig(r.out_of_sample_se, 3),
                    "out_of_sample_estimator": r.out_of_sample_estimator,
                    "held_out": sig(r.held_out, 6),
                }
                for r in pred.rows
            ]
            + _elbo_rows(analysis),
            "n_train": pred.n_train,
            "n_test": pred.n_test,
            "n_parameters": pred.n_parameters,
            "p_loo": fmt(pred.p_loo, 3),
            "pareto_k_bad": pred.pareto_k_bad,
            "pareto_k_largest": f"{pred.pareto_k_max:.2f}",
            "paired": paired_rows(pred),
        },
        "membership": {
            "n_label_changes": m.n_label_changes,
            "n": len(m.disagreement),
            "mean": f"{m.disagreement.mean():.4f}",
            "rows": _membership_rows(analysis, m),
            "names": ", ".join(names),
            "labels": label_sentence(analysis),
        },
        "sensitivity": sensitivity_context(getattr(analysis, "sensitivity", None)),
        "diagnostics": {
            "max_r_hat": sig(diag["max_r_hat"], 4),
            "min_ess_bulk": count(diag["min_ess_bulk"]),
            "min_ess_tail": count(diag["min_ess_tail"]),
            "min_ebfmi": fmt(min(diag["ebfmi"]), 3) if diag["ebfmi"] else "—",
            "n_divergent": diag["n_divergent"],
            "n_relabelled": fmt(diag["n_relabelled"]),
            "n_switched": fmt(diag["n_switched"]),
            "relabelling": fmt(diag["relabelling"]),
            "n_draws_total": diag["n_chains"] * diag["n_draws"],
            "thresholds": limits,
        },
        "figures": [dict(f) for f in figures],
        "timings": timing_rows(analysis.timings),
    }
