"""Parameter tables: every free scalar with its point estimates and posterior summary.

Entries are identified by ``(group, index)``, the 0-based index into the group's array, as
:func:`latentmix.em.parameterisation.parameter_keys` lists them, and carry their position in
that list: their column in the natural-scale vector of the Wald and Laplace intervals. The
label is made from them for display and never read back.

The weights table holds the K - 1 free weights: the last weight is one minus the others, so
its row (and its posterior) repeats what the others say. Beside the three groups,
:func:`derived_tables` gives the standard deviations and correlations of the covariances
(:mod:`latentmix.em.derived`), whose ``column`` is their position in the derived vector.

Every entry carries the Monte Carlo standard errors of its posterior mean and of the two
interval ends (ArviZ's ``mcse``), its prior sd (:mod:`latentmix.comparison.prior`) and the
contraction posterior sd / prior sd.
"""

from __future__ import annotations

import warnings

import numpy as np

from latentmix.bayes.spec import entry_label
from latentmix.comparison.prior import prior_sds
from latentmix.comparison.results import Entry, ParameterTable
from latentmix.em.derived import DERIVED_NAMES, derived_entries, derived_values
from latentmix.em.parameterisation import parameter_keys
from latentmix.params import PARAMETER_NAMES, MixtureParams

#: Fewer draws than this per chain (with one chain) give NaN diagnostics, as ArviZ needs.
_MIN_DRAWS = 8


def quantile(samples, value) -> float:
    """Posterior quantile of a value: fraction of draws below it, ties counted half."""
    return float(np.mean(samples < value) + 0.5 * np.mean(samples == value))


def in_type(params: MixtureParams, covariance_type: str) -> tuple:
    """Weights, means and covariances in the shape of ``covariance_type``.

    A truth of another covariance type is converted where that is exact: any type's
    variances to ``diag``; to ``tied`` or ``spherical`` only when the covariances are equal
    or isotropic, to ``tied_diag`` only when they are equal and diagonal, to
    ``tied_spherical`` only when they are equal and isotropic. Otherwise the covariances
    are None (no true value to show).
    """
    if params.covariance_type == covariance_type:
        return params[:3]
    full = params.full_covariances()
    d = params.n_features
    variances = np.diagonal(full, axis1=1, axis2=2)
    cov = None
    if covariance_type == "full":
        cov = full
    elif covariance_type == "diag":
        cov = variances.copy()
    elif covariance_type == "tied" and np.allclose(full, full[0]):
        cov = full[0]
    elif covariance_type == "spherical" and np.allclose(full, variances[:, :1, None] * np.eye(d)):
        cov = variances[:, 0].copy()
    elif covariance_type == "tied_diag" and np.allclose(full, np.diag(variances[0])):
        cov = variances[0].copy()
    elif covariance_type == "tied_spherical" and np.allclose(full, variances[0, 0] * np.eye(d)):
        cov = np.asarray(variances[0, 0])
    return params.weights, params.means, cov


def derived_label(group: str, covariance_type: str, index, feature_names) -> str:
    """How a page names a standard deviation or a correlation (components from 1).

    For example ``sd[1, eruptions]`` or ``correlation[2, eruptions, waiting]``; a shared
    covariance has no component (``sd[eruptions]``), a spherical one no feature
    (``sd[1]``, and ``sd`` for ``tied_spherical``).
    """
    names = feature_names
    parts = []
    if covariance_type in ("full", "diag", "spherical"):
        parts.append(str(index[0] + 1))
    if group == DERIVED_NAMES[0]:
        if covariance_type not in ("spherical", "tied_spherical"):
            parts.append(names[index[-1]])
        return f"sd[{', '.join(parts)}]" if parts else "sd"
    parts += [names[index[-2]], names[index[-1]]]
    return f"correlation[{', '.join(parts)}]"


