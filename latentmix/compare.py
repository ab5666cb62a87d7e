r"""EM point estimates (MLE, MAP) against the posterior, entry by entry and as predictions.

:func:`compare` is the package's main computation after the fits: it returns a
:class:`Comparison` holding

* one :class:`ParameterTable` per parameter group (``weights``, ``means``, ``covariances``),
  with, for every entry, the MLE, the MAP, the posterior mean, median and sd, a 94%
  **equal-tailed** interval, the posterior quantile of the MLE and of the MAP, and whether
  each point estimate lies outside the interval, and beside the posterior interval two
  intervals from the curvature of the EM objective at the same level: the Wald interval of
  the MLE and the Laplace-approximation interval of the MAP
  (:mod:`latentmix.em.uncertainty`);
* :class:`IntervalAgreement` rows: how wide those intervals are against the posterior
  interval, and whether the posterior interval contains them;
* a :class:`PredictiveComparison`: the log predictive density of the plug-in MLE, the plug-in
  MAP and the posterior predictive, in sample, estimated out of sample (PSIS-LOO for the
  posterior), and on held-out data when given;
* a :class:`MembershipComparison`: EM responsibilities against posterior membership
  probabilities with their spread over draws, and the points where they disagree most.

Why an equal-tailed interval and not an HDI: the interval and the quantile then say the same
thing (a point estimate is outside the 94% interval exactly when its posterior quantile is
below 0.03 or above 0.97), and the interval does not move when a parameter is transformed
(a variance and its standard deviation get the same interval).

Components of the posterior are expected in the order of the EM MAP (the sampler relabels
its draws to that reference); the MLE and a known truth are matched to the MAP order here.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from latentmix.em.estep import e_step
from latentmix.params import MixtureParams, check_covariance_type

GROUPS = ("weights", "means", "covariances")
_LOG_2PI = np.log(2 * np.pi)
# Bound on the floats held at once by the draw-wise densities (about 160 MB).
_CHUNK_FLOATS = 20_000_000


# --- data structures -----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One scalar parameter: the point estimates and the posterior summary of it.

    ``index`` is 0-based into the parameter array; ``label`` is for people (components and
    features counted from 1, features by name). ``mle``/``truth`` are None when not given.
    ``quantile_*`` is the fraction of posterior draws below the value (ties count half).
    ``wald_*`` is the Wald interval of the MLE (MLE +- z * standard error, delta method) and
    ``laplace_*`` the equal-tailed interval of the Laplace approximation around the MAP, both
    at the posterior interval's level; None when not available (no MLE, no prior, or an
    information matrix that is not positive definite).
    """

    parameter: str
    index: tuple[int, ...]
    label: str
    mle: float | None
    map: float
    mean: float
    median: float
    sd: float
    lower: float
    upper: float
    quantile_mle: float | None
    quantile_map: float
    mle_outside: bool | None
    map_outside: bool
    truth: float | None = None
    quantile_truth: float | None = None
    truth_outside: bool | None = None
    r_hat: float = float("nan")
    ess_bulk: float = float("nan")
    ess_tail: float = float("nan")
    wald_lower: float | None = None
    wald_upper: float | None = None
    wald_se: float | None = None
    laplace_lower: float | None = None
    laplace_upper: float | None = None
    laplace_sd: float | None = None


@dataclass(frozen=True)
class IntervalAgreement:
    """How one approximate interval compares with the posterior interval over some entries.

    Attributes
    ----------
    method : {"wald", "laplace"}
        Wald interval of the MLE, or Laplace interval of the MAP.
    parameter : str
        A parameter group, or ``"all"``.
    n_entries : int
        Entries with both intervals.
    width_ratio_median, width_ratio_min, width_ratio_max : float
        Width of the approximate interval over the width of the posterior interval.
    n_within_posterior : int
        Entries where the posterior interval contains the approximate one.
    n_covers_posterior : int
        Entries where the approximate interval contains the posterior one.
    max_endpoint_shift : float
        Largest distance between corresponding endpoints, in posterior sds.
    """

    method: str
    parameter: str
    n_entries: int
    width_ratio_median: float
    width_ratio_min: float
    width_ratio_max: float
    n_within_posterior: int
    n_covers_posterior: int
    max_endpoint_shift: float


