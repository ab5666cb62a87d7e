r"""Spurious local maximisers: components that fit a handful of close points.

The likelihood of a mixture with component-specific covariances is unbounded (a component
shrinking onto one point sends it to infinity), and on the way there it has local maxima in
which one component sits on a few points lying close together, with a variance far below
the data's. Such an estimate describes those few points, not a cluster. McLachlan & Peel
(2000, *Finite Mixture Models*, §3.10, "Spurious local maximizers") characterise them as
components "containing a few data points either relatively close together or almost lying
in a lower-dimensional subspace", i.e. a small number of points and a relatively small
generalised variance, and propose checking a fit for them; Hathaway's (1985) constraint on
the ratios of the component variances (and a proper prior, whose MAP stays away from zero
variance, Fraley & Raftery 2007) rules them out by construction.

The rule here is that characterisation, made concrete with both conditions required:

* few points: the component's effective number of points :math:`N_k = w_k n` is below
  ``min_points_factor * (d + 1)`` (``d + 1`` points are the fewest that give a
  non-singular covariance in ``d`` dimensions; the default factor 2 allows a little more);
* a tiny spread: its generalised variance relative to the data's, in units of the data's
  per-feature standard deviations,
  :math:`r_k = \bigl(\det \Sigma_k / \prod_j s_j^2\bigr)^{1/d}` (the geometric mean of the
  eigenvalues of the scaled covariance), is below ``min_variance_ratio`` (default 1e-3: the
  component's spread is about 3% of the data's standard deviation or less).

On galaxies, for example, the MLE with K = 8 has a component on 3.1 effective points with
:math:`r = 3\times 10^{-5}` (flagged); the genuine three-galaxy cluster of K = 3 or 4 has
:math:`r \approx 10^{-2}` (not flagged), and no component of the default-prior MAP for K up
to 8 falls below :math:`3\times 10^{-3}`. Shared covariance types (tied, tied_diag,
tied_spherical) have a bounded likelihood, and no component can shrink alone: none is ever
flagged.
"""

from __future__ import annotations

import numpy as np

from latentmix.params import SHARED_TYPES, MixtureParams, full_covariances

#: Default factor of ``d + 1`` below which a component has few effective points.
MIN_POINTS_FACTOR = 2.0

#: Default relative generalised variance below which a component's spread is tiny.
MIN_VARIANCE_RATIO = 1e-3


class SpuriousSolutionWarning(UserWarning):
    """The estimate has a component on a few close points: a spurious local maximiser."""


def relative_generalised_variance(params: MixtureParams, feature_variance) -> np.ndarray:
    r"""Each component's generalised variance relative to the data's, shape (K,).

    :math:`r_k = \bigl(\det \Sigma_k / \prod_j s_j^2\bigr)^{1/d}` with the data's per-feature
    variances :math:`s_j^2`; computed from log-determinants, so it neither underflows nor
    depends on the units. 0 for a singular covariance.

    Parameters
    ----------
    params : MixtureParams
    feature_variance : ndarray of shape (d,)
        The data's per-feature variances (a zero variance counts as 1: a constant column
        says nothing about spread).
    """
    K, d = params.n_components, params.n_features
    scale = np.sqrt(np.where(np.asarray(feature_variance) > 0, feature_variance, 1.0))
    cov = full_covariances(params.covariances, params.covariance_type, K, d)
    scaled = cov / np.outer(scale, scale)
    sign, logdet = np.linalg.slogdet(scaled)
    return np.where(sign > 0, np.exp(logdet / d), 0.0)