def natural_draws_of(draws: MixtureParams, keys) -> np.ndarray:
    """The natural-scale vector of every posterior draw, shape (chain, draw, len(keys))."""
    return np.stack(
        [
            np.asarray(draws[PARAMETER_NAMES.index(group)])[(slice(None), slice(None), *index)]
            for group, index in keys
        ],
        axis=-1,
    )


def draw_summaries(samples, level: float) -> dict:
    """R-hat, ESS and Monte Carlo standard errors of every column of ``samples``.

    Parameters
    ----------
    samples : ndarray of shape (chain, draw, M)
    level : float
        The interval's probability: the MCSE of its two ends is of the quantiles
        ``(1 - level) / 2`` and ``(1 + level) / 2``.

    Returns
    -------
    dict of str to ndarray of shape (M,)
        ``r_hat``, ``ess_bulk``, ``ess_tail``, ``mcse_mean``, ``mcse_lower``, ``mcse_upper``
        (ArviZ's estimators); NaN when there are too few draws to estimate them.
    """
    import arviz as az

    C, S, M = samples.shape
    names = ("r_hat", "ess_bulk", "ess_tail", "mcse_mean", "mcse_lower", "mcse_upper")
    if M == 0 or (C < 2 and S < _MIN_DRAWS):
        return {name: np.full(M, np.nan) for name in names}
    data = az.convert_to_dataset({"x": samples})
    tail = (1 - level) / 2
    calls = {
        "r_hat": lambda: az.rhat(data),
        "ess_bulk": lambda: az.ess(data, method="bulk"),
        "ess_tail": lambda: az.ess(data, method="tail"),
        "mcse_mean": lambda: az.mcse(data, method="mean"),
        "mcse_lower": lambda: az.mcse(data, method="quantile", prob=tail),
        "mcse_upper": lambda: az.mcse(data, method="quantile", prob=1 - tail),
    }
    out = {}
    with warnings.catch_warnings():
        # ArviZ warns about too few draws/chains for its estimates; NaN says it in the table.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        for name, fn in calls.items():
            out[name] = np.asarray(fn()["x"].values, dtype=float).reshape(M)
    return out


def _entries(keys, columns, samples, points, labels, level, prior_sd) -> list:
    """One Entry per column of ``samples`` (chain, draw, M)."""
    tail = (1 - level) / 2
    summaries = draw_summaries(samples, level)
    flat = samples.reshape(-1, samples.shape[-1])
    out = []
    for m, (group, index) in enumerate(keys):
        s = flat[:, m]
        lower, median, upper = np.quantile(s, [tail, 0.5, 1 - tail])
        sd = float(s.std(ddof=1)) if s.size > 1 else float("nan")
        point = {}
        for name, values in points.items():
            value = None if values is None else values[m]
            if value is None or not np.isfinite(value):
                point[name] = (None, None, None)
            else:
                value = float(value)
                point[name] = (value, quantile(s, value), not lower <= value <= upper)
        psd = float(prior_sd[m])
        contraction = sd / psd if np.isfinite(psd) and psd > 0 else None
        out.append(
            Entry(
                parameter=group,
                index=tuple(int(i) for i in index),
                column=int(columns[m]),
                label=labels[m],
                mle=point["mle"][0],
                map=point["map"][0],
                mean=float(s.mean()),
                median=float(median),
                sd=sd,
                lower=float(lower),
                upper=float(upper),
                quantile_mle=point["mle"][1],
                quantile_map=point["map"][1],
                mle_outside=point["mle"][2],
                map_outside=point["map"][2],
                truth=point["truth"][0],
                quantile_truth=point["truth"][1],
                truth_outside=point["truth"][2],
                prior_sd=None if np.isnan(psd) else psd,
                contraction=contraction,
                **{name: float(v[m]) for name, v in summaries.items()},
            )
        )
    return out


