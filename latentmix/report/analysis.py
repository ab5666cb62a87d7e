"""The computation behind a report: data to EM fits, posterior draws and a Comparison.

:func:`analyse` loads the data, fits the EM MLE and MAP, samples the posterior of the same
model (relabelled to the MAP) and runs :func:`latentmix.comparison.compare`; it returns an
:class:`Analysis`, which holds everything the page and ``estimates.json`` show. Nothing here
writes a file.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from latentmix.comparison import Comparison, compare
from latentmix.comparison.order import in_order
from latentmix.progress import format_duration
from latentmix.report.settings import MIN_ROWS_PER_COMPONENT, ReportSettings

# The stages of a report, in the order they run: the keys of Analysis.timings (and of
# estimates.json's timings_seconds) and what the page calls them.
STAGES = {
    "load_data": "load data",
    "em_mle": "EM MLE",
    "em_map": "EM MAP",
    "vb": "variational Bayes",
    "compile": "compile the model",
    "sample": "sample the posterior",
    "relabel": "build the model, relabel and diagnose the draws",
    "compare": "compare (incl. PSIS-LOO, Wald, Laplace)",
    "sensitivity": "prior sensitivity",
    "figures": "figures",
    "write": "write files",
}
TIMING_KEYS = tuple(STAGES)


@dataclass
class Analysis:
    """Everything a report shows.

    Attributes
    ----------
    dataset : latentmix.datasets.Dataset
        As loaded (all rows).
    X : ndarray of shape (n, d)
        Rows used for fitting.
    X_test : ndarray of shape (n_test, d) or None
        Held-out rows (None without a test fraction).
    settings : ReportSettings
        With the seed resolved.
    prior : ConjugatePrior
    mle : EMGaussianMixture or None
        None when the MLE does not exist (a component collapsed); ``mle_error`` says why.
    map : EMGaussianMixture
    idata : arviz.InferenceData
        The relabelled posterior draws.
    comparison : Comparison
    diagnostics : dict
        How well the sampler did, and how many draws the relabelling changed: see
        :func:`diagnostics_summary`.
    timings : dict of str to float
        Wall seconds of each stage, keys from :data:`TIMING_KEYS`.
    command : str
    mle_error : str or None
    em_warnings : list of str
        Warnings raised while fitting EM, shown in the report's warning box.
    rows : ndarray of int, shape (n,), or None
        Rows of the data set (from 0) used for fitting; None: all, in order.
    sample_weight : ndarray of shape (n,) or None
        Observation weights of the rows of ``X`` (None: unweighted). Both EM fits, their Wald
        and Laplace intervals and the posterior use them; PSIS-LOO and the log predictive
        densities do not (they are per row, see :func:`latentmix.comparison.compare`).
    imputation : latentmix.report.imputation.Imputation or None
        The missing cells and the most uncertain of them, EM against the posterior
        predictive; None when no cell is missing.
    vb : latentmix.report.vb.VBResult or None
        Mean-field variational Bayes of the same model, prior and rows, in the MAP's
        component order; None when it failed (``vb_error`` says why) or was not run.
    vb_error : str or None
    sensitivity : latentmix.report.sensitivity.PriorSensitivity or None
        The MAP (and VB, and with ``settings.sensitivity`` the posterior) under a weaker and
        a stronger prior.
    labels : ndarray of shape (n,) or None
        Known group labels of the rows of ``X`` (``settings.labels``).
    label_agreement : dict of str to float or None
        Adjusted Rand index of each estimate's clustering against ``labels``.
    modes : latentmix.report.modes.Modes or None
        Whether the MLE, the MAP and the chains are of one optimum.
    data_warnings : list of str
        What the reader said about the data (columns left out, a column of row numbers),
        shown in the report's warning box.
    posterior_rows : ndarray of int, shape (m,), or None
        Rows of ``X`` the posterior was sampled on (``settings.posterior_rows``, a sorted
        random subsample); None: every row.
    """

    dataset: object
    X: np.ndarray
    X_test: np.ndarray | None
    settings: ReportSettings
    prior: object
    mle: object
    map: object
    idata: object
    comparison: Comparison
    diagnostics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    command: str = ""
    mle_error: str | None = None
    em_warnings: list = field(default_factory=list)
    rows: np.ndarray | None = None
    sample_weight: np.ndarray | None = None
    imputation: object = None
    vb: object = None
    vb_error: str | None = None
    sensitivity: object = None
    labels: np.ndarray | None = None
    label_agreement: dict | None = None
    modes: object = None
    data_warnings: list = field(default_factory=list)
    posterior_rows: np.ndarray | None = None

    @property
    def n_missing_cells(self) -> int:
        """Missing (NaN) cells of ``X``."""
        return int(np.isnan(self.X).sum())

    def data_rows(self) -> np.ndarray:
        """Row of the data set (from 0) of each row of ``X``, shape (n,)."""
        return np.arange(len(self.X)) if self.rows is None else self.rows

    def posterior_data(self) -> np.ndarray:
        """The rows of ``X`` the posterior was sampled on, shape (m, d): all, or the subsample."""
        return self.X if self.posterior_rows is None else self.X[self.posterior_rows]


def split_rows(n: int, test_fraction: float, n_components: int, seed: int):
    """Random train/test row indices; both parts keep at least one row, train >= K rows.

    Returns
    -------
    train, test : ndarray of int
        Sorted, disjoint, together ``range(n)``.
    """
    rng = np.random.default_rng(seed)
    n_test = round(test_fraction * n)
    if n_test < 1 or n - n_test < max(2, n_components):
        raise ValueError(
            f"a test fraction of {test_fraction} leaves {n_test} held-out and {n - n_test} "
            f"training rows of {n}; choose a fraction that keeps at least one held-out row and "
            f"{max(2, n_components)} training rows."
        )
    order = rng.permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def posterior_subsample(n: int, size: int | None, seed: int) -> np.ndarray | None:
    """The rows the posterior is sampled on: ``size`` of ``range(n)`` at random, sorted.

    Returns None (every row) when ``size`` is None or at least ``n``. The draw has its own
    stream of ``seed``, so it does not move the other random choices of the report.
    """
    if size is None or size >= n:
        return None
    rng = np.random.default_rng([seed, n, size])
    return np.sort(rng.choice(n, size=size, replace=False))


def diagnostics_summary(diagnostics) -> dict:
    """The sampler's convergence diagnostics of the relabelled draws, JSON-ready.

    Parameters
    ----------
    diagnostics : latentmix.bayes.diagnostics.Diagnostics or arviz.InferenceData
        Diagnosed with :func:`latentmix.bayes.diagnostics.diagnose` when draws are given.

    Returns
    -------
    dict
        :meth:`Diagnostics.to_dict <latentmix.bayes.diagnostics.Diagnostics.to_dict>`:
        ``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, ``n_divergent``, ``ebfmi`` (one
        per chain), ``n_chains``, ``n_draws``, ``n_relabelled``, ``relabelling`` and
        ``problems`` (sentences; empty when healthy).
    """
    from latentmix.bayes.diagnostics import Diagnostics, diagnose
    from latentmix.jsonio import to_jsonable

    if not isinstance(diagnostics, Diagnostics):
        diagnostics = diagnose(diagnostics, warn=False)
    return to_jsonable(diagnostics.to_dict())


def _said(caught, category, prefix: str) -> list[str]:
    """The recorded warnings of ``category`` as ``"prefix: message"``; others passed on."""
    messages = []
    for w in caught:
        if issubclass(w.category, category):
            messages.append(f"{prefix}: {w.message}")
        else:  # not this stage's to say: pass it on
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return messages


def _fit_em(name, X, settings, prior, progress, sample_weight=None):
    """One EM fit (prior None: the MLE) with the UserWarnings it raised, as text."""
    from latentmix.estimator import EMGaussianMixture

    progress(f"EM {name}: {settings.n_init} restarts ...")
    model = EMGaussianMixture(
        settings.n_components,
        covariance_type=settings.covariance_type,
        prior=prior,
        n_init=settings.n_init,
        random_state=settings.seed,
        missing=settings.missing,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, sample_weight=sample_weight)
    messages = _said(caught, UserWarning, f"EM {name}")
    scale = 1e-6 * max(1.0, abs(model.objective_))
    n_best = sum(abs(r["objective"] - model.objective_) <= scale for r in model.restarts_)
    progress(
        f"EM {name}: objective {model.objective_:.6g} after {model.n_iter_} iterations; "
        f"{n_best} of {len(model.restarts_)} restarts reach it"
    )
    return model, messages


#: Above this estimate of the sampling time the report stops first (unless allowed).
LONG_SAMPLING_SECONDS = 3600.0


def _expected_seconds(X, settings, reference, progress) -> float:
    """The estimate of the sampling time, said before sampling; an error above an hour."""
    from latentmix.bayes.sample import GRADIENTS_PER_ITERATION, gradient_seconds
    from latentmix.bayes.sample import sampling_seconds as estimate

    s = settings
    gradient = gradient_seconds(X, reference)
    seconds = estimate(gradient, s.draws, s.tune, s.chains)
    progress(
        f"posterior: sampling should take about {format_duration(seconds)} ({s.chains} chains x "
        f"{s.tune + s.draws} iterations, about {GRADIENTS_PER_ITERATION} gradients each at "
        f"{1e3 * gradient:.2g} ms for {X.shape[0]} rows)"
    )
    if seconds > LONG_SAMPLING_SECONDS and not s.allow_long:
        n = X.shape[0]
        # A subsample that samples in about a sixth of the limit (the gradient is linear in n).
        m = max(
            int(float(f"{n * LONG_SAMPLING_SECONDS / 6 / seconds:.1g}")),
            MIN_ROWS_PER_COMPONENT * s.n_components,
        )
        short = format_duration(estimate(gradient, 250, 250, s.chains))
        two = format_duration(estimate(gradient, s.draws, s.tune, 2))
        raise ValueError(
            f"sampling the posterior of {X.shape[0]} rows would take about "
            f"{format_duration(seconds)}; the report stopped before sampling (the EM fits took "
            f"seconds). Choose one: fewer iterations, --draws 250 --tune 250 (about {short}; "
            "the Monte Carlo error of every posterior mean and quantile grows about "
            f"{np.sqrt(s.draws / 250):.1f}x, and R-hat and ESS still say whether 250 draws are "
            f"enough); --chains 2 (about {two}; R-hat has fewer chains to compare); "
            f"--posterior-rows {m}, the posterior of a random subsample of {m} rows with EM "
            f"and the comparison on all {n} (about {format_duration(seconds * m / n)}; its "
            f"sds are about sqrt(n / m) = {np.sqrt(n / m):.1f} times those of all the rows, "
            "so its intervals are conservative for these data); or run it as it is with "
            "--allow-long."
        )
    return seconds


class _SamplingMonitor:
    """Progress lines while nutpie samples: iterations done and the time left.

    The time left is measured: the iterations still to run at the rate since sampling
    began (the first line, before any is measured, repeats the estimate).
    """

    def __init__(self, progress, expected: float):
        self.progress = progress
        self.expected = expected

    def __call__(self, done: int, total: int, seconds: float) -> None:
        if done == 0:
            self.progress(
                f"posterior: model ready; sampling {total} iterations, about "
                f"{format_duration(self.expected)}"
            )
            return
        left = (total - done) * seconds / done
        self.progress(
            f"posterior: {done} of {total} iterations ({100 * done / total:.0f}%) in "
            f"{format_duration(seconds)}; about {format_duration(left)} left"
        )


def chain_starts(optima, settings) -> list:
    """Where the chains start: the first ``chains`` optima, or the MAP alone.

    Parameters
    ----------
    optima : list of Optimum
        The distinct optima of the MAP's restarts, best first, in the reference's order
        (:func:`latentmix.report.modes.map_optima`).
    settings : ReportSettings
        ``chain_starts="optima"``: chain c starts at optimum c in turn (chain 0 at the MAP);
        ``"map"``: every chain at the MAP.

    Returns
    -------
    list of MixtureParams
        At most ``settings.chains``, best first.
    """
    n_starts = settings.chains if settings.chain_starts == "optima" else 1
    return [o.params for o in optima[:n_starts]]


def _sample(
    X, settings, prior, reference, feature_names, progress, sample_weight=None, starts=None
):
    """The relabelled posterior draws and their Diagnostics; times of compile and sampling.

    ``starts``: where the chains start, best first (chain c at ``starts[c % len(starts)]``);
    the reference alone if not given.
    """
    from latentmix.bayes.diagnostics import SamplingWarning
    from latentmix.bayes.estimator import PyMCGaussianMixture

    s = settings
    monitor = None
    if s.sampler == "nutpie":
        monitor = _SamplingMonitor(progress, _expected_seconds(X, s, reference, progress))
    progress(
        f"posterior: compiling (or loading) the model, then sampling {s.chains} chains x "
        f"({s.tune} tune + {s.draws} draws) with {s.sampler} ..."
    )
    clock = time.perf_counter()
    with warnings.catch_warnings():
        # Sampling problems are shown in the report's warning box (from diagnostics_), not
        # raised: a report of a bad run is still worth reading.
        warnings.simplefilter("ignore", SamplingWarning)
        posterior = PyMCGaussianMixture(
            s.n_components,
            covariance_type=s.covariance_type,
            prior=prior,
            missing=s.missing,
            cache=getattr(s, "cache", True),
        )
        posterior.fit(
            X,
            draws=s.draws,
            tune=s.tune,
            chains=s.chains,
            random_state=s.seed,
            sampler=s.sampler,
            reference=reference,
            feature_names=list(feature_names),
            sample_weight=sample_weight,
            monitor=monitor,
            starts=starts,
        )
    attrs = posterior.idata_.posterior.attrs
    # The sampler's own split of its time; the rest of fit is building the model,
    # relabelling and diagnosing the draws.
    total = time.perf_counter() - clock
    timings = {
        "compile": float(attrs["compile_seconds"]),
        "sample": float(attrs["sample_seconds"]),
    }
    timings["relabel"] = max(0.0, total - timings["compile"] - timings["sample"])
    return posterior.idata_, posterior.diagnostics_, timings


def _is_data_frame(source) -> bool:
    return type(source).__module__.startswith("pandas") and hasattr(source, "columns")


def dataset_from_frame(frame, columns=None, name: str = "DataFrame"):
    """A :class:`~latentmix.datasets.Dataset` of a pandas DataFrame, named by its columns.

    The names are the DataFrame's column names (what a fit on it keeps as
    ``feature_names_in_``), checked as a CSV header's are (none empty or repeated), so that
    the report's tables, figures and ``estimates.json`` use them.

    Parameters
    ----------
    frame : pandas.DataFrame
    columns : list of str, optional
        The columns to use (all if not given).
    name : str
        What the report calls the data.
    """
    from latentmix.datasets import Dataset, check_feature_names

    names = [str(c) for c in frame.columns]
    check_feature_names(names, where=name)
    if columns:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise ValueError(
                f"{name} has no column {unknown[0]!r}; its columns are {', '.join(names)}."
            )
        frame = frame[list(columns)]
        names = list(columns)
    return Dataset(name, frame.to_numpy(dtype=float, na_value=np.nan), tuple(names))


def _load_dataset(source, settings, columns):
    """The Dataset of a report's ``source`` (see :func:`analyse`), labels column included."""
    from latentmix.datasets import Dataset, load_data
    from latentmix.report import labels as report_labels

    columns = report_labels.csv_columns(source, settings.labels, columns, settings.weights)
    if isinstance(source, Dataset):
        return source
    if _is_data_frame(source):
        frame = source
        weights = None
        if settings.weights is not None:
            if settings.weights not in frame.columns:
                raise ValueError(f"the DataFrame has no weights column {settings.weights!r}.")
            weights = frame[settings.weights].to_numpy(dtype=float)
            frame = frame.drop(columns=[settings.weights])
        dataset = dataset_from_frame(frame, columns)
        if weights is not None:
            dataset = replace(dataset, sample_weight=weights, weights_column=settings.weights)
        return dataset
    return load_data(source, columns, missing=settings.missing, weights=settings.weights)