@dataclass(frozen=True)
class ParameterTable:
    """The entries of one parameter group.

    Attributes
    ----------
    parameter : {"weights", "means", "covariances"}
    entries : tuple of Entry
    interval : float
        Probability mass of the equal-tailed interval (0.94).
    """

    parameter: str
    entries: tuple[Entry, ...]
    interval: float = 0.94

    @property
    def n_outside(self) -> dict:
        """How many entries each point estimate has outside the interval."""
        return {
            "mle": sum(bool(e.mle_outside) for e in self.entries),
            "map": sum(bool(e.map_outside) for e in self.entries),
        }

    def to_records(self) -> list[dict]:
        """The entries as a list of plain dicts (JSON-ready)."""
        return [jsonable(asdict(e)) for e in self.entries]

    def to_dataframe(self):
        """The table as a pandas DataFrame indexed by label."""
        import pandas as pd

        return pd.DataFrame(self.to_records()).set_index("label")


@dataclass(frozen=True)
class PredictiveRow:
    r"""Log predictive density of one estimate (sums over points, natural log).

    Attributes
    ----------
    estimate : {"MLE", "MAP", "posterior"}
    in_sample : float
        Plug-in log-likelihood of the training data (MLE, MAP); for the posterior the log
        pointwise predictive density :math:`\sum_i \log \overline{p(x_i \mid \theta_s)}`.
    out_of_sample : float
        Estimate of the expected log density of new data: in-sample minus the number of
        free parameters (-AIC/2) for MLE and MAP, PSIS-LOO ``elpd_loo`` for the posterior.
    out_of_sample_se : float or None
        Standard error of the PSIS-LOO estimate.
    method : str
    held_out : float or None
        Log density of the held-out points (same formulas as ``in_sample``).
    """

    estimate: str
    in_sample: float
    out_of_sample: float
    out_of_sample_se: float | None
    method: str
    held_out: float | None = None


@dataclass(frozen=True)
class PredictiveComparison:
    """Plug-in MLE and MAP against the posterior predictive.

    Attributes
    ----------
    rows : tuple of PredictiveRow
    n_train, n_test : int
    n_parameters : int
        Free parameters of the mixture (used by the -AIC/2 estimates).
    p_loo : float
        Effective number of parameters from PSIS-LOO.
    pareto_k_bad : int
        Points with Pareto k > 0.7, where PSIS-LOO is unreliable.
    pareto_k_max : float
    """

    rows: tuple[PredictiveRow, ...]
    n_train: int
    n_test: int
    n_parameters: int
    p_loo: float
    pareto_k_bad: int
    pareto_k_max: float

    def row(self, estimate: str) -> PredictiveRow | None:
        """The row of one estimate, or None."""
        return next((r for r in self.rows if r.estimate == estimate), None)


@dataclass(frozen=True)
class MembershipComparison:
    r"""EM responsibilities against posterior membership probabilities.

    Attributes
    ----------
    responsibilities_map : ndarray of shape (n, K)
        EM responsibilities at the MAP.
    responsibilities_mle : ndarray of shape (n, K) or None
        At the MLE, components in MAP order.
    posterior_mean : ndarray of shape (n, K)
        Posterior mean over draws of :math:`p(z_i = k \mid x_i, \theta_s)`.
    posterior_sd : ndarray of shape (n, K)
        Its standard deviation over draws: how uncertain the membership itself is.
    disagreement : ndarray of shape (n,)
        Total variation distance between the MAP responsibilities and the posterior mean
        membership, :math:`\tfrac12 \sum_k |r_{ik} - \bar p_{ik}|`, in [0, 1].
    top : ndarray of int
        Indices of the points with the largest disagreement, largest first.
    n_label_changes : int
        Points whose most probable component differs between MAP and posterior.
    """

    responsibilities_map: np.ndarray
    responsibilities_mle: np.ndarray | None
    posterior_mean: np.ndarray
    posterior_sd: np.ndarray
    disagreement: np.ndarray
    top: np.ndarray
    n_label_changes: int

    def to_dict(self, X=None, feature_names=None) -> dict:
        """The top disagreements as JSON-ready records (with the data rows if given)."""
        records = []
        for i in self.top:
            rec = {
                "row": int(i),
                "disagreement": float(self.disagreement[i]),
                "responsibilities_map": self.responsibilities_map[i].tolist(),
                "posterior_mean": self.posterior_mean[i].tolist(),
                "posterior_sd": self.posterior_sd[i].tolist(),
            }
            if self.responsibilities_mle is not None:
                rec["responsibilities_mle"] = self.responsibilities_mle[i].tolist()
            if X is not None:
                names = feature_names or [f"x{j + 1}" for j in range(X.shape[1])]
                rec["x"] = dict(zip(names, map(float, X[i]), strict=True))
            records.append(rec)
        return {
            "n_label_changes": int(self.n_label_changes),
            "mean_disagreement": float(self.disagreement.mean()),
            "max_disagreement": float(self.disagreement.max()),
            "top": records,
        }


