"""The model's specification without PyMC: names, dims, the prior argument, points.

Names shared by the PyMC model, the relabelling, the diagnostics and the reports.

Posterior variables (named by :data:`latentmix.params.PARAMETER_NAMES`) and their dims:

=================  ==================================================
``weights``        (component,)
``means``          (component, feature)
``covariances``    full (component, feature, feature_bis);
                   tied (feature, feature_bis);
                   diag (component, feature); spherical (component,);
                   tied_diag (feature,); tied_spherical () (0-d)
``x`` (observed)   (observation, feature)
=================  ==================================================

This module imports nothing heavy, so that code which only reads InferenceData need not
import PyMC.
"""

from __future__ import annotations

import numpy as np

from latentmix.params import (
    COVARIANCE_TYPES,
    MixtureParams,
    check_covariance_type,
    covariances_shape,
)
from latentmix.priors import ConjugatePrior

__all__ = [
    "COMPONENT",
    "FEATURE",
    "FEATURE_BIS",
    "OBSERVATION",
    "covariance_dims",
    "covariance_type_of",
    "entry_label",
    "params_from_point",
    "resolve_prior",
]

COMPONENT = "component"
FEATURE = "feature"
FEATURE_BIS = "feature_bis"
OBSERVATION = "observation"


def covariance_dims(covariance_type: str) -> tuple[str, ...]:
    """The dims of ``covariances`` (without chain and draw) for a covariance type."""
    return {
        "full": (COMPONENT, FEATURE, FEATURE_BIS),
        "tied": (FEATURE, FEATURE_BIS),
        "diag": (COMPONENT, FEATURE),
        "spherical": (COMPONENT,),
        "tied_diag": (FEATURE,),
        "tied_spherical": (),
    }[check_covariance_type(covariance_type)]


def covariance_type_of(dims) -> str | None:
    """The covariance type whose ``covariances`` have these dims (without chain and draw).

    None when the dims are no covariance type's (a posterior not written by this package).
    """
    dims = tuple(dims)
    for covariance_type in COVARIANCE_TYPES:
        if covariance_dims(covariance_type) == dims:
            return covariance_type
    return None


def entry_label(group: str, covariance_type: str, index, feature_names) -> str:
    """How a page or a message names one scalar: components counted from 1, features by name.

    Parameters
    ----------
    group : {"weights", "means", "covariances"}
    covariance_type : str
    index : tuple of int
        0-based index into the group's array (without chain and draw).
    feature_names : sequence of str

    Returns
    -------
    str
        For example ``means[1, eruptions]`` for ``("means", (0, 0))``; a shared covariance
        has no component: ``covariances[eruptions]`` (tied_diag), ``covariances``
        (tied_spherical).
    """
    names = feature_names
    if group == "weights":
        return f"weights[{index[0] + 1}]"
    if group == "means":
        return f"means[{index[0] + 1}, {names[index[1]]}]"
    if covariance_type == "full":
        k, i, j = index
        return f"covariances[{k + 1}, {names[i]}, {names[j]}]"
    if covariance_type == "tied":
        return f"covariances[{names[index[0]]}, {names[index[1]]}]"
    if covariance_type == "diag":
        return f"covariances[{index[0] + 1}, {names[index[1]]}]"
    if covariance_type == "tied_diag":
        return f"covariances[{names[index[0]]}]"
    if covariance_type == "tied_spherical":
        return "covariances"
    return f"covariances[{index[0] + 1}]"


def resolve_prior(
    X, n_components: int, covariance_type: str, prior, sample_weight=None
) -> ConjugatePrior:
    """Turn the ``prior`` argument into a checked :class:`ConjugatePrior`.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        NaN marks a missing cell.
    n_components : int
    covariance_type : str
    prior : "default" or ConjugatePrior
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    ConjugatePrior
        For ``"default"``, the prior :class:`~latentmix.EMGaussianMixture` builds from the
        same data: ``ConjugatePrior.default`` of complete unweighted data, and
        :func:`latentmix.em.missing.default_prior` (weighted moments, or one Gaussian fitted
        to the observed cells) with weights or missing cells.

    Raises
    ------
    ValueError
        For ``None`` (the mixture likelihood alone has no proper posterior), for anything
        that is not a ConjugatePrior, and for a prior that does not fit the data.
    """
    if prior is None:
        raise ValueError(
            "prior=None has no posterior: the mixture likelihood alone is unbounded (a "
            "component collapsing on one point) and invariant to relabelling, so with a flat "
            "prior the posterior is improper. Use prior='default' (data-scaled, Fraley & "
            "Raftery 2007) or pass a ConjugatePrior; EMGaussianMixture(prior=None) gives "
            "the MLE."
        )
    if isinstance(prior, str):
        if prior != "default":
            raise ValueError(f"prior must be 'default' or a ConjugatePrior; got {prior!r}.")
        if sample_weight is not None or np.isnan(X).any():
            from latentmix.em.missing import default_prior

            return default_prior(X, n_components, covariance_type, sample_weight)
        return ConjugatePrior.default(X, n_components, covariance_type)
    if not isinstance(prior, ConjugatePrior):
        raise ValueError(
            f"prior must be 'default' or a latentmix.ConjugatePrior; got {type(prior).__name__}."
        )
    prior.check(X.shape[1], n_components, covariance_type)
    return prior


def params_from_point(point: dict, covariance_type: str) -> MixtureParams:
    """:class:`MixtureParams` from a dict holding ``weights``, ``means``, ``covariances``."""
    means = np.asarray(point["means"], dtype=float)
    covariances = np.asarray(point["covariances"], dtype=float)
    K, d = means.shape
    covariances = covariances.reshape(covariances_shape(covariance_type, K, d))
    if covariance_type in ("full", "tied"):
        # Symmetrise round-off from L L^T.
        covariances = 0.5 * (covariances + np.swapaxes(covariances, -1, -2))
    return MixtureParams(
        np.asarray(point["weights"], dtype=float), means, covariances, covariance_type
    )
