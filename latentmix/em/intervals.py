r"""Intervals for the natural-scale parameters: Wald, Laplace and bootstrap.

Called by the estimator's ``standard_errors``, ``laplace`` and ``bootstrap`` methods and by
the comparison and coverage layers. Everything here takes MixtureParams, data and a prior
(never an estimator); the bootstrap refits with :func:`latentmix.em.fit.run_em` started at
the estimate, and matches each refit to it with :func:`latentmix.matching.align`.

Natural-scale intervals
-----------------------
``standard_errors`` maps :math:`\operatorname{Cov}(\hat\theta) = I(\hat\theta)^{-1}` to the
weights, means and covariance entries by the delta method (analytic Jacobian) and gives Wald
intervals there. ``laplace`` treats :math:`\mathcal N(\hat\theta_{MAP}, I^{-1})` as an
approximate posterior in :math:`\theta` and pushes draws through to the natural scale, so its
intervals respect positivity. ``bootstrap`` refits on resampled or simulated data, or with
random observation weights (the weighted-likelihood bootstrap), matches the components of every
refit to the estimate by the package's one matching rule (:mod:`latentmix.matching`), and
reports percentile intervals.

Data with missing cells (NaN) or observation weights are taken everywhere: the curvature is
then that of the observed-data objective, by central differences
(:func:`latentmix.em.missing.observed_information`), and refits run EM on the observed cells.

Each result is an :class:`Intervals` whose entries are those of
:func:`latentmix.em.parameterisation.natural_vector`; ``keys`` gives each as
``(group, index)`` (0-based), ``names`` as display text.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import linalg, stats

from latentmix.em import missing
from latentmix.em.estep import DegenerateMixtureError
from latentmix.em.fit import EMOptions, run_em
from latentmix.em.information import observed_information
from latentmix.em.parameterisation import (
    natural_draws,
    natural_jacobian,
    natural_vector,
    parameter_keys,
    parameter_names,
    to_unconstrained,
)
from latentmix.matching import align
from latentmix.params import MixtureParams, check_params, sample_mixture
from latentmix.priors import ConjugatePrior
from latentmix.validation import check_data, check_random_state, check_sample_weight

#: The bootstrap's resampling schemes: rows, simulated data, random weights (mclust's "bs",
#: "pb" and "wlbs").
RESAMPLE = ("nonparametric", "parametric", "weighted")

#: Tolerance of each bootstrap refit (looser than a fit's: the replicate spread is far wider).
BOOTSTRAP_TOL = 1e-8

# --- results ---------------------------------------------------------------------------------


class Intervals(NamedTuple):
    """Point estimates and intervals for the natural-scale parameters.

    Attributes
    ----------
    names : list of str
        Display names, see :func:`~latentmix.em.parameterisation.parameter_names`.
    estimate : ndarray of shape (P,)
    standard_error : ndarray of shape (P,)
    lower, upper : ndarray of shape (P,)
    level : float
        The intervals' probability.
    source : str
        ``wald``, ``laplace``, ``bootstrap_nonparametric``, ``bootstrap_parametric`` (or
        ``posterior`` when another layer summarises posterior draws the same way).
    draws : ndarray of shape (B, P) or None
        Bootstrap replicates or Laplace draws, natural scale, components matched to the
        estimate.
    n_failed : int
        Bootstrap refits that failed (degenerate) and were left out of the intervals.
    covariance : ndarray of shape (p, p) or None
        Covariance in theta (Wald and Laplace).
    keys : tuple of (str, tuple of int)
        Each entry as ``(group, index)``, 0-based, see
        :func:`~latentmix.em.parameterisation.parameter_keys`: what code should carry.
    """

    names: list
    estimate: np.ndarray
    standard_error: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    source: str
    draws: np.ndarray | None = None
    n_failed: int = 0
    covariance: np.ndarray | None = None
    keys: tuple = ()

    def as_dict(self) -> dict:
        """Parameter name -> {estimate, standard_error, lower, upper}."""
        return {
            name: {
                "estimate": float(e),
                "standard_error": float(s),
                "lower": float(lo),
                "upper": float(hi),
            }
            for name, e, s, lo, hi in zip(
                self.names,
                self.estimate,
                self.standard_error,
                self.lower,
                self.upper,
                strict=True,
            )
        }


def _labels(params: MixtureParams):
    """(names, keys) of the natural-scale entries of ``params``."""
    shape = (params.n_components, params.n_features, params.covariance_type)
    return parameter_names(*shape), tuple(parameter_keys(*shape))


def _check(params, X, level, sample_weight=None):
    params = check_params(params)
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95); got {level!r}.")
    X = check_data(X, n_features=params.n_features, missing="ignore")
    w = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
    return params, X, w


def _information(X, params, prior, information="exact", sample_weight=None):
    """Observed information; by central differences for missing cells or weights."""
    if sample_weight is None and not np.isnan(X).any():
        return observed_information(X, params, prior, information)
    if information != "exact":
        raise ValueError(
            "information='opg' is for complete, unweighted data; use information='exact'."
        )
    return missing.observed_information(X, params, prior, sample_weight)


def _theta_covariance(information) -> np.ndarray:
    """Inverse of the information through its Cholesky factor."""
    try:
        chol = linalg.cho_factor(information, lower=True)
    except linalg.LinAlgError:
        eig = np.linalg.eigvalsh(information).min()
        raise ValueError(
            "the observed information is not positive definite (smallest eigenvalue "
            f"{eig:.3g}): the estimate is not a strict local maximum, or a parameter is not "
            "identified (an empty component, or too many components). Check converged_, "
            "use fewer components, or use bootstrap intervals."
        ) from None
    return linalg.cho_solve(chol, np.eye(information.shape[0]))


# --- Wald and Laplace --------------------------------------------------------------------------


def standard_errors(
    params: MixtureParams,
    X,
    *,
    prior: ConjugatePrior | None = None,
    level: float = 0.95,
    information: str = "exact",
    sample_weight=None,
) -> Intervals:
    r"""Standard errors and Wald intervals on the natural scale, by the delta method.

    Parameters
    ----------
    params : MixtureParams
        The estimate (MLE, or MAP under ``prior``).
    X : array-like of shape (n, d)
        The data the estimate was fitted on.
    prior : ConjugatePrior, optional
        The prior of a MAP estimate (None for the MLE): the curvature is then that of the
        log-posterior.
    level : float
        Interval probability, default 0.95.
    information : {"exact", "opg"}
        See :func:`latentmix.em.information.observed_information`. With missing cells or
        weights only ``"exact"`` (central differences of the observed-data objective).
    sample_weight : array-like of shape (n,), optional
        The observation weights of the fit.

    Returns
    -------
    Intervals
        ``estimate +- z * standard_error`` with ``standard_error`` the square root of the
        diagonal of :math:`J I^{-1} J^\top`.
    """
    params, X, w = _check(params, X, level, sample_weight)
    cov_theta = _theta_covariance(_information(X, params, prior, information, w))
    jac = natural_jacobian(params)
    var = np.einsum("ip,pq,iq->i", jac, cov_theta, jac)
    se = np.sqrt(np.maximum(var, 0.0))
    est = natural_vector(params)
    z = stats.norm.ppf(0.5 + level / 2)
    names, keys = _labels(params)
    return Intervals(
        names, est, se, est - z * se, est + z * se, level, "wald", None, 0, cov_theta, keys
    )


def laplace(
    params: MixtureParams,
    X,
    *,
    prior: ConjugatePrior | None = None,
    level: float = 0.95,
    n_draws: int = 4000,
    random_state=None,
    sample_weight=None,
) -> Intervals:
    """Laplace approximation to the posterior around the MAP.

    A normal distribution in theta, centred at the MAP with covariance the inverse of the
    exact log-posterior Hessian there, pushed to the natural scale by drawing from it. (The
    MAP maximises the density over the covariances, so the change-of-variables term of the
    theta density is left out: it is O(1) against the O(n) curvature.)

    Parameters
    ----------
    params : MixtureParams
        The MAP estimate under ``prior``.
    X : array-like of shape (n, d)
    prior : ConjugatePrior
        The prior of the MAP (required: without one there is no posterior to approximate).
    level : float
        Interval probability, default 0.95.
    n_draws : int
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState

    Returns
    -------
    Intervals
        ``estimate`` is the MAP, ``standard_error`` the draws' standard deviation,
        ``lower``/``upper`` equal-tailed quantiles of the draws.
    """
    if prior is None:
        raise ValueError(
            "the Laplace approximation needs a prior (it approximates a posterior); fit with "
            "prior='default' or pass prior=ConjugatePrior(...). For the MLE use "
            "standard_errors."
        )
    params, X, w = _check(params, X, level, sample_weight)
    rng = check_random_state(random_state)
    cov_theta = _theta_covariance(_information(X, params, prior, sample_weight=w))
    theta = to_unconstrained(params)
    chol = np.linalg.cholesky(cov_theta)
    z = rng.standard_normal((n_draws, theta.size))
    K, d, covariance_type = params.n_components, params.n_features, params.covariance_type
    draws = natural_draws(theta + z @ chol.T, K, d, covariance_type)
    tail = (1 - level) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
    names, keys = _labels(params)
    est = natural_vector(params)
    sd = draws.std(axis=0, ddof=1)
    return Intervals(names, est, sd, lower, upper, level, "laplace", draws, 0, cov_theta, keys)


# --- the bootstrap ---------------------------------------------------------------------------


def refit_from(
    params: MixtureParams, X, prior: ConjugatePrior | None = None, sample_weight=None
) -> MixtureParams:
    """One EM run on ``X`` started at ``params`` (the bootstrap's default refit).

    Parameters
    ----------
    params : MixtureParams
        The warm start (the estimate).
    X : ndarray of shape (n, d)
        NaN cells are missing (the observed-data likelihood is maximised).
    prior : ConjugatePrior or None
        None refits the MLE, a prior the MAP.
    sample_weight : ndarray of shape (n,), optional
        Observation weights.

    Returns
    -------
    MixtureParams

    Raises
    ------
    DegenerateMixtureError
        If the refit collapsed a component (MLE).
    """
    X = check_data(X, n_features=params.n_features, missing="ignore")
    data = X
    if sample_weight is not None or np.isnan(X).any():
        data = missing.observed_data(X, sample_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a slow replicate still counts; EM is monotone
        run = run_em(data, params, EMOptions(prior=prior, tol=BOOTSTRAP_TOL))
    if run.degenerate:
        raise DegenerateMixtureError(run.message)
    return run.params


def bootstrap(
    params: MixtureParams,
    X,
    *,
    prior: ConjugatePrior | None = None,
    resample: str = "nonparametric",
    n_boot: int = 200,
    level: float = 0.95,
    random_state=None,
    refit=None,
    sample_weight=None,
) -> Intervals:
    r"""Bootstrap intervals, replicates relabelled to the estimate (as mclust's MclustBootstrap).

    Parameters
    ----------
    params : MixtureParams
        The estimate.
    X : array-like of shape (n, d)
        The data it was fitted on.
    prior : ConjugatePrior, optional
        Refit as MAP under this prior (default: MLE).
    resample : {"nonparametric", "parametric", "weighted"}
        Resample the rows of X (mclust ``type="bs"``); simulate n rows from the fitted
        mixture (``"pb"``; the cells missing in X are deleted from the simulated rows too);
        or keep the rows and refit with random weights :math:`n \cdot \text{Dirichlet}(1,
        \dots, 1)` (the weighted-likelihood bootstrap of Newton & Raftery 1994, mclust
        ``type="wlbs"``, which draws Exp(1) weights; their scale does not change an MLE, and
        summing to n keeps a MAP's balance of data and prior). The weighted bootstrap never
        repeats or drops a row, so it works where a resample would lose a small component.
    n_boot : int
        Number of replicates.
    level : float
        Interval probability, default 0.95.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
    refit : callable, optional
        ``refit(X, sample_weight) -> MixtureParams``; by default :func:`refit_from` the
        estimate (a callable of ``X`` alone is called so when no weights are needed).
    sample_weight : array-like of shape (n,), optional
        The observation weights of the fit: resampled with their rows, or multiplied by the
        random weights.

    Returns
    -------
    Intervals
        Percentile intervals; ``standard_error`` is the replicates' standard deviation.
        Failed refits (degenerate or non-finite) are counted in ``n_failed``.
    """
    if resample not in RESAMPLE:
        raise ValueError(
            "resample must be 'nonparametric' or 'parametric' (resampled rows or simulated "
            f"data) or 'weighted' (random observation weights); got {resample!r}."
        )
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 2:
        raise ValueError(f"n_boot must be a whole number >= 2; got {n_boot!r}.")
    params, X, w = _check(params, X, level, sample_weight)
    rng = check_random_state(random_state)
    if refit is None:

        def refit(Xb, wb=None):
            return refit_from(params, Xb, prior, wb)

    n = X.shape[0]
    holes = np.isnan(X)
    draws, failed = [], 0
    for _ in range(n_boot):
        wb = w
        if resample == "nonparametric":
            rows = rng.integers(0, n, n)
            Xb = X[rows]
            wb = None if w is None else w[rows]
        elif resample == "parametric":
            Xb = sample_mixture(params, n, rng)[0]
            Xb[holes] = np.nan
        else:
            Xb = X
            wb = rng.dirichlet(np.ones(n)) * n
            wb = wb if w is None else wb * w
        try:
            vec = natural_vector(align(refit(Xb) if wb is None else refit(Xb, wb), params))
        except (ValueError, np.linalg.LinAlgError):
            failed += 1
            continue
        if not np.all(np.isfinite(vec)):
            failed += 1
            continue
        draws.append(vec)
    if len(draws) < 2:
        raise ValueError(
            f"{failed} of {n_boot} bootstrap refits failed; the fit is degenerate on resampled "
            "data. Use a prior (prior='default') or fewer components."
        )
    draws = np.array(draws)
    tail = (1 - level) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
    names, keys = _labels(params)
    return Intervals(
        names,
        natural_vector(params),
        draws.std(axis=0, ddof=1),
        lower,
        upper,
        level,
        f"bootstrap_{resample}",
        draws,
        failed,
        None,
        keys,
    )