@dataclass(frozen=True)
class Comparison:
    """Everything :func:`compare` finds.

    Attributes
    ----------
    tables : dict of str to ParameterTable
        Keyed ``weights``, ``means``, ``covariances``.
    predictive : PredictiveComparison
    membership : MembershipComparison
    covariance_type : str
    feature_names : tuple of str
    mle, map, truth : MixtureParams or None
        The point estimates, components in MAP order.
    interval : float
    mle_order : tuple of int or None
        The permutation that put the MLE's components in MAP order.
    wald : latentmix.em.uncertainty.Intervals or None
        Wald intervals of the MLE (components in MAP order), at level ``interval``.
    laplace : latentmix.em.uncertainty.Intervals or None
        The Laplace approximation around the MAP, with its draws, at level ``interval``.
    agreement : tuple of IntervalAgreement
        Per method, per group and over all entries.
    warnings : tuple of str
        Why an interval method is missing (for the report's warning box).
    """

    tables: dict
    predictive: PredictiveComparison
    membership: MembershipComparison
    covariance_type: str
    feature_names: tuple
    map: MixtureParams
    mle: MixtureParams | None = None
    truth: MixtureParams | None = None
    interval: float = 0.94
    mle_order: tuple | None = field(default=None)
    wald: object = None
    laplace: object = None
    agreement: tuple = ()
    warnings: tuple = ()

    def agreement_row(self, method: str, parameter: str = "all") -> IntervalAgreement | None:
        """The agreement row of one method and group, or None."""
        return next(
            (a for a in self.agreement if a.method == method and a.parameter == parameter), None
        )

    def to_dict(self, X=None) -> dict:
        """A JSON-ready dict of the whole comparison."""
        return {
            "interval": {"probability": self.interval, "kind": "equal-tailed"},
            "covariance_type": self.covariance_type,
            "feature_names": list(self.feature_names),
            "estimates": {
                name: _params_dict(p)
                for name, p in (("mle", self.mle), ("map", self.map), ("truth", self.truth))
                if p is not None
            },
            "tables": {k: t.to_records() for k, t in self.tables.items()},
            "interval_agreement": [jsonable(asdict(a)) for a in self.agreement],
            "warnings": list(self.warnings),
            "predictive": jsonable(asdict(self.predictive)),
            "membership": self.membership.to_dict(X, list(self.feature_names)),
        }


# --- the comparison ------------------------------------------------------------------------