def data_variances(X, sample_weight=None) -> np.ndarray:
    """Per-feature variances of in-memory data (divided by n), NaN cells left out, shape (d,).

    With ``sample_weight`` (shape (n,)) the weighted variances, so that integer weights
    give the variances of the rows repeated.
    """
    X = np.asarray(X, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    observed = ~np.isnan(X)
    weights = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    w = weights[:, None] * observed
    filled = np.where(observed, X, 0.0)
    total = np.maximum(w.sum(axis=0), np.finfo(float).tiny)
    mean = (w * filled).sum(axis=0) / total
    return (w * np.where(observed, filled - mean, 0.0) ** 2).sum(axis=0) / total


def spurious_components(
    params: MixtureParams,
    X=None,
    *,
    sample_weight=None,
    feature_variance=None,
    n_samples: float | None = None,
    min_points_factor: float = MIN_POINTS_FACTOR,
    min_variance_ratio: float = MIN_VARIANCE_RATIO,
) -> np.ndarray:
    """Indices of the components that look like a spurious local maximiser.

    A component is flagged when it has both few effective points and a tiny spread
    against the data's (the module docstring gives the rule and its source).

    Parameters
    ----------
    params : MixtureParams
        The estimate.
    X : ndarray of shape (n, d), optional
        The data it was fitted on; only its row count and per-feature variances are used
        (NaN cells are left out of the variances, :func:`data_variances`). Not needed
        when ``feature_variance`` and ``n_samples`` are given (data read block by block).
    sample_weight : ndarray of shape (n,), optional
        The fit's observation weights: the variances are weighted and ``n_samples`` is
        their sum.
    feature_variance : ndarray of shape (d,), optional
        The data's per-feature variances; computed from ``X`` if not given.
    n_samples : float, optional
        Rows behind the weights; ``len(X)`` (or the sum of ``sample_weight``) if not given.
    min_points_factor : float
        A component has few points when ``weights[k] * n_samples < min_points_factor *
        (d + 1)``.
    min_variance_ratio : float
        A component's spread is tiny when its relative generalised variance
        (:func:`relative_generalised_variance`) is below this.

    Returns
    -------
    ndarray of int
        0-based component indices, ascending; empty when none is flagged (always for the
        shared covariance types).
    """
    if params.covariance_type in SHARED_TYPES:
        return np.array([], dtype=int)
    if feature_variance is None or n_samples is None:
        if X is None:
            raise ValueError(
                "spurious_components needs the data X, or both feature_variance and n_samples."
            )
        if feature_variance is None:
            feature_variance = data_variances(X, sample_weight)
        if n_samples is None:
            n_samples = len(X) if sample_weight is None else float(np.sum(sample_weight))
    d = params.n_features
    few = np.asarray(params.weights) * n_samples < min_points_factor * (d + 1)
    tiny = relative_generalised_variance(params, feature_variance) < min_variance_ratio
    return np.flatnonzero(few & tiny)


def describe(params: MixtureParams, indices, n_samples: float, feature_variance) -> str:
    """One sentence per flagged component, components numbered from 1 (text, not data)."""
    ratio = relative_generalised_variance(params, feature_variance)
    parts = [
        f"component {k + 1} rests on {params.weights[k] * n_samples:.3g} effective points "
        f"with a generalised variance {ratio[k]:.2g} times the data's"
        for k in indices
    ]
    return "; ".join(parts)


def warning_message(
    params: MixtureParams, indices, n_samples: float, feature_variance, *, is_map: bool
) -> str:
    """The text of the :class:`SpuriousSolutionWarning` for an estimate, with the fix.

    ``is_map`` picks the advice: an MLE is pointed to the MAP (``prior='default'``), a MAP
    to a prior with a larger scale; both to fewer components.
    """
    fix = (
        "give the prior a larger scale or more degrees of freedom, or use fewer components"
        if is_map
        else "fit the MAP (prior='default', on the command line --prior default), whose "
        "prior keeps every variance away from zero, or use fewer components"
    )
    return (
        f"{describe(params, indices, n_samples, feature_variance)}: a spurious local "
        "maximiser of the likelihood (McLachlan & Peel 2000, section 3.10), which describes "
        f"those few points rather than a cluster, and whose Wald intervals are too narrow; {fix}."
    )
