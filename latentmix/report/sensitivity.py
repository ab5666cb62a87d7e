r"""Prior sensitivity: the report's estimates under a weaker and a stronger prior.

The MAP (and VB, and on request the posterior) under priors twice as weak and twice as
strong as the report's.
"Twice as strong" and "twice as weak" scale the prior's worth in pseudo-observations by
``factor`` = 2 and 1/2 while keeping where it sits (notation of :mod:`latentmix.priors`):

* the mean precision :math:`\kappa \to f\kappa` (the prior mean :math:`m_0` stays);
* the degrees of freedom above their minimum,
  :math:`\nu \to \nu_{\min} + f(\nu - \nu_{\min})` with :math:`\nu_{\min} = d - 1` for the
  inverse-Wishart types (``full``, ``tied``) and 0 for the inverse-gamma ones, and the scale
  :math:`\Psi \to \Psi (\nu' + p + 1)/(\nu + p + 1)` (p = d for the inverse-Wishart, 1 for an
  inverse-gamma), so that the prior mode of every covariance, :math:`\Psi/(\nu + p + 1)`,
  stays where it was;
* the Dirichlet concentration above 1, :math:`\alpha \to 1 + f(\alpha - 1)` (the mode's
  pseudo-counts): a flat Dirichlet (the default) stays flat. A concentration below 1 is
  scaled itself, :math:`\alpha \to f\alpha`.

One extra EM fit per prior, always, started from the report's MAP (one start: the same mode
moved by the prior, not a new search); VB under each prior when the report has VB; the
posterior under each only when asked (``--sensitivity``), with the report's sampler settings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from latentmix.params import PARAMETER_NAMES, MixtureParams

#: The prior strengths compared, by name: factor on the prior's pseudo-observations.
FACTORS = {"weaker": 0.5, "default": 1.0, "stronger": 2.0}
#: Entries shown in the section's table: those whose MAP moves most.
N_TABLE_ROWS = 10


def scaled_prior(prior, factor: float, covariance_type: str):
    """The prior with ``factor`` times its pseudo-observations, its location kept.

    Parameters
    ----------
    prior : ConjugatePrior
    factor : float
        > 0; 2 is "twice as strong", 0.5 "twice as weak" (see the module docstring).
    covariance_type : str

    Returns
    -------
    ConjugatePrior
    """
    from latentmix.priors import ConjugatePrior

    if not factor > 0:
        raise ValueError(f"a prior's strength factor must be positive; got {factor!r}.")
    d = prior.mean.size
    wishart = covariance_type in ("full", "tied")
    nu_min, p = (d - 1.0, d) if wishart else (0.0, 1)
    nu = prior.degrees_of_freedom
    nu_new = nu_min + factor * (nu - nu_min)
    alpha = np.asarray(prior.weight_concentration, dtype=float)
    alpha_new = np.where(alpha >= 1.0, 1.0 + factor * (alpha - 1.0), factor * alpha)
    return ConjugatePrior(
        alpha_new if alpha_new.ndim else float(alpha_new),
        prior.mean,
        factor * prior.mean_precision,
        nu_new,
        prior.scale * (nu_new + p + 1.0) / (nu + p + 1.0),
    )


@dataclass(frozen=True)
class PriorSensitivity:
    """Estimates under the report's prior and under a weaker and a stronger one.

    Every array has one value per table entry (the order of ``labels``), components in the
    report MAP's order.

    Attributes
    ----------
    names : tuple of str
        ``("weaker", "default", "stronger")``, the keys of the dicts below.
    factors : tuple of float
    priors : dict of str to ConjugatePrior
    keys : tuple of (str, tuple of int)
        (group, index) of every entry.
    labels : tuple of str
    posterior_sd : ndarray of shape (m,)
        Of the report's posterior: the unit of the shifts.
    map : dict of str to ndarray of shape (m,)
    vb : dict of str to ndarray of shape (m,) or None
        Means of q.
    posterior_mean, posterior_lower, posterior_upper : dict of str to ndarray or None
        Only with ``--sensitivity`` (for "default": the report's posterior).
    level : float
    """

    names: tuple
    factors: tuple
    priors: dict
    keys: tuple
    labels: tuple
    posterior_sd: np.ndarray
    map: dict
    vb: dict | None = None
    posterior_mean: dict | None = None
    posterior_lower: dict | None = None
    posterior_upper: dict | None = None
    level: float = 0.95

    def shifts(self, estimate: str = "map") -> dict:
        """Move of an estimate from the default prior's, in posterior sds, per prior."""
        values = getattr(self, estimate if estimate != "posterior" else "posterior_mean")
        if values is None:
            return {}
        base = values["default"]
        return {
            name: (values[name] - base) / self.posterior_sd
            for name in self.names
            if name != "default"
        }

    def max_shift(self, estimate: str = "map") -> np.ndarray:
        """Largest absolute shift over the two other priors, per entry, shape (m,)."""
        shifts = self.shifts(estimate)
        return np.max(np.abs(np.stack(list(shifts.values()))), axis=0)

    def to_dict(self) -> dict:
        """JSON-ready: the priors, and every estimate per entry."""
        from latentmix.jsonio import to_jsonable

        def per_entry(values):
            return None if values is None else {n: values[n].tolist() for n in self.names}

        return to_jsonable(
            {
                "factors": dict(zip(self.names, self.factors, strict=True)),
                "priors": {n: p.to_dict() for n, p in self.priors.items()},
                "entries": [
                    {"parameter": g, "index": list(i), "label": label}
                    for (g, i), label in zip(self.keys, self.labels, strict=True)
                ],
                "posterior_sd": self.posterior_sd.tolist(),
                "map": per_entry(self.map),
                "vb": per_entry(self.vb),
                "posterior_mean": per_entry(self.posterior_mean),
                "posterior_lower": per_entry(self.posterior_lower),
                "posterior_upper": per_entry(self.posterior_upper),
                "level": self.level,
            }
        )


def entry_values(params: MixtureParams, keys) -> np.ndarray:
    """The value of every (group, index) entry of a mixture, shape (m,)."""
    return np.array([float(np.asarray(params[PARAMETER_NAMES.index(g)])[i]) for g, i in keys])


def _map_fit(X, settings, prior, start, sample_weight):
    from latentmix.estimator import EMGaussianMixture
    from latentmix.matching import align

    model = EMGaussianMixture(
        settings.n_components,
        covariance_type=settings.covariance_type,
        prior=prior,
        n_init=1,
        init=start,
        random_state=settings.seed,
        missing=settings.missing,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(X, sample_weight=sample_weight)
    return align(model.params_, start)


def _posterior_summary(X, settings, prior, reference, keys, feature_names, sample_weight):
    """Mean and equal-tailed interval per entry of the posterior under ``prior``."""
    from latentmix.bayes.diagnostics import SamplingWarning
    from latentmix.bayes.estimator import PyMCGaussianMixture
    from latentmix.comparison import posterior_draws

    s = settings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        model = PyMCGaussianMixture(
            s.n_components, covariance_type=s.covariance_type, prior=prior, missing=s.missing
        )
        model.fit(
            X, draws=s.draws, tune=s.tune, chains=s.chains, random_state=s.seed,
            sampler=s.sampler, reference=reference, feature_names=list(feature_names),
            sample_weight=sample_weight,
        )  # fmt: skip
    draws = posterior_draws(model.idata_, s.covariance_type)
    tail = (1 - s.level) / 2
    samples = np.stack(
        [
            np.asarray(draws[PARAMETER_NAMES.index(g)])[(slice(None), slice(None), *i)].ravel()
            for g, i in keys
        ]
    )
    lower, upper = np.quantile(samples, [tail, 1 - tail], axis=1)
    return samples.mean(axis=1), lower, upper


def prior_sensitivity(
    X, settings, prior, em_map, comparison, *, vb=None, sample_weight=None, posterior=False,
    progress=None, posterior_rows=None,
) -> PriorSensitivity:  # fmt: skip
    """The report's estimates under a weaker and a stronger prior (:data:`FACTORS`).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The fitted rows.
    settings : ReportSettings
        Checked (seed resolved).
    prior : ConjugatePrior
        The report's prior.
    em_map : MixtureParams
        The report's MAP: the start of the other two fits and the component order.
    comparison : Comparison
        For the entries and the posterior sd (the unit of the shifts) and the default
        posterior.
    vb : latentmix.report.vb.VBResult, optional
        The report's VB: when given, VB is fitted under the other two priors too.
    sample_weight : ndarray of shape (n,), optional
    posterior : bool
        Sample the posterior under the other two priors (two more compiles and runs).
    progress : callable, optional
        Told what is being fitted.
    posterior_rows : ndarray of int, optional
        The rows of ``X`` the posteriors are sampled on (the report's ``--posterior-rows``
        subsample); None: every row.

    Returns
    -------
    PriorSensitivity
    """
    from latentmix.report.vb import fit_vb

    progress = progress or (lambda message: None)
    entries = [e for g in PARAMETER_NAMES for e in comparison.tables[g].entries]
    keys = tuple((e.parameter, tuple(e.index)) for e in entries)
    names = tuple(FACTORS)
    priors = {
        n: prior if f == 1.0 else scaled_prior(prior, f, settings.covariance_type)
        for n, f in FACTORS.items()
    }
    maps, vbs, fitted = {}, {} if vb is not None else None, {}
    for n in names:
        if n == "default":
            fitted[n] = em_map
        else:
            progress(f"prior sensitivity: EM MAP under the {n} prior ...")
            fitted[n] = _map_fit(X, settings, priors[n], em_map, sample_weight)
        maps[n] = entry_values(fitted[n], keys)
        if vb is not None:
            result = (
                vb if n == "default" else fit_vb(X, settings, priors[n], em_map, sample_weight)
            )
            vbs[n] = entry_values(result.mean, keys)
    sd = np.array([e.sd for e in entries])
    post = None
    if posterior:
        post = {"mean": {}, "lower": {}, "upper": {}}
        post["mean"]["default"] = np.array([e.mean for e in entries])
        post["lower"]["default"] = np.array([e.lower for e in entries])
        post["upper"]["default"] = np.array([e.upper for e in entries])
        for n in names:
            if n == "default":
                continue
            progress(f"prior sensitivity: sampling the posterior under the {n} prior ...")
            rows = slice(None) if posterior_rows is None else posterior_rows
            mean, lower, upper = _posterior_summary(
                X[rows], settings, priors[n], fitted[n], keys, comparison.feature_names,
                None if sample_weight is None else sample_weight[rows],
            )  # fmt: skip
            post["mean"][n], post["lower"][n], post["upper"][n] = mean, lower, upper
    return PriorSensitivity(
        names=names,
        factors=tuple(FACTORS.values()),
        priors=priors,
        keys=keys,
        labels=tuple(e.label for e in entries),
        posterior_sd=np.where(sd > 0, sd, np.nan),
        map=maps,
        vb=vbs,
        posterior_mean=None if post is None else post["mean"],
        posterior_lower=None if post is None else post["lower"],
        posterior_upper=None if post is None else post["upper"],
        level=comparison.level,
    )


# --- what the page shows --------------------------------------------------------------------


def sensitivity_context(sens: PriorSensitivity | None) -> dict | None:
    """The section's text and table (strings), or None without a sensitivity analysis."""
    from latentmix.pages import fmt

    if sens is None:
        return None
    shift = sens.max_shift("map")
    order = np.argsort(-np.nan_to_num(shift, nan=-1.0), kind="stable")[:N_TABLE_ROWS]
    has_vb, has_post = sens.vb is not None, sens.posterior_mean is not None
    rows = []
    for i in order:
        row = {
            "label": sens.labels[i],
            "map": [fmt(sens.map[n][i]) for n in sens.names],
            "shift": f"{shift[i]:.2f}",
        }
        if has_vb:
            row["vb"] = [fmt(sens.vb[n][i]) for n in sens.names]
        if has_post:
            row["posterior"] = [
                f"{fmt(sens.posterior_mean[n][i])} [{fmt(sens.posterior_lower[n][i])}, "
                f"{fmt(sens.posterior_upper[n][i])}]"
                for n in sens.names
            ]
        rows.append(row)
    strong, weak = sens.priors["stronger"], sens.priors["weaker"]
    default = sens.priors["default"]
    finite = shift[np.isfinite(shift)]
    return {
        "names": list(sens.names),
        "rows": rows,
        "n_entries": len(sens.labels),
        "n_shown": len(rows),
        "has_vb": has_vb,
        "has_posterior": has_post,
        "max_shift": f"{finite.max():.2f}" if finite.size else "—",
        "median_shift": f"{np.median(finite):.2f}" if finite.size else "—",
        "n_above_half": int(np.sum(finite > 0.5)),
        "hyper": [
            {
                "name": name,
                "values": [
                    fmt(np.asarray(getattr(p, name)).ravel()[0]) for p in (weak, default, strong)
                ],
            }
            for name in ("mean_precision", "degrees_of_freedom", "weight_concentration")
        ],
        "scale_ratio": [
            fmt(float(np.asarray(p.scale).ravel()[0] / np.asarray(default.scale).ravel()[0]))
            for p in (weak, default, strong)
        ],
    }


def sensitivity_figure(sens: PriorSensitivity):
    """How far each entry's estimates move when the prior is made weaker or stronger.

    One row per entry, in posterior sds of the report's posterior, each estimate from its
    own value under the report's prior (the blue line at 0): the MAP under the weaker
    (open) and the stronger (filled) prior, VB's mean the same way (green) where fitted,
    and the posterior mean (purple diamonds) where sampled; the intervals are in the
    section's table.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from latentmix.report.figures import MAP_STYLE, POSTERIOR_COLOR, VB_COLOR, _text

    m = len(sens.labels)
    fig = Figure(figsize=(7.5, 0.26 * m + 1.6), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(m)[::-1].astype(float)
    sd = sens.posterior_sd
    offsets = {"weaker": 0.16, "stronger": -0.16}
    others = [n for n in sens.names if n != "default"]
    if sens.posterior_mean is not None:
        base = sens.posterior_mean["default"]
        for n in others:
            ax.plot(
                (sens.posterior_mean[n] - base) / sd, y + offsets[n] - 0.07, "d",
                color=POSTERIOR_COLOR, markersize=4.5,
                markerfacecolor="none" if n == "weaker" else POSTERIOR_COLOR, linestyle="",
            )  # fmt: skip
    for estimate, color, dy0 in (("map", MAP_STYLE["color"], 0.0), ("vb", VB_COLOR, 0.07)):
        values = getattr(sens, estimate)
        if values is None:
            continue
        for n in others:
            ax.plot(
                (values[n] - values["default"]) / sd, y + offsets[n] + dy0, "o", color=color,
                markersize=4.5, markerfacecolor="none" if n == "weaker" else color,
                linestyle="",
            )  # fmt: skip
    ax.axvline(0, color=MAP_STYLE["color"], linewidth=1.2)
    ax.set_yticks(y, [_text(label) for label in sens.labels], fontsize=7)
    ax.set_ylim(-0.7, m - 0.3)
    ax.set_xlabel("move from the estimate under the report's prior, in posterior sds")
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    handles = [
        Line2D([], [], marker="o", markerfacecolor="none", color=MAP_STYLE["color"],
               linestyle="", label="MAP, prior twice as weak"),
        Line2D([], [], marker="o", color=MAP_STYLE["color"], linestyle="",
               label="MAP, prior twice as strong"),
    ]  # fmt: skip
    if sens.vb is not None:
        handles.append(
            Line2D([], [], marker="o", color=VB_COLOR, linestyle="",
                   label="VB mean (open: weaker, filled: stronger)")
        )  # fmt: skip
    if sens.posterior_mean is not None:
        handles.append(
            Line2D([], [], marker="d", color=POSTERIOR_COLOR, linestyle="",
                   label="posterior mean (open: weaker, filled: stronger)")
        )  # fmt: skip
    fig.legend(handles=handles, fontsize=7, frameon=False, loc="outside lower center", ncols=2)
    ax.set_title(
        "Prior sensitivity: estimates under a prior twice as weak and twice as strong",
        fontsize=10,
    )
    return fig