def compare(
    X,
    idata,
    map_estimate,
    *,
    mle=None,
    truth=None,
    feature_names=None,
    X_test=None,
    interval: float = 0.94,
    n_disagree: int = 10,
    prior=None,
    laplace_draws: int = 4000,
    random_state=0,
) -> Comparison:
    """Compare the EM MLE and MAP with the posterior of the same mixture.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The data the estimates were fitted to.
    idata : arviz.InferenceData or PyMCGaussianMixture
        Posterior with variables ``weights`` (chain, draw, K), ``means`` (chain, draw, K, d)
        and ``covariances`` (chain, draw, *shape of the covariance type*), components already
        in the order of ``map_estimate``. A fitted estimator's ``idata_`` is used. A
        ``log_likelihood`` group is added in place (variable ``x``, dims chain, draw,
        ``observation``) if the idata has none.
    map_estimate : MixtureParams or EMGaussianMixture
        The EM MAP (a fitted estimator's ``params_`` is used).
    mle : MixtureParams or EMGaussianMixture, optional
        The EM MLE; matched to the MAP's component order.
    truth : MixtureParams, optional
        Known generating parameters (synthetic data); matched to the MAP's order.
    feature_names : sequence of str, optional
        For labels; default ``x1, x2, ...``.
    X_test : ndarray of shape (m, d), optional
        Held-out data for the predictive comparison.
    interval : float
        Mass of the equal-tailed interval.
    n_disagree : int
        How many points of largest membership disagreement to keep in ``membership.top``.
    prior : ConjugatePrior, optional
        The prior of the MAP, for its Laplace approximation; by default a fitted estimator's
        ``prior_``. Without a prior there are no Laplace intervals.
    laplace_draws : int
        Draws from the Laplace approximation (its intervals are quantiles of them).
    random_state : None, int or numpy.random.Generator
        Seed of the Laplace draws; fixed by default so that a comparison is reproducible.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> result = compare(X, model.idata_, em_map, mle=em_mle)  # doctest: +SKIP
    >>> result.tables["means"].to_dataframe()  # doctest: +SKIP
    """
    if not 0 < interval < 1:
        raise ValueError(f"interval must be in (0, 1); got {interval!r}.")
    idata = getattr(idata, "idata_", idata)
    if prior is None:
        prior = getattr(map_estimate, "prior_", None)
    map_params = _as_params(map_estimate, "map_estimate")
    kind = check_covariance_type(map_params.covariance_type)
    X = np.asarray(X, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    K, d = map_params.means.shape
    if X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} features but the MAP estimate has {d}.")
    names = tuple(feature_names) if feature_names is not None else _default_names(d)
    if len(names) != d:
        raise ValueError(f"feature_names has {len(names)} names for {d} features.")

    draws = posterior_draws(idata, kind)
    if draws.means.shape[-2:] != (K, d):
        raise ValueError(
            f"the posterior has means of shape {draws.means.shape[-2:]} but the MAP estimate "
            f"has {(K, d)}; compare a posterior and estimates of the same model."
        )
    mle_params, mle_order = None, None
    if mle is not None:
        mle_params = _as_params(mle, "mle")
        mle_order = match_components(mle_params, map_params)
        mle_params = mle_params.permute(mle_order)
    if truth is not None:
        truth = _as_params(truth, "truth")
        truth = truth.permute(match_components(truth, map_params))

    pointwise, resp_mean, resp_sd = draw_log_likelihood(X, draws, return_membership=True)
    _attach_log_likelihood(idata, pointwise)
    diagnostics = _diagnostics(idata)

    wald, lap, notes = _approximate_intervals(
        X, map_params, mle_params, prior, interval, laplace_draws, random_state
    )
    tables = {
        group: _table(group, draws, map_params, mle_params, truth, names, interval, diagnostics)
        for group in GROUPS
    }
    tables = {group: _with_intervals(t, kind, wald, lap) for group, t in tables.items()}
    predictive = _predictive(X, X_test, idata, draws, pointwise, map_params, mle_params)
    membership = _membership(X, map_params, mle_params, resp_mean, resp_sd, n_disagree)
    return Comparison(
        tables=tables,
        predictive=predictive,
        membership=membership,
        covariance_type=kind,
        feature_names=names,
        map=map_params,
        mle=mle_params,
        truth=truth,
        interval=interval,
        mle_order=None if mle_order is None else tuple(int(i) for i in mle_order),
        wald=wald,
        laplace=lap,
        agreement=_agreement(tables),
        warnings=tuple(notes),
    )


# --- posterior draws and their densities ----------------------------------------------------


def posterior_draws(idata, covariance_type: str) -> MixtureParams:
    """The posterior draws as a MixtureParams whose arrays lead with (chain, draw).

    Parameters
    ----------
    idata : arviz.InferenceData
    covariance_type : str

    Returns
    -------
    MixtureParams
        ``weights`` (C, S, K), ``means`` (C, S, K, d), ``covariances`` (C, S, *natural*).
    """
    post = idata.posterior
    missing = [v for v in GROUPS if v not in post]
    if missing:
        raise ValueError(
            f"the posterior has no variable {', '.join(map(repr, missing))}; expected "
            "'weights', 'means' and 'covariances' as PyMCGaussianMixture writes them."
        )
    arrays = [np.asarray(post[v].transpose("chain", "draw", ...).values, float) for v in GROUPS]
    return MixtureParams(*arrays, covariance_type)


def full_covariance_draws(covariances, kind, K, d) -> np.ndarray:
    """Covariance draws of shape (S, *natural shape*) as (S, K, d, d)."""
    S = covariances.shape[0]
    if kind == "full":
        return covariances
    if kind == "tied":
        return np.broadcast_to(covariances[:, None], (S, K, d, d))
    eye = np.eye(d)
    if kind == "diag":
        return covariances[..., None] * eye
    return covariances[..., None, None] * eye