def analyse(source, settings: ReportSettings, *, progress=None, command: str = "") -> Analysis:
    """Fit MLE and MAP by EM, sample the posterior, compare.

    Parameters
    ----------
    source : str, Path, latentmix.datasets.Dataset or pandas.DataFrame
        A built-in data set name, a CSV path, a loaded Dataset, or a DataFrame (its column
        names name the features everywhere, see :func:`dataset_from_frame`).
    settings : ReportSettings
    progress : latentmix.progress.Progress, optional
        Told about each stage; silent if not given.
    command : str
        The command line, recorded in the report.

    Returns
    -------
    Analysis
    """
    from latentmix.datasets import DataWarning
    from latentmix.em.estep import DegenerateMixtureError
    from latentmix.em.missing import default_prior
    from latentmix.priors import ConjugatePrior
    from latentmix.progress import Progress
    from latentmix.report import labels as report_labels
    from latentmix.report.imputation import imputation
    from latentmix.report.modes import check_modes, map_optima
    from latentmix.report.sensitivity import prior_sensitivity
    from latentmix.report.vb import fit_vb
    from latentmix.validation import check_data, check_sample_weight, check_scale

    progress = progress or Progress(quiet=True)
    settings = settings.check()
    K, covariance_type = settings.n_components, settings.covariance_type
    timings = {}
    clock = time.perf_counter()

    columns = list(settings.columns) if settings.columns else None
    # What the reader says about the data (text columns left out, a column of row numbers)
    # goes to the warning box and the progress lines, not to Python's warning printer.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        dataset = _load_dataset(source, settings, columns)
    data_warnings = _said(caught, DataWarning, "Data")
    dataset, target = report_labels.take_labels(dataset, source, settings.labels)
    X_all = check_data(dataset.data, n_components=K, missing=settings.missing)
    check_scale(X_all, dataset.feature_names)  # before the prior calls it "singular"
    w_all = None
    if dataset.sample_weight is not None:
        w_all = check_sample_weight(dataset.sample_weight, len(X_all))
    X, X_test, train, w = X_all, None, None, w_all
    if settings.test_fraction:
        train, test = split_rows(len(X_all), settings.test_fraction, K, settings.seed)
        X, X_test = X_all[train], X_all[test]
        if w_all is not None:
            w = check_sample_weight(w_all[train], len(train))  # all zero -> an error
    prior = settings.prior
    if isinstance(prior, str):
        if w is None and not np.isnan(X).any():
            prior = ConjugatePrior.default(X, K, covariance_type)
        else:  # what EM's prior="default" builds from incomplete or weighted rows
            prior = default_prior(X, K, covariance_type, sample_weight=w)
    prior.check(X.shape[1], K, covariance_type)
    timings["load_data"] = time.perf_counter() - clock
    for message in data_warnings:
        progress(message)
    progress(
        f"data {dataset.name}: {X.shape[0]} rows x {X.shape[1]} columns"
        + (f", {int(np.isnan(X).sum())} cells missing" if np.isnan(X).any() else "")
        + ("" if w is None else f", weights from {dataset.weights_column or 'the data set'}")
    )

    clock = time.perf_counter()
    mle, mle_error, em_warnings = None, None, []
    try:
        mle, em_warnings = _fit_em("MLE", X, settings, None, progress, w)
    except DegenerateMixtureError as err:
        mle_error = str(err)
        progress(f"EM MLE: no MLE ({err})")
    timings["em_mle"] = time.perf_counter() - clock
    clock = time.perf_counter()
    em_map, map_warnings = _fit_em("MAP", X, settings, prior, progress, w)
    em_warnings += map_warnings
    timings["em_map"] = time.perf_counter() - clock
    # The stated component order, applied once: VB, the sampler's relabelling, the imputation
    # and the comparison all align to this reference (latentmix.comparison.order).
    reference = in_order(em_map.params_, settings.order)
    optima = map_optima(X, em_map, reference)
    starts = chain_starts(optima, settings)
    if len(starts) > 1:
        progress(
            f"posterior: the chains start at {len(starts)} of the MAP's {len(optima)} distinct "
            "EM optima, objectives "
            + ", ".join(f"{o.objective:.6g}" for o in optima[: len(starts)])
        )
    clock = time.perf_counter()
    vb, vb_error = None, None
    try:
        vb = fit_vb(X, settings, prior, reference, w)
        progress(f"VB: ELBO {vb.elbo:.6g} after {vb.n_iter} iterations")
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
        vb_error = str(err)
        progress(f"VB: failed ({err})")
    timings["vb"] = time.perf_counter() - clock

    sub = posterior_subsample(len(X), settings.posterior_rows, settings.seed)
    if sub is not None:
        progress(
            f"posterior: on a random subsample of {len(sub)} of the {len(X)} rows "
            "(--posterior-rows); EM, VB and the comparison use every row"
        )
    idata, diagnostics, sample_timings = _sample(
        X if sub is None else X[sub],
        settings,
        prior,
        reference,
        dataset.feature_names,
        progress,
        None if w is None or sub is None else w[sub],
        starts=starts,
    )
    timings.update(sample_timings)
    diagnostics = diagnostics_summary(diagnostics)
    progress(
        f"posterior: {diagnostics['n_divergent']} divergences, "
        f"{diagnostics['n_relabelled']} draws relabelled ({diagnostics['n_switched']} "
        "switched within a chain), largest R-hat "
        f"{diagnostics['max_r_hat']:.3f}"
        + (f"; {len(diagnostics['problems'])} problem(s)" if diagnostics["problems"] else "")
    )

    clock = time.perf_counter()
    comparison = compare(
        X,
        idata,
        reference,
        order=settings.order,
        mle=mle,
        truth=dataset.truth,
        feature_names=dataset.feature_names,
        X_test=X_test,
        prior=prior,
        level=settings.level,
        random_state=settings.seed,
        sample_weight=w,
        posterior_rows=sub,
    )
    imp = imputation(
        X, reference, idata, dataset.feature_names, level=settings.level,
        data_rows=np.arange(len(X)) if train is None else train, seed=settings.seed,
    )  # fmt: skip
    modes = check_modes(
        X,
        mle,
        em_map,
        idata,
        comparison=comparison,
        sample_weight=w,
        missing=settings.missing,
        optima=optima,
    )
    timings["compare"] = time.perf_counter() - clock
    progress("comparison done")
    if target is not None and train is not None:
        target = target[train]
    agreement = None if target is None else report_labels.agreement(target, comparison, X, vb)
    clock = time.perf_counter()
    sensitivity = prior_sensitivity(
        X, settings, prior, comparison.map, comparison, vb=vb, sample_weight=w,
        posterior=settings.sensitivity, progress=progress, posterior_rows=sub,
    )  # fmt: skip
    timings["sensitivity"] = time.perf_counter() - clock
    return Analysis(
        dataset=dataset,
        X=X,
        X_test=X_test,
        settings=settings,
        prior=prior,
        mle=mle,
        map=em_map,
        idata=idata,
        comparison=comparison,
        diagnostics=diagnostics,
        timings=timings,
        command=command,
        mle_error=mle_error,
        em_warnings=em_warnings,
        rows=train,
        sample_weight=w,
        imputation=imp,
        vb=vb,
        vb_error=vb_error,
        sensitivity=sensitivity,
        labels=target,
        label_agreement=agreement,
        modes=modes,
        data_warnings=data_warnings,
        posterior_rows=sub,
    )
