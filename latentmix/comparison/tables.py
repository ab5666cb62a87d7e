"""Parameter tables: every free scalar with its point estimates and posterior summary.

Entries are identified by ``(group, index)``, the 0-based index into the group's array, as
:func:`latentmix.em.parameterisation.parameter_keys` lists them, and carry their position in
that list: their column in the natural-scale vector of the Wald and Laplace intervals. The
label is made from them for display and never read back.
"""

from __future__ import annotations

import numpy as np

from latentmix.bayes.spec import entry_label
from latentmix.comparison.results import Entry, ParameterTable
from latentmix.em.parameterisation import parameter_keys
from latentmix.params import PARAMETER_NAMES, MixtureParams


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


def parameter_tables(draws, map_params, mle_params, truth, names, level, diagnostics) -> dict:
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
    diagnostics : dict
        From :func:`latentmix.bayes.diagnostics.entry_diagnostics`.

    Returns
    -------
    dict of str to ParameterTable
        Keyed by :data:`latentmix.params.PARAMETER_NAMES`.
    """
    covariance_type = map_params.covariance_type
    K, d = map_params.means.shape
    tail = (1 - level) / 2
    points = {
        name: None if params is None else in_type(params, covariance_type)
        for name, params in (("map", map_params), ("mle", mle_params), ("truth", truth))
    }
    rows = {group: [] for group in PARAMETER_NAMES}
    for column, (group, index) in enumerate(parameter_keys(K, d, covariance_type)):
        g = PARAMETER_NAMES.index(group)
        samples = draws[g][(slice(None), slice(None), *index)].ravel()
        lower, median, upper = np.quantile(samples, [tail, 0.5, 1 - tail])
        point = {}
        for name, values in points.items():
            if values is None or values[g] is None:
                point[name] = (None, None, None)
                continue
            value = float(np.asarray(values[g])[index])
            point[name] = (value, quantile(samples, value), not lower <= value <= upper)
        diag = {
            key: float(np.asarray(diagnostics[key][group])[index])
            if diagnostics.get(key) is not None
            else float("nan")
            for key in ("r_hat", "ess_bulk", "ess_tail")
        }
        rows[group].append(
            Entry(
                parameter=group,
                index=tuple(int(i) for i in index),
                column=column,
                label=entry_label(group, covariance_type, index, names),
                mle=point["mle"][0],
                map=point["map"][0],
                mean=float(samples.mean()),
                median=float(median),
                sd=float(samples.std(ddof=1)) if samples.size > 1 else float("nan"),
                lower=float(lower),
                upper=float(upper),
                quantile_mle=point["mle"][1],
                quantile_map=point["map"][1],
                mle_outside=point["mle"][2],
                map_outside=point["map"][2],
                truth=point["truth"][0],
                quantile_truth=point["truth"][1],
                truth_outside=point["truth"][2],
                **diag,
            )
        )
    return {group: ParameterTable(group, tuple(rows[group]), level) for group in PARAMETER_NAMES}