def draw_weighted_log_prob(X, weights, means, covariances, covariance_type) -> np.ndarray:
    r""":math:`\log w_k + \log \mathcal N(x_i \mid \mu_k, \Sigma_k)` for a batch of draws.

    The same quantity as :func:`latentmix.em.estep.weighted_log_prob`, vectorised over draws:
    Cholesky factors of the covariances and their inverses, batched over draws.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (S, K)
    means : ndarray of shape (S, K, d)
    covariances : ndarray of shape (S, *natural shape*)
    covariance_type : str

    Returns
    -------
    ndarray of shape (S, n, K)
    """
    S, K, d = means.shape
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)[:, None, :]
    diff = X[None, None, :, :] - means[:, :, None, :]  # (S, K, n, d)
    if covariance_type in ("full", "tied"):
        chol = np.linalg.cholesky(full_covariance_draws(covariances, covariance_type, K, d))
        # Inverse Cholesky factors of the small d x d covariances (as the E-step's precision
        # factors), by numpy's batched solve: one C loop over draws, unlike scipy's
        # triangular solve, which loops in Python over the batch.
        chol_inv = np.linalg.solve(chol, np.broadcast_to(np.eye(d), chol.shape))
        z = chol_inv @ np.swapaxes(diff, -1, -2)  # (S, K, d, n)
        maha = (z**2).sum(axis=-2)
        half_log_det = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    else:
        var = covariances if covariance_type == "diag" else covariances[..., None]
        var = np.broadcast_to(var, (S, K, d))
        maha = (diff**2 / var[:, :, None, :]).sum(-1)
        half_log_det = 0.5 * np.log(var).sum(-1)
    log_prob = -0.5 * (d * _LOG_2PI + maha) - half_log_det[..., None]  # (S, K, n)
    return np.swapaxes(log_prob, 1, 2) + log_w