def _natural_points(points: dict, keys) -> dict:
    """Each estimate's value of every key (None where the estimate has no such value)."""
    out = {}
    for name, values in points.items():
        if values is None:
            out[name] = None
            continue
        row = []
        for group, index in keys:
            g = PARAMETER_NAMES.index(group)
            row.append(None if values[g] is None else float(np.asarray(values[g])[index]))
        out[name] = row
    return out


def parameter_tables(draws, map_params, mle_params, truth, names, level, prior=None):
    """One :class:`ParameterTable` per group, without the Wald and Laplace fields.

    Parameters
    ----------
    draws : MixtureParams
        Posterior draws leading with (chain, draw) (:func:`~latentmix.comparison.posterior_draws`).
    map_params : MixtureParams
    mle_params, truth : MixtureParams or None
        In the MAP's component order.
    names : tuple of str
        Feature names, for labels.
    level : float
        Probability of the equal-tailed interval.
    prior : ConjugatePrior, optional
        For the prior sd and the contraction of every entry (None: no contraction).

    Returns
    -------
    tables : dict of str to ParameterTable
        Keyed by :data:`latentmix.params.PARAMETER_NAMES`; the weights table holds the
        K - 1 free weights.
    derived : dict of str to ParameterTable
        Keyed by :data:`latentmix.em.derived.DERIVED_NAMES` (no ``correlations`` for the
        diagonal and spherical types, or in one dimension).
    """
    covariance_type = map_params.covariance_type
    K, d = map_params.means.shape
    all_keys = parameter_keys(K, d, covariance_type)
    natural = natural_draws_of(draws, all_keys)
    values = {
        name: None if params is None else in_type(params, covariance_type)
        for name, params in (("map", map_params), ("mle", mle_params), ("truth", truth))
    }
    points = _natural_points(values, all_keys)
    # The last weight is 1 minus the others: its row would repeat theirs.
    free = [c for c, key in enumerate(all_keys) if key != ("weights", (K - 1,))]
    keys = [all_keys[c] for c in free]
    labels = [entry_label(g, covariance_type, i, names) for g, i in keys]
    entries = _entries(
        keys,
        free,
        natural[..., free],
        {n: None if p is None else [p[c] for c in free] for n, p in points.items()},
        labels,
        level,
        prior_sds(prior, K, covariance_type, keys),
    )
    tables = {
        group: ParameterTable(group, tuple(e for e in entries if e.parameter == group), level)
        for group in PARAMETER_NAMES
    }
    return tables, derived_tables(natural, points, covariance_type, K, d, names, level, prior)


def derived_tables(natural, points, covariance_type, K, d, names, level, prior=None) -> dict:
    """The standard deviations and correlations as ParameterTables.

    Parameters
    ----------
    natural : ndarray of shape (chain, draw, P)
        Natural-scale vectors of the posterior draws.
    points : dict of str to list or None
        ``map``, ``mle``, ``truth``: each estimate's natural-scale values (None entries
        where an estimate has no covariance value).
    covariance_type : str
    K, d : int
    names : tuple of str
    level : float
    prior : ConjugatePrior, optional

    Returns
    -------
    dict of str to ParameterTable
    """
    entries = derived_entries(K, d, covariance_type)
    if not entries:
        return {}
    keys = [(e.group, e.index) for e in entries]
    samples = derived_values(natural, entries)
    derived_points = {}
    for name, values in points.items():
        if values is None or any(values[c] is None for e in entries for c in e.columns):
            derived_points[name] = None
        else:
            derived_points[name] = list(derived_values(np.asarray(values, float), entries))
    rows = _entries(
        keys,
        range(len(entries)),
        samples,
        derived_points,
        [derived_label(g, covariance_type, i, names) for g, i in keys],
        level,
        prior_sds(prior, K, covariance_type, keys),
    )
    return {
        group: ParameterTable(group, tuple(e for e in rows if e.parameter == group), level)
        for group in DERIVED_NAMES
        if any(e.parameter == group for e in rows)
    }
