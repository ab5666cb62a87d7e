"""Wald (MLE) and Laplace (MAP) intervals beside the posterior interval, and how they agree.

Both come from the curvature of the EM objective at one point (:mod:`latentmix.em.intervals`)
and are vectors over the natural-scale parameters; each table entry finds its value by its
``column``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from latentmix.comparison.results import IntervalAgreement, ParameterTable

#: The approximate interval sources, in the order the agreement rows list them.
SOURCES = ("wald", "laplace")
# The Wald spread is a standard error, the Laplace one the sd of its draws.
_SPREAD = {"wald": "se", "laplace": "sd"}


def approximate_intervals(
    X, map_params, mle_params, prior, level, n_draws, random_state, sample_weight=None
):
    """Wald intervals of the MLE and Laplace intervals of the MAP, both in MAP order.

    A source that cannot be computed (no MLE, no prior, an information matrix that is not
    positive definite) gives None and, except for a missing MLE, a note for the report.
    With ``sample_weight`` both come from the curvature of the weighted objective.

    Returns
    -------
    wald, laplace : latentmix.em.intervals.Intervals or None
    notes : list of str
    """
    from latentmix.em import intervals

    notes = []

    def attempt(label, fn):
        try:
            return fn()
        except (ValueError, np.linalg.LinAlgError) as err:
            notes.append(f"No {label}: {err}")
            return None

    wald = None
    if mle_params is not None:
        wald = attempt(
            "Wald intervals for the MLE",
            lambda: intervals.standard_errors(
                mle_params, X, level=level, sample_weight=sample_weight
            ),
        )
    lap = None
    if prior is None:
        notes.append("No Laplace intervals for the MAP: no prior was given for it.")
    else:
        lap = attempt(
            "Laplace intervals for the MAP",
            lambda: intervals.laplace(
                map_params,
                X,
                prior=prior,
                level=level,
                n_draws=n_draws,
                random_state=random_state,
                sample_weight=sample_weight,
            ),
        )
    return wald, lap, notes


def derived_intervals(wald, lap, mle_params, map_params):
    """The Wald and Laplace intervals of the standard deviations and correlations.

    Wald on the log and Fisher z scales by the delta method, Laplace from its draws
    (:func:`latentmix.em.intervals.derived`); None where the source is None.
    """
    from latentmix.em.intervals import derived

    return (
        None if wald is None else derived(wald, mle_params),
        None if lap is None else derived(lap, map_params),
    )


def with_intervals(table: ParameterTable, wald, lap) -> ParameterTable:
    """The table with the Wald and Laplace fields of every entry filled where available.

    ``wald`` and ``lap`` are Intervals whose entries the table's ``column`` fields index:
    the natural-scale ones for the three groups, the derived ones for the standard
    deviations and correlations.
    """
    results = {source: r for source, r in zip(SOURCES, (wald, lap), strict=True) if r is not None}
    if not results:
        return table
    entries = []
    for e in table.entries:
        extra = {}
        for source, result in results.items():
            c = e.column
            extra[f"{source}_lower"] = float(result.lower[c])
            extra[f"{source}_upper"] = float(result.upper[c])
            extra[f"{source}_{_SPREAD[source]}"] = float(result.standard_error[c])
            if source == "wald" and result.scales:
                extra["wald_scale"] = result.scales[c]
        entries.append(replace(e, **extra))
    return replace(table, entries=tuple(entries))


def agreement(tables: dict) -> tuple:
    """:class:`IntervalAgreement` of each available source, per group and over all entries."""
    rows = []
    for source in SOURCES:
        per_group = {
            group: [e for e in t.entries if getattr(e, f"{source}_lower") is not None]
            for group, t in tables.items()
        }
        if not any(per_group.values()):
            continue
        per_group["all"] = [e for entries in per_group.values() for e in entries]
        for group, entries in per_group.items():
            if entries:
                rows.append(_agreement_row(source, group, entries))
    return tuple(rows)


def _agreement_row(source, group, entries) -> IntervalAgreement:
    lo = np.array([getattr(e, f"{source}_lower") for e in entries])
    hi = np.array([getattr(e, f"{source}_upper") for e in entries])
    post_lo = np.array([e.lower for e in entries])
    post_hi = np.array([e.upper for e in entries])
    sd = np.array([e.sd for e in entries])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (hi - lo) / (post_hi - post_lo)
        shift = np.maximum(np.abs(lo - post_lo), np.abs(hi - post_hi)) / sd
    return IntervalAgreement(
        source=source,
        parameter=group,
        n_entries=len(entries),
        width_ratio_median=float(np.median(ratio)),
        width_ratio_min=float(np.min(ratio)),
        width_ratio_max=float(np.max(ratio)),
        n_within_posterior=int(np.sum((post_lo <= lo) & (hi <= post_hi))),
        n_covers_posterior=int(np.sum((lo <= post_lo) & (post_hi <= hi))),
        max_endpoint_shift=float(np.max(shift)),
    )