def draw_log_likelihood(X, draws: MixtureParams, *, return_membership: bool = False):
    r"""Pointwise log-likelihood :math:`\log p(x_i \mid \theta_s)` of every draw.

    Computed in chunks of draws so that memory stays bounded for large n.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    draws : MixtureParams
        As returned by :func:`posterior_draws` (leading dims (C, S)).
    return_membership : bool
        Also return the mean and sd over draws of the membership probabilities
        :math:`p(z_i = k \mid x_i, \theta_s)`.

    Returns
    -------
    log_lik : ndarray of shape (C, S, n)
    membership_mean, membership_sd : ndarray of shape (n, K)
        Only with ``return_membership``.
    """
    X = np.asarray(X, dtype=float)
    C, S, K, d = draws.means.shape
    n = X.shape[0]
    flat = [a.reshape(C * S, *a.shape[2:]) for a in draws[:3]]
    log_lik = np.empty((C * S, n))
    total = np.zeros((n, K))
    total_sq = np.zeros((n, K))
    step = max(1, _CHUNK_FLOATS // max(1, K * n * d))
    for start in range(0, C * S, step):
        sl = slice(start, start + step)
        wlp = draw_weighted_log_prob(X, *(a[sl] for a in flat), draws.covariance_type)
        log_lik[sl] = logsumexp(wlp, axis=-1)
        if return_membership:
            resp = np.exp(wlp - log_lik[sl][..., None])
            total += resp.sum(0)
            total_sq += (resp**2).sum(0)
    log_lik = log_lik.reshape(C, S, n)
    if not return_membership:
        return log_lik
    mean = total / (C * S)
    sd = np.sqrt(np.maximum(total_sq / (C * S) - mean**2, 0.0))
    return log_lik, mean, sd


def _attach_log_likelihood(idata, pointwise) -> None:
    """Add the pointwise log-likelihood group ArviZ's loo needs, unless one is there."""
    if "log_likelihood" in idata.groups():
        return
    import arviz as az

    ll = az.from_dict(
        log_likelihood={"x": pointwise},
        coords={"chain": idata.posterior.chain.values, "draw": idata.posterior.draw.values},
        dims={"x": ["observation"]},
    )
    idata.extend(ll)


# --- parameter tables ------------------------------------------------------------------------


def _entries_index(group, kind, K, d):
    """0-based indices of the entries shown for a group (one triangle of a symmetric matrix)."""
    if group == "weights":
        return [(k,) for k in range(K)]
    if group == "means":
        return [(k, j) for k in range(K) for j in range(d)]
    if kind == "full":
        return [(k, i, j) for k in range(K) for i in range(d) for j in range(i, d)]
    if kind == "tied":
        return [(i, j) for i in range(d) for j in range(i, d)]
    if kind == "diag":
        return [(k, j) for k in range(K) for j in range(d)]
    return [(k,) for k in range(K)]


def _entry_label(group, kind, index, names) -> str:
    if group == "weights":
        return f"weights[{index[0] + 1}]"
    if group == "means":
        return f"means[{index[0] + 1}, {names[index[1]]}]"
    if kind == "full":
        k, i, j = index
        return f"covariances[{k + 1}, {names[i]}, {names[j]}]"
    if kind == "tied":
        return f"covariances[{names[index[0]]}, {names[index[1]]}]"
    if kind == "diag":
        return f"covariances[{index[0] + 1}, {names[index[1]]}]"
    return f"covariances[{index[0] + 1}]"


def _quantile(samples, value) -> float:
    """Posterior quantile of a value: fraction of draws below it, ties counted half."""
    return float(np.mean(samples < value) + 0.5 * np.mean(samples == value))


def _table(group, draws, map_params, mle_params, truth, names, interval, diagnostics):
    kind = map_params.covariance_type
    K, d = map_params.means.shape
    gi = GROUPS.index(group)
    samples_all = draws[gi]  # (C, S, ...)
    tail = (1 - interval) / 2
    rows = []
    for index in _entries_index(group, kind, K, d):
        samples = samples_all[(slice(None), slice(None), *index)].ravel()
        lower, median, upper = np.quantile(samples, [tail, 0.5, 1 - tail])
        point = {}
        for name, params in (("map", map_params), ("mle", mle_params), ("truth", truth)):
            values = None if params is None else _in_type(params, kind)[gi]
            if values is None:
                point[name] = (None, None, None)
                continue
            value = float(np.asarray(values)[index])
            point[name] = (value, _quantile(samples, value), not lower <= value <= upper)
        diag = {
            key: float(np.asarray(diagnostics[key][group])[index])
            if diagnostics.get(key) is not None
            else float("nan")
            for key in ("r_hat", "ess_bulk", "ess_tail")
        }
        rows.append(
            Entry(
                parameter=group,
                index=tuple(int(i) for i in index),
                label=_entry_label(group, kind, index, names),
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
    return ParameterTable(group, tuple(rows), interval)


# --- Wald and Laplace intervals ------------------------------------------------------------


def _approximate_intervals(X, map_params, mle_params, prior, level, n_draws, random_state):
    """Wald intervals of the MLE and Laplace intervals of the MAP, both in MAP order.

    A method that cannot be computed (no MLE, no prior, an information matrix that is not
    positive definite) gives None and, except for a missing MLE, a note for the report.

    Returns
    -------
    wald, laplace : latentmix.em.uncertainty.Intervals or None
    notes : list of str
    """
    from latentmix.em import uncertainty

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
            lambda: uncertainty.standard_errors(mle_params, X, level=level),
        )
    lap = None
    if prior is None:
        notes.append("No Laplace intervals for the MAP: no prior was given for it.")
    else:
        lap = attempt(
            "Laplace intervals for the MAP",
            lambda: uncertainty.laplace(
                map_params,
                X,
                prior=prior,
                level=level,
                n_draws=n_draws,
                random_state=random_state,
            ),
        )
    return wald, lap, notes


def interval_columns(names, covariance_type: str) -> dict:
    """Position of each entry in a natural-scale parameter vector.

    Parameters
    ----------
    names : sequence of str
        :func:`latentmix.em.uncertainty.parameter_names`, e.g. ``means[1,0]``.
    covariance_type : str
        Which covariance entries are matrix entries (``full``, ``tied``) and so have a mirror.

    Returns
    -------
    dict of (str, tuple of int) to int
        ``(group, index)`` as in :class:`Entry` to the column. A symmetric covariance matrix
        has only its upper triangle in the vector; the lower-triangle index maps to the
        mirrored column.
    """
    symmetric = check_covariance_type(covariance_type) in ("full", "tied")
    out = {}
    for column, name in enumerate(names):
        group, _, rest = name.partition("[")
        index = tuple(int(i) for i in rest.rstrip("]").split(","))
        out[(group, index)] = column
        if group == "covariances" and symmetric:
            out[(group, (*index[:-2], index[-1], index[-2]))] = column
    return out


def _with_intervals(table: ParameterTable, kind, wald, lap) -> ParameterTable:
    """The table with the Wald and Laplace interval fields filled where available."""
    columns = {}
    for label, result in (("wald", wald), ("laplace", lap)):
        if result is not None:
            columns[label] = (result, interval_columns(result.names, kind))
    if not columns:
        return table
    # The Wald spread is a standard error, the Laplace one the sd of its draws.
    spread = {"wald": "se", "laplace": "sd"}
    entries = []
    for e in table.entries:
        extra = {}
        for label, (result, where) in columns.items():
            c = where[(e.parameter, e.index)]
            extra[f"{label}_lower"] = float(result.lower[c])
            extra[f"{label}_upper"] = float(result.upper[c])
            extra[f"{label}_{spread[label]}"] = float(result.standard_error[c])
        entries.append(replace(e, **extra))
    return replace(table, entries=tuple(entries))


def _agreement(tables: dict) -> tuple:
    """:class:`IntervalAgreement` of each available method, per group and over all entries."""
    rows = []
    for method in ("wald", "laplace"):
        per_group = {
            group: [e for e in t.entries if getattr(e, f"{method}_lower") is not None]
            for group, t in tables.items()
        }
        if not any(per_group.values()):
            continue
        per_group["all"] = [e for entries in per_group.values() for e in entries]
        for group, entries in per_group.items():
            if entries:
                rows.append(_agreement_row(method, group, entries))
    return tuple(rows)


def _agreement_row(method, group, entries) -> IntervalAgreement:
    lo = np.array([getattr(e, f"{method}_lower") for e in entries])
    hi = np.array([getattr(e, f"{method}_upper") for e in entries])
    post_lo = np.array([e.lower for e in entries])
    post_hi = np.array([e.upper for e in entries])
    sd = np.array([e.sd for e in entries])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (hi - lo) / (post_hi - post_lo)
        shift = np.maximum(np.abs(lo - post_lo), np.abs(hi - post_hi)) / sd
    return IntervalAgreement(
        method=method,
        parameter=group,
        n_entries=len(entries),
        width_ratio_median=float(np.median(ratio)),
        width_ratio_min=float(np.min(ratio)),
        width_ratio_max=float(np.max(ratio)),
        n_within_posterior=int(np.sum((post_lo <= lo) & (hi <= post_hi))),
        n_covers_posterior=int(np.sum((lo <= post_lo) & (post_hi <= hi))),
        max_endpoint_shift=float(np.max(shift)),
    )


def _diagnostics(idata) -> dict:
    """R-hat and ESS per entry from ArviZ (on the draws as given, i.e. relabelled)."""
    import arviz as az

    post = idata.posterior
    out = {}
    if post.sizes.get("chain", 1) < 2 and post.sizes.get("draw", 0) < 8:
        return {}
    with warnings.catch_warnings():
        # ArviZ warns about too few draws/chains for its estimates; NaN says it in the table.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        for key, fn in (
            ("r_hat", lambda: az.rhat(post, var_names=list(GROUPS))),
            ("ess_bulk", lambda: az.ess(post, var_names=list(GROUPS), method="bulk")),
            ("ess_tail", lambda: az.ess(post, var_names=list(GROUPS), method="tail")),
        ):
            ds = fn()
            out[key] = {g: np.asarray(ds[g].values) for g in GROUPS}
    return out


# --- predictive comparison -------------------------------------------------------------------


def _lppd(pointwise) -> float:
    """Log pointwise predictive density from (C, S, n) log-likelihoods."""
    flat = pointwise.reshape(-1, pointwise.shape[-1])
    return float((logsumexp(flat, axis=0) - np.log(flat.shape[0])).sum())


def _predictive(X, X_test, idata, draws, pointwise, map_params, mle_params):
    import arviz as az

    from latentmix.estimator import n_parameters

    K, d = map_params.means.shape
    p = n_parameters(K, d, map_params.covariance_type)
    test_pointwise = None
    if X_test is not None:
        X_test = np.asarray(X_test, dtype=float)
        X_test = X_test[:, None] if X_test.ndim == 1 else X_test
        test_pointwise = draw_log_likelihood(X_test, draws)
    with warnings.catch_warnings():
        # ArviZ warns when Pareto k is high; the count is reported in the result instead.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        loo = az.loo(idata, pointwise=True)
    k_hat = np.asarray(loo.pareto_k)
    rows = []
    for name, params in (("MLE", mle_params), ("MAP", map_params)):
        if params is None:
            continue
        in_sample = float(e_step(X, params)[1].sum())
        held = None if X_test is None else float(e_step(X_test, params)[1].sum())
        rows.append(PredictiveRow(name, in_sample, in_sample - p, None, "-AIC/2", held))
    rows.append(
        PredictiveRow(
            "posterior",
            _lppd(pointwise),
            float(loo.elpd_loo),
            float(loo.se),
            "PSIS-LOO",
            None if test_pointwise is None else _lppd(test_pointwise),
        )
    )
    return PredictiveComparison(
        rows=tuple(rows),
        n_train=int(X.shape[0]),
        n_test=0 if X_test is None else int(X_test.shape[0]),
        n_parameters=p,
        p_loo=float(loo.p_loo),
        pareto_k_bad=int(np.sum(k_hat > 0.7)),
        pareto_k_max=float(np.max(k_hat)),
    )


# --- membership ----------------------------------------------------------------------------


def _membership(X, map_params, mle_params, post_mean, post_sd, n_disagree):
    resp_map = np.exp(e_step(X, map_params)[0])
    resp_mle = None if mle_params is None else np.exp(e_step(X, mle_params)[0])
    disagreement = 0.5 * np.abs(resp_map - post_mean).sum(axis=1)
    top = np.argsort(-disagreement, kind="stable")[: max(0, int(n_disagree))]
    changes = int(np.sum(resp_map.argmax(1) != post_mean.argmax(1)))
    return MembershipComparison(resp_map, resp_mle, post_mean, post_sd, disagreement, top, changes)


# --- helpers ---------------------------------------------------------------------------------


def match_components(params: MixtureParams, reference: MixtureParams) -> np.ndarray:
    """The order that puts ``params``' components in ``reference``'s order.

    The same matching the sampler's draws get (:func:`latentmix.bayes.relabel.kl_cost`, the
    assignment problem on the Kullback-Leibler divergence between components), so that the
    MLE, the truth and the posterior are all in the MAP's order by one rule.

    Returns
    -------
    ndarray of int, shape (K,)
        Pass to ``params.permute``.
    """
    from latentmix.bayes.relabel import kl_cost

    if params.means.shape != reference.means.shape:
        raise ValueError(
            f"cannot match components: means of shape {params.means.shape} against "
            f"{reference.means.shape}."
        )
    one = MixtureParams(*(np.asarray(a, float)[None] for a in params[:3]), params.covariance_type)
    rows, cols = linear_sum_assignment(kl_cost(one, reference)[0])
    order = np.empty_like(rows)
    order[cols] = rows
    return order


def _as_params(value, name) -> MixtureParams:
    value = getattr(value, "params_", value)
    if not isinstance(value, MixtureParams):
        raise ValueError(
            f"{name} must be a MixtureParams or a fitted EMGaussianMixture; got "
            f"{type(value).__name__}."
        )
    return MixtureParams(
        np.asarray(value.weights, float),
        np.asarray(value.means, float),
        np.asarray(value.covariances, float),
        value.covariance_type,
    )


def _in_type(params: MixtureParams, kind: str) -> tuple:
    """Weights, means and covariances in the shape of ``kind``.

    A truth of another covariance type is converted where that is exact: any type's
    variances to ``diag``; to ``tied`` or ``spherical`` only when the covariances are equal
    or isotropic. Otherwise the covariances are None (no true value to show).
    """
    if params.covariance_type == kind:
        return params[:3]
    full = params.full_covariances()
    d = params.means.shape[1]
    variances = np.diagonal(full, axis1=1, axis2=2)
    cov = None
    if kind == "full":
        cov = full
    elif kind == "diag":
        cov = variances.copy()
    elif kind == "tied" and np.allclose(full, full[0]):
        cov = full[0]
    elif kind == "spherical" and np.allclose(full, variances[:, :1, None] * np.eye(d)):
        cov = variances[:, 0].copy()
    return params.weights, params.means, cov


def _default_names(d):
    return tuple(f"x{j + 1}" for j in range(d))


def _params_dict(params: MixtureParams) -> dict:
    return {
        "weights": params.weights.tolist(),
        "means": params.means.tolist(),
        "covariances": np.asarray(params.covariances).tolist(),
        "covariance_type": params.covariance_type,
    }


def jsonable(value):
    """Replace NaN/inf by None and numpy types by Python ones, recursively."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
