r"""Intervals for the natural-scale parameters: Wald, Laplace and bootstrap.

Called by the estimator's ``standard_errors``, ``laplace`` and ``bootstrap`` methods and by
the comparison and coverage layers. Everything here takes MixtureParams, data and a prior
(never an estimator); the bootstrap refits with :func:`latentmix.em.fit.run_em` started at
the estimate, and matches each refit to it with :func:`latentmix.matching.align`.

Natural-scale intervals
-----------------------
``standard_errors`` maps :math:`\operatorname{Cov}(\hat\theta) = I(\hat\theta)^{-1}` to the
weights, means and covariance entries by the delta method (analytic Jacobian). Its Wald
intervals are by default computed on the scale where each entry is unbounded (:data:`LINKS`:
logit for a weight, log for a variance, the entry itself for a mean or an off-diagonal
covariance) and mapped back, so a weight's interval stays in (0, 1) and a variance's above
0; ``scale="natural"`` gives the symmetric estimate +- z se instead. ``derived`` does the same
for standard deviations (log scale) and correlations (Fisher z), see
:mod:`latentmix.em.derived`. ``laplace`` treats :math:`\mathcal N(\hat\theta_{MAP}, I^{-1})` as an
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
from scipy import linalg, special, stats

from latentmix.em import missing
from latentmix.em.derived import DERIVED_NAMES, derived_entries, derived_jacobian, derived_values
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
    scales : tuple of str
        Wald: the scale of each entry's interval, one of :data:`LINKS` (``identity``
        everywhere with ``scale="natural"``); empty for the other sources, whose intervals
        are quantiles of draws and so respect the parameter space by themselves.
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
    scales: tuple = ()

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

    def to_dataframe(self):
        """The intervals as a pandas DataFrame: one row per entry, indexed by name.

        Columns ``parameter`` and ``index`` (the keys, 0-based), ``estimate``,
        ``standard_error``, ``lower``, ``upper`` and, for Wald, ``scale``.
        """
        import pandas as pd

        frame = pd.DataFrame(
            {
                "estimate": np.asarray(self.estimate, dtype=float),
                "standard_error": np.asarray(self.standard_error, dtype=float),
                "lower": np.asarray(self.lower, dtype=float),
                "upper": np.asarray(self.upper, dtype=float),
            },
            index=pd.Index(list(self.names), name="name"),
        )
        if self.keys:
            frame.insert(0, "parameter", [group for group, _ in self.keys])
            frame.insert(1, "index", [tuple(index) for _, index in self.keys])
        if self.scales:
            frame["scale"] = list(self.scales)
        return frame

    def _summary(self) -> list:
        groups: dict = {}
        for group, _ in self.keys:
            groups[group] = groups.get(group, 0) + 1
        counts = f" ({', '.join(f'{g} {n}' for g, n in groups.items())})" if groups else ""
        head = (
            f"Intervals(source={self.source!r}, level={self.level:g}): {len(self.names)} entries"
        )
        lines = [head + counts]
        K, n_means = groups.get("weights", 0), groups.get("means", 0)
        if K and n_means:
            lines[0] += f", K={K}, d={n_means // K}"
        extra = []
        if self.scales:
            scales: dict = {}
            for scale in self.scales:
                scales[scale] = scales.get(scale, 0) + 1
            extra.append("Wald scales: " + ", ".join(f"{k} {n}" for k, n in scales.items()))
        if self.draws is not None:
            extra.append(f"draws of shape {np.shape(self.draws)}")
        if self.n_failed:
            extra.append(f"{self.n_failed} failed refits left out")
        if self.covariance is not None:
            extra.append(f"covariance in theta of shape {np.shape(self.covariance)}")
        if extra:
            lines.append("  " + "; ".join(extra))
        return lines

    def __repr__(self) -> str:
        return "\n".join([*self._summary(), "  use .to_dataframe() or .as_dict()"])

    def _repr_html_(self) -> str:
        import html

        text = "<br>".join(html.escape(line) for line in self._summary())
        table = self.to_dataframe().to_html(
            escape=True, max_rows=60, float_format="{:.4g}".format, na_rep=""
        )
        return f"<div><p>{text}</p>{table}</div>"


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


# --- scales of the Wald intervals ---------------------------------------------------------

#: Where a Wald interval is computed before being mapped back: ``identity`` (means,
#: off-diagonal covariances), ``log`` (variances, standard deviations), ``logit`` (weights),
#: ``fisher_z`` (correlations, atanh).
LINKS = ("identity", "log", "logit", "fisher_z")

#: Where the Wald interval of an entry may be computed: on its link scale, or as it is.
WALD_SCALES = ("link", "natural")


def link_scales(n_components: int, n_features: int, covariance_type: str) -> tuple:
    """The link of each natural-scale entry (:func:`parameter_keys` order).

    Returns
    -------
    tuple of str
        ``logit`` for weights, ``identity`` for means and off-diagonal covariances, ``log``
        for variances (diagonal entries, and every entry of the diagonal and spherical types).
    """
    out = []
    for group, index in parameter_keys(n_components, n_features, covariance_type):
        if group == "weights":
            out.append("logit")
        elif group == "means" or (covariance_type in ("full", "tied") and index[-1] != index[-2]):
            out.append("identity")
        else:
            out.append("log")
    return tuple(out)


def _link(x, scales, inverse=False) -> np.ndarray:
    """Each entry of x through its link (or the link's inverse)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    for m, scale in enumerate(scales):
        v = x[..., m]
        if scale == "identity":
            out[..., m] = v
        elif scale == "log":
            with np.errstate(over="ignore"):  # an interval may reach infinity
                out[..., m] = np.exp(v) if inverse else np.log(v)
        elif scale == "logit":
            out[..., m] = special.expit(v) if inverse else special.logit(v)
        elif scale == "fisher_z":
            out[..., m] = np.tanh(v) if inverse else np.arctanh(v)
        else:
            raise ValueError(f"unknown link {scale!r}; one of {', '.join(LINKS)}.")
    return out


def _link_derivative(x, scales) -> np.ndarray:
    """The slope of each entry's link at x, shape (P,)."""
    x = np.asarray(x, dtype=float)
    slope = {
        "identity": lambda v: 1.0,
        "log": lambda v: 1 / v,
        "logit": lambda v: 1 / (v * (1 - v)),
        "fisher_z": lambda v: 1 / (1 - v * v),
    }
    return np.array([slope[s](v) for s, v in zip(scales, x, strict=True)], dtype=float)


def link_jacobian(params: MixtureParams) -> np.ndarray:
    """Jacobian of the linked natural-scale vector with respect to theta.

    The delta method on the link scale: row m is ``link_m'(x_m)`` times row m of
    :func:`~latentmix.em.parameterisation.natural_jacobian`.

    Returns
    -------
    ndarray of shape (P, Layout.size)
    """
    scales = link_scales(params.n_components, params.n_features, params.covariance_type)
    slope = _link_derivative(natural_vector(params), scales)
    return slope[:, None] * natural_jacobian(params)


def wald_on_scales(estimate, jacobian, cov_theta, scales, level):
    r"""Delta-method standard errors and Wald intervals on the given scales, mapped back.

    Parameters
    ----------
    estimate : ndarray of shape (P,)
        The natural-scale values.
    jacobian : ndarray of shape (P, p)
        Of the natural-scale values with respect to theta.
    cov_theta : ndarray of shape (p, p)
    scales : sequence of str
        One of :data:`LINKS` per entry.
    level : float

    Returns
    -------
    se, lower, upper : ndarray of shape (P,)
        ``se`` on the natural scale; the interval is
        :math:`g^{-1}(g(x) \pm z\, |g'(x)|\, \mathrm{se})`.
    """
    var = np.einsum("ip,pq,iq->i", jacobian, cov_theta, jacobian)
    se = np.sqrt(np.maximum(var, 0.0))
    z = stats.norm.ppf(0.5 + level / 2)
    centre = _link(estimate, scales)
    half = z * se * np.abs(_link_derivative(estimate, scales))
    return se, _link(centre - half, scales, True), _link(centre + half, scales, True)


# --- Wald and Laplace --------------------------------------------------------------------------


def standard_errors(
    params: MixtureParams,
    X,
    *,
    prior: ConjugatePrior | None = None,
    level: float = 0.95,
    information: str = "exact",
    sample_weight=None,
    scale: str = "link",
) -> Intervals:
    r"""Standard errors of the natural-scale entries and their Wald intervals, by the delta method.

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
    scale : {"link", "natural"}
        ``"link"`` (default): each interval is computed on its entry's link scale
        (:func:`link_scales`: logit for weights, log for variances) and mapped back, so it
        stays inside the parameter space; ``"natural"``: ``estimate +- z * standard_error``,
        which can leave it (a weight below 0, a variance below 0).

    Returns
    -------
    Intervals
        ``standard_error`` is the square root of the diagonal of :math:`J I^{-1} J^\top`
        (J the Jacobian of the natural-scale entries), ``scales`` each entry's link.
    """
    if scale not in WALD_SCALES:
        raise ValueError(
            f"scale must be 'link' (intervals on the logit/log scale, mapped back) or "
            f"'natural' (estimate +- z se); got {scale!r}."
        )
    params, X, w = _check(params, X, level, sample_weight)
    cov_theta = _theta_covariance(_information(X, params, prior, information, w))
    est = natural_vector(params)
    names, keys = _labels(params)
    scales = link_scales(params.n_components, params.n_features, params.covariance_type)
    if scale == "natural":
        scales = ("identity",) * len(scales)
    se, lower, upper = wald_on_scales(est, natural_jacobian(params), cov_theta, scales, level)
    return Intervals(names, est, se, lower, upper, level, "wald", None, 0, cov_theta, keys, scales)


def derived(result: Intervals, params: MixtureParams) -> Intervals:
    """The same source's intervals of the standard deviations and correlations.

    A Wald result (no draws) gives delta-method intervals on the log scale (standard
    deviations) and the Fisher z scale (correlations), mapped back; a result with draws
    (Laplace, bootstrap) the equal-tailed quantiles of the derived quantities of its draws.

    Parameters
    ----------
    result : Intervals
        From :func:`standard_errors`, :func:`laplace` or :func:`bootstrap` at ``params``.
    params : MixtureParams
        The estimate of ``result``.

    Returns
    -------
    Intervals
        Entries of :func:`latentmix.em.derived.derived_entries`; ``keys`` as
        ``(group, index)`` with ``group`` one of
        :data:`~latentmix.em.derived.DERIVED_NAMES`.
    """
    K, d, covariance_type = params.n_components, params.n_features, params.covariance_type
    entries = derived_entries(K, d, covariance_type)
    keys = tuple((e.group, e.index) for e in entries)
    names = [f"{g}[{','.join(map(str, i))}]" if i else g for g, i in keys]
    natural = natural_vector(params)
    est = derived_values(natural, entries)
    if result.draws is None:
        if result.covariance is None:
            raise ValueError("the Wald result has no covariance in theta to carry over.")
        scales = tuple("log" if g == DERIVED_NAMES[0] else "fisher_z" for g, _ in keys)
        if result.scales and set(result.scales) == {"identity"}:
            scales = ("identity",) * len(keys)
        jac = derived_jacobian(natural, entries) @ natural_jacobian(params)
        se, lower, upper = wald_on_scales(est, jac, result.covariance, scales, result.level)
        return Intervals(
            names, est, se, lower, upper, result.level, result.source, None, 0,
            result.covariance, keys, scales,
        )  # fmt: skip
    draws = derived_values(result.draws, entries)
    tail = (1 - result.level) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
    sd = draws.std(axis=0, ddof=1)
    return Intervals(
        names, est, sd, lower, upper, result.level, result.source, draws, result.n_failed,
        result.covariance, keys,
    )  # fmt: skip


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
