"""What :func:`latentmix.comparison.compare` returns: frozen dataclasses with JSON-ready views.

Components are 0-based in every array and index here (``Entry.index``, the membership
arrays, ``Comparison.mle_order``); only ``Entry.label``, text for people, counts them from 1.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from latentmix.jsonio import to_jsonable
from latentmix.params import MixtureParams

#: The interval :func:`~latentmix.comparison.compare` puts around every entry.
INTERVAL_TYPE = "equal-tailed"


@dataclass(frozen=True)
class Entry:
    """One scalar parameter: the point estimates and the posterior summary of it.

    ``parameter`` and ``index`` (0-based into that parameter's array) say which scalar it is;
    ``column`` is its position in the natural-scale vector of the Wald and Laplace intervals
    (:mod:`latentmix.em.intervals`), so ``comparison.laplace.draws[:, entry.column]`` are
    its Laplace draws. ``label`` is display text only (components and features counted from
    1, features by name). ``mle``/``truth`` are None when not given. ``quantile_*`` is the
    fraction of posterior draws below the value (ties count half). ``wald_*`` is the Wald
    interval of the MLE (delta method on the scale ``wald_scale``: ``logit`` for a weight,
    ``log`` for a variance or a standard deviation, ``fisher_z`` for a correlation,
    ``identity`` otherwise; mapped back, so it stays inside the parameter space; ``wald_se``
    is the natural-scale standard error) and ``laplace_*`` the equal-tailed interval of the
    Laplace approximation around the MAP, both at the posterior interval's level; None when
    not available (no MLE, no prior, or an information matrix that is not positive
    definite). ``prior_sd`` is the prior's standard deviation of the entry (``inf`` where the
    prior has none, None without a prior) and ``contraction`` the posterior sd over it (None
    where that is not defined). ``mcse_mean``, ``mcse_lower`` and ``mcse_upper`` are the
    Monte Carlo standard errors (ArviZ's ``mcse``) of the posterior mean and of the two
    interval ends. For a standard deviation or a correlation (``parameter`` one of
    :data:`latentmix.em.derived.DERIVED_NAMES`), ``column`` is its position in the derived
    vector (:func:`latentmix.em.derived.derived_entries`).
    """

    parameter: str
    index: tuple[int, ...]
    column: int
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
    wald_scale: str | None = None
    prior_sd: float | None = None
    contraction: float | None = None
    mcse_mean: float = float("nan")
    mcse_lower: float = float("nan")
    mcse_upper: float = float("nan")


@dataclass(frozen=True)
class IntervalAgreement:
    """How one approximate interval compares with the posterior interval over some entries.

    Attributes
    ----------
    source : {"wald", "laplace"}
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

    source: str
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
        One per free scalar (one triangle of a symmetric matrix; K - 1 weights, the last
        being one minus the others), in the order of the natural-scale vector.
    level : float
        Probability of the equal-tailed interval.
    """

    parameter: str
    entries: tuple[Entry, ...]
    level: float = 0.95

    @property
    def n_outside(self) -> dict:
        """How many entries each point estimate has outside the interval."""
        return {
            "mle": sum(bool(e.mle_outside) for e in self.entries),
            "map": sum(bool(e.map_outside) for e in self.entries),
        }

    def to_records(self) -> list[dict]:
        """The entries as a list of plain dicts (JSON-ready)."""
        return [to_jsonable(asdict(e)) for e in self.entries]

    def to_dataframe(self):
        """The table as a pandas DataFrame: one row per entry, indexed by label.

        Every :class:`Entry` field is a column (missing values as NaN).
        """
        return entries_frame(self.entries)

    def __repr__(self) -> str:
        out = self.n_outside
        return (
            f"ParameterTable({self.parameter!r}: {len(self.entries)} entries, "
            f"{self.level:.0%} {INTERVAL_TYPE} intervals; outside: MLE {out['mle']}, "
            f"MAP {out['map']}; use .to_dataframe())"
        )

    def _repr_html_(self) -> str:
        head = f"{self.parameter}: {len(self.entries)} entries, {self.level:.0%} intervals"
        return html_block([head], display_frame(self.to_dataframe()))


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
    out_of_sample_estimator : {"-AIC/2", "PSIS-LOO"}
        How ``out_of_sample`` was estimated.
    held_out : float or None
        Log density of the held-out points (same formulas as ``in_sample``).
    """

    estimate: str
    in_sample: float
    out_of_sample: float
    out_of_sample_se: float | None
    out_of_sample_estimator: str
    held_out: float | None = None


@dataclass(frozen=True)
class PairedDifference:
    r"""Two estimates' log predictive densities on the same points, and the paired se.

    Attributes
    ----------
    first, second : {"MLE", "MAP", "posterior"}
        The two estimates, ``first`` the one with the higher total (ties: table order).
    on : {"out_of_sample", "held_out"}
        Which column of the predictive table is compared: the out-of-sample estimates on
        the training points or the log densities of the held-out points.
    difference : float
        Total of ``first`` minus total of ``second`` (never negative).
    se : float
        Standard error of the difference from the pointwise differences
        :math:`\delta_i = a_i - b_i` of the ``n`` points,
        :math:`\sqrt{n \operatorname{var}(\delta)}` (variance with divisor n), as
        ``arviz.compare`` computes ``dse``.
    n : int
        Points compared.
    """

    first: str
    second: str
    on: str
    difference: float
    se: float
    n: int


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
        Points with Pareto k above :data:`~latentmix.comparison.PARETO_K_MAX`, where PSIS-LOO
        is unreliable.
    pareto_k_max : float
        The largest Pareto k.
    paired : tuple of PairedDifference
        Every pair of estimates, on the out-of-sample column and (with held-out rows) on
        the held-out one.
    pointwise : dict
        ``pointwise[on][estimate]``, the per-point terms whose sums are the totals of the
        table: ``"out_of_sample"`` of shape (n_train,) (for MLE and MAP the plug-in log
        density minus ``n_parameters / n_train``, for the posterior PSIS-LOO's
        ``loo_i``), ``"held_out"`` of shape (n_test,). Not in :meth:`to_dict`.
    """

    rows: tuple[PredictiveRow, ...]
    n_train: int
    n_test: int
    n_parameters: int
    p_loo: float
    pareto_k_bad: int
    pareto_k_max: float
    paired: tuple[PairedDifference, ...] = ()
    pointwise: dict = field(default_factory=dict, repr=False, compare=False)

    def row(self, estimate: str) -> PredictiveRow | None:
        """The row of one estimate, or None."""
        return next((r for r in self.rows if r.estimate == estimate), None)

    def pair(self, a: str, b: str, on: str = "out_of_sample") -> PairedDifference | None:
        """The paired difference of two estimates (in either order), or None."""
        return next((p for p in self.paired if p.on == on and {p.first, p.second} == {a, b}), None)

    def to_dict(self) -> dict:
        """The comparison as a JSON-ready dict, without the pointwise terms."""
        out = asdict(replace(self, pointwise={}))
        del out["pointwise"]
        return to_jsonable(out)

    def to_dataframe(self):
        """One row per estimate (index ``estimate``), the :class:`PredictiveRow` fields."""
        import pandas as pd

        names = [f.name for f in fields(PredictiveRow)]
        frame = pd.DataFrame([asdict(r) for r in self.rows], columns=names)
        floats = ("in_sample", "out_of_sample", "out_of_sample_se", "held_out")
        return frame.astype(dict.fromkeys(floats, float)).set_index("estimate")

    def _summary(self) -> list:
        head = (
            f"PredictiveComparison: n_train={self.n_train}, n_test={self.n_test}, "
            f"{self.n_parameters} parameters, p_loo {number(self.p_loo)}, "
            f"unreliable Pareto k: {self.pareto_k_bad} (max {number(self.pareto_k_max, 3)})"
        )
        lines = [head]
        for r in self.rows:
            se = "" if r.out_of_sample_se is None else f" (se {number(r.out_of_sample_se)})"
            held = "" if r.held_out is None else f", held out {number(r.held_out)}"
            lines.append(
                f"  {r.estimate}: in sample {number(r.in_sample)}, out of sample "
                f"{number(r.out_of_sample)}{se} [{r.out_of_sample_estimator}]{held}"
            )
        return lines

    def __repr__(self) -> str:
        return "\n".join([*self._summary(), "  use .to_dataframe()"])

    def _repr_html_(self) -> str:
        return html_block(self._summary()[:1], self.to_dataframe())


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
        Indices (0-based rows of X) of the points with the largest disagreement, largest
        first.
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

    def to_dataframe(self, top_only: bool = False):
        """One row per point and component (long), 0-based ``row`` and ``component``.

        Columns ``row, component, responsibility_map, [responsibility_mle,]
        posterior_mean, posterior_sd, disagreement`` (the point's, repeated on its K rows).
        ``top_only`` keeps the points of ``top``, largest disagreement first.
        """
        import pandas as pd

        n, K = self.responsibilities_map.shape
        rows = np.asarray(self.top, dtype=int) if top_only else np.arange(n)
        columns = {
            "row": np.repeat(rows, K),
            "component": np.tile(np.arange(K), rows.size),
            "responsibility_map": self.responsibilities_map[rows].ravel(),
        }
        if self.responsibilities_mle is not None:
            columns["responsibility_mle"] = self.responsibilities_mle[rows].ravel()
        columns["posterior_mean"] = self.posterior_mean[rows].ravel()
        columns["posterior_sd"] = self.posterior_sd[rows].ravel()
        columns["disagreement"] = np.repeat(self.disagreement[rows], K)
        return pd.DataFrame(columns)

    def _summary(self) -> list:
        n, K = self.responsibilities_map.shape
        return [
            f"MembershipComparison: n={n} points, K={K}; {self.n_label_changes} change their "
            f"most probable component (MAP against posterior); disagreement mean "
            f"{number(float(self.disagreement.mean()), 3)}, max "
            f"{number(float(self.disagreement.max()), 3)}",
        ]

    def __repr__(self) -> str:
        return "\n".join(
            [*self._summary(), "  use .to_dataframe() (.to_dataframe(top_only=True): the top)"]
        )

    def _repr_html_(self) -> str:
        frame = self.to_dataframe(top_only=True).set_index(["row", "component"])
        return html_block([*self._summary(), "points of largest disagreement:"], frame)


@dataclass(frozen=True)
class Comparison:
    """Everything :func:`~latentmix.comparison.compare` finds.

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
    level : float
        Probability of every interval (posterior, Wald, Laplace).
    mle_order : tuple of int or None
        The permutation that put the MLE's components in MAP order (0-based).
    wald : latentmix.em.intervals.Intervals or None
        Wald intervals of the MLE (components in MAP order), at ``level``.
    laplace : latentmix.em.intervals.Intervals or None
        The Laplace approximation around the MAP, with its draws, at ``level``.
    agreement : tuple of IntervalAgreement
        Per source, per group and over all entries.
    warnings : tuple of str
        Why an interval source is missing (for the report's warning box).
    derived : dict of str to ParameterTable
        The standard deviations and correlations of the covariances, keyed by
        :data:`latentmix.em.derived.DERIVED_NAMES` (no correlations for diagonal types).
    order : str
        How the components are ordered (:data:`latentmix.comparison.order.ORDERS`).
    """

    tables: dict
    predictive: PredictiveComparison
    membership: MembershipComparison
    covariance_type: str
    feature_names: tuple
    map: MixtureParams
    mle: MixtureParams | None = None
    truth: MixtureParams | None = None
    level: float = 0.95
    mle_order: tuple | None = field(default=None)
    wald: object = None
    laplace: object = None
    agreement: tuple = ()
    warnings: tuple = ()
    derived: dict = field(default_factory=dict)
    order: str = "map"

    def agreement_row(self, source: str, parameter: str = "all") -> IntervalAgreement | None:
        """The agreement row of one interval source and group, or None."""
        return next(
            (a for a in self.agreement if a.source == source and a.parameter == parameter), None
        )

    def to_dict(self, X=None) -> dict:
        """A JSON-ready dict of the whole comparison."""
        return {
            "level": self.level,
            "interval_type": INTERVAL_TYPE,
            "covariance_type": self.covariance_type,
            "feature_names": list(self.feature_names),
            "estimates": {
                name: params_dict(p)
                for name, p in (("mle", self.mle), ("map", self.map), ("truth", self.truth))
                if p is not None
            },
            "mle_order": None if self.mle_order is None else list(self.mle_order),
            "tables": {k: t.to_records() for k, t in self.tables.items()},
            "derived_tables": {k: t.to_records() for k, t in self.derived.items()},
            "order": self.order,
            "interval_agreement": [to_jsonable(asdict(a)) for a in self.agreement],
            "warnings": list(self.warnings),
            "predictive": self.predictive.to_dict(),
            "membership": self.membership.to_dict(X, list(self.feature_names)),
        }

    def all_entries(self, derived: bool = True) -> tuple:
        """Every entry: the tables in order, then (by default) the derived ones."""
        groups = [*self.tables.values(), *(self.derived.values() if derived else ())]
        return tuple(e for table in groups for e in table.entries)

    def to_dataframe(self, long: bool = False, derived: bool = True):
        """Every entry of every table as one pandas DataFrame.

        Parameters
        ----------
        long : bool
            False (default): one row per entry, indexed by label, every :class:`Entry` field
            a column plus ``component`` (0-based; missing for a shared covariance entry).
            True: one row per entry and point estimate (MLE with its Wald interval, MAP with
            its Laplace interval, posterior mean with the posterior interval, truth), columns
            ``parameter, label, component, estimator, value, lower, upper, interval,
            quantile, outside``.
        derived : bool
            Include the standard deviations and correlations (rows with ``parameter`` one of
            :data:`latentmix.em.derived.DERIVED_NAMES`).

        Returns
        -------
        pandas.DataFrame
        """
        entries = self.all_entries(derived)
        if long:
            return long_entries_frame(entries, self.covariance_type)
        return entries_frame(entries, self.covariance_type)

    def agreement_dataframe(self):
        """The :class:`IntervalAgreement` rows as a DataFrame (one row per source and group)."""
        import pandas as pd

        names = [f.name for f in fields(IntervalAgreement)]
        return pd.DataFrame([asdict(a) for a in self.agreement], columns=names)

    def _summary(self) -> list:
        K, d = self.map.means.shape
        estimates = [n for n, p in (("MLE", self.mle), ("MAP", self.map)) if p is not None]
        estimates += ["posterior"] + (["truth"] if self.truth is not None else [])
        main = self.all_entries(derived=False)
        counts = ", ".join(f"{g} {len(t.entries)}" for g, t in self.tables.items())
        derived = ", ".join(f"{g} {len(t.entries)}" for g, t in self.derived.items())
        n_mle = sum(bool(e.mle_outside) for e in main)
        n_map = sum(bool(e.map_outside) for e in main)
        sources = [n for n, v in (("Wald", self.wald), ("Laplace", self.laplace)) if v is not None]
        lines = [
            f"Comparison of {', '.join(estimates)}: K={K}, d={d} "
            f"({short_names(self.feature_names)}), covariance {self.covariance_type!r}, "
            f"order {self.order!r}",
            f"  entries: {counts}" + (f"; derived: {derived}" if derived else ""),
            f"  {self.level:.0%} {INTERVAL_TYPE} intervals; outside: "
            + (f"MLE {n_mle} of {len(main)}, " if self.mle is not None else "")
            + f"MAP {n_map} of {len(main)}; beside them: {', '.join(sources) or 'none'}",
        ]
        out = ", ".join(f"{r.estimate} {number(r.out_of_sample)}" for r in self.predictive.rows)
        lines.append(
            f"  out of sample (n_train={self.predictive.n_train}, "
            f"n_test={self.predictive.n_test}): {out}"
        )
        lines.append(
            f"  membership: {self.membership.n_label_changes} points change their most "
            f"probable component"
        )
        if self.warnings:
            lines.append(f"  warnings: {len(self.warnings)} (see .warnings)")
        return lines

    def __repr__(self) -> str:
        hint = (
            "  use .to_dataframe() (long=True: a row per estimate), .agreement_dataframe(), "
            ".predictive, .membership"
        )
        return "\n".join([*self._summary(), hint])

    def _repr_html_(self) -> str:
        frame = display_frame(self.to_dataframe(derived=False))
        return html_block(self._summary(), frame)


def params_dict(params: MixtureParams) -> dict:
    """A MixtureParams as plain lists, with its covariance type."""
    return {
        "weights": np.asarray(params.weights).tolist(),
        "means": np.asarray(params.means).tolist(),
        "covariances": np.asarray(params.covariances).tolist(),
        "covariance_type": params.covariance_type,
    }


# --- display: short reprs, pandas frames, notebook HTML --------------------------------------

#: The Entry columns a notebook shows (the frames carry every field).
DISPLAY_COLUMNS = (
    "mle", "map", "mean", "sd", "lower", "upper", "quantile_mle", "quantile_map",
    "wald_lower", "wald_upper", "laplace_lower", "laplace_upper", "r_hat", "ess_bulk",
)  # fmt: skip

#: Rows of a notebook table beyond which pandas shows the head and the tail only.
HTML_MAX_ROWS = 60

#: Each point estimate of the long frame, the Entry fields holding it and the interval
#: beside it: (estimator, value, lower, upper, interval, quantile, outside).
_LONG_ESTIMATORS = (
    ("MLE", "mle", "wald_lower", "wald_upper", "Wald", "quantile_mle", "mle_outside"),
    ("MAP", "map", "laplace_lower", "laplace_upper", "Laplace", "quantile_map", "map_outside"),
    ("posterior", "mean", "lower", "upper", INTERVAL_TYPE, None, None),
    ("truth", "truth", None, None, None, "quantile_truth", "truth_outside"),
)


def entry_component(parameter: str, index: tuple, covariance_type: str | None):
    """The 0-based component of an entry, or None for a shared (tied) covariance entry."""
    if parameter in ("weights", "means") or covariance_type in ("full", "diag", "spherical"):
        return int(index[0])
    return None


def entries_frame(entries, covariance_type: str | None = None):
    """One row per entry, every Entry field a column, indexed by label.

    With ``covariance_type`` a ``component`` column (0-based, missing for a shared
    covariance entry) is added after ``parameter``.
    """
    import pandas as pd

    names = [f.name for f in fields(Entry)]
    frame = pd.DataFrame([asdict(e) for e in entries], columns=names)
    frame = frame.astype({n: float for n in _FLOAT_FIELDS} | {n: "boolean" for n in _BOOL_FIELDS})
    if covariance_type is not None:
        component = [entry_component(e.parameter, e.index, covariance_type) for e in entries]
        frame.insert(1, "component", pd.array(component, dtype="Int64"))
    return frame.set_index("label")


def long_entries_frame(entries, covariance_type: str):
    """One row per entry and point estimate, with the interval that goes with it.

    Columns ``parameter, label, component, estimator, value, lower, upper, interval,
    quantile, outside``: the MLE with its Wald interval, the MAP with its Laplace interval,
    the posterior mean with the posterior interval, and the truth when known. ``quantile``
    is the posterior quantile of the value and ``outside`` whether it lies outside the
    posterior interval (missing for the posterior itself).
    """
    import pandas as pd

    def get(entry, name):
        return None if name is None else getattr(entry, name)

    rows = [
        {
            "parameter": e.parameter,
            "label": e.label,
            "component": entry_component(e.parameter, e.index, covariance_type),
            "estimator": estimator,
            "value": getattr(e, value),
            "lower": get(e, lower),
            "upper": get(e, upper),
            "interval": interval,
            "quantile": get(e, quantile),
            "outside": get(e, outside),
        }
        for e in entries
        for estimator, value, lower, upper, interval, quantile, outside in _LONG_ESTIMATORS
        if getattr(e, value) is not None
    ]
    columns = ["parameter", "label", "component", "estimator", "value", "lower", "upper"]
    frame = pd.DataFrame(rows, columns=[*columns, "interval", "quantile", "outside"])
    return frame.astype(
        {
            "component": "Int64",
            "value": float,
            "lower": float,
            "upper": float,
            "quantile": float,
            "outside": "boolean",
        }
    )


def display_frame(frame):
    """The :data:`DISPLAY_COLUMNS` of an entries frame that hold any value."""
    shown = [c for c in DISPLAY_COLUMNS if c in frame and frame[c].notna().any()]
    return frame[shown]


def html_block(lines, frame) -> str:
    """A few escaped lines of text above a frame's HTML table (pandas escapes the cells)."""
    text = "<br>".join(html.escape(line) for line in lines)
    table = frame.to_html(
        escape=True, max_rows=HTML_MAX_ROWS, float_format="{:.4g}".format, na_rep=""
    )
    return f"<div><p>{text}</p>{table}</div>"


def short_names(names, limit: int = 6) -> str:
    """Names joined by commas, the middle elided when there are more than ``limit``."""
    names = [str(n) for n in names]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join([*names[: limit - 2], "...", *names[-1:]]) + f" ({len(names)})"


def number(value, digits: int = 4) -> str:
    """A float for a repr line: ``digits`` significant figures, ``-`` when missing."""
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:.{digits}g}"


# Entry's optional floats and flags (None when not available) as NaN and pandas' NA.
_FLOAT_FIELDS = tuple(f.name for f in fields(Entry) if f.type in ("float", "float | None"))
_BOOL_FIELDS = tuple(f.name for f in fields(Entry) if f.type in ("bool", "bool | None"))
