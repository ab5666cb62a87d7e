"""Build a comparison report: fit MLE and MAP by EM, sample the posterior, write the page.

Two steps, usable separately:

* :func:`analyse` loads the data, fits the EM MLE and MAP, samples the posterior of the same
  model with PyMC (relabelled to the MAP) and runs :func:`latentmix.compare.compare`; it
  returns an :class:`Analysis`.
* :func:`write_report` turns an Analysis into ``OUT/index.html`` (self-contained: figures as
  data URIs, inline CSS, no scripts), ``OUT/report.md``, ``OUT/figures/*.png``,
  ``OUT/estimates.json`` and ``OUT/posterior.nc``.

:func:`make_report` does both. Everything is written into a temporary directory beside OUT
which replaces OUT only when complete, so a failed run never leaves a half-written report and
never damages an earlier one.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from latentmix.compare import GROUPS, Comparison, compare, posterior_draws
from latentmix.params import check_covariance_type

# Warning thresholds beyond the sampler's own (latentmix.bayes.diagnostics.THRESHOLDS).
PARETO_K_MAX = 0.7
RELABELLED_WARN_FRACTION = 0.10
_PACKAGES = (
    "latentmix", "numpy", "scipy", "pymc", "pytensor", "arviz", "nutpie", "matplotlib",
)  # fmt: skip


# --- settings, progress and the analysis ----------------------------------------------------


@dataclass(frozen=True)
class ReportSettings:
    """What a report fits and samples.

    Attributes
    ----------
    n_components : int
    covariance_type : str
    prior : "default" or ConjugatePrior
    draws, tune, chains : int
        Posterior draws per chain after ``tune`` tuning steps.
    seed : int or None
        One seed for the split, EM restarts and the sampler; None draws one (and records it).
    test_fraction : float or None
        Hold out this fraction of the rows for the predictive comparison.
    columns : tuple of str or None
        Columns of a CSV (or data set) to use.
    n_init : int
        EM restarts.
    sampler : str
        ``"nutpie"`` or ``"pymc"``.
    """

    n_components: int
    covariance_type: str = "full"
    prior: object = "default"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int | None = None
    test_fraction: float | None = None
    columns: tuple | None = None
    n_init: int = 10
    sampler: str = "nutpie"

    def check(self) -> ReportSettings:
        """Validate; returns self with the seed resolved."""
        check_covariance_type(self.covariance_type)
        for name in ("n_components", "draws", "chains", "n_init"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1; got {value!r}.")
        from latentmix.bayes.diagnostics import check_run_size

        check_run_size(self.chains, self.draws)
        if isinstance(self.tune, bool) or not isinstance(self.tune, int) or self.tune < 0:
            raise ValueError(f"tune must be a whole number >= 0; got {self.tune!r}.")
        if self.test_fraction is not None and not 0 < self.test_fraction < 1:
            raise ValueError(
                f"test fraction must be strictly between 0 and 1; got {self.test_fraction!r}."
            )
        if isinstance(self.prior, str) and self.prior != "default":
            raise ValueError(
                f"prior must be 'default' or a ConjugatePrior; got {self.prior!r} (the "
                "posterior needs a proper prior)."
            )
        seed = self.seed
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**31)
        return replace(self, seed=int(seed))


class Progress:
    """Progress lines on stderr with the elapsed time; silent when ``quiet``."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        """Print one progress line."""
        if not self.quiet:
            stream = self.stream or sys.stderr
            print(f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=stream)
            stream.flush()


@dataclass
class Analysis:
    """Everything a report shows.

    Attributes
    ----------
    dataset : latentmix.datasets.Dataset
        As loaded (all rows).
    X, X_test : ndarray
        Rows used for fitting and held-out rows (None without a test fraction).
    settings : ReportSettings
        With the seed resolved.
    prior : ConjugatePrior
    mle : EMGaussianMixture or None
        None when the MLE does not exist (a component collapsed); ``mle_error`` says why.
    map : EMGaussianMixture
    idata : arviz.InferenceData
    comparison : Comparison
    sampling : dict
        ``sampler``, ``divergences``, ``n_relabelled``, ``n_draws_total`` and whatever the
        sampler reports.
    timings : dict of str to float
        Wall seconds of each stage.
    command : str
    mle_error : str or None
    em_warnings : list of str
        Warnings raised while fitting EM, shown in the report's warning box.
    rows : ndarray of int or None
        Rows of the data set used for fitting (None: all, in order).
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
    sampling: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    command: str = ""
    mle_error: str | None = None
    em_warnings: list = field(default_factory=list)
    rows: np.ndarray | None = None

    def data_rows(self) -> np.ndarray:
        """Row of the data set (from 0) of each row of ``X``."""
        return np.arange(len(self.X)) if self.rows is None else self.rows


def split_rows(n: int, test_fraction: float, n_components: int, seed: int):
    """Random train/test row indices; both parts keep at least one row, train >= K rows."""
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


def analyse(source, settings: ReportSettings, *, progress=None, command: str = "") -> Analysis:
    """Fit MLE and MAP by EM, sample the posterior, compare.

    Parameters
    ----------
    source : str, Path or latentmix.datasets.Dataset
        A built-in data set name, a CSV path, or a loaded Dataset.
    settings : ReportSettings
    progress : callable, optional
        Called with one line of text per stage.
    command : str
        The command line, recorded in the report.

    Returns
    -------
    Analysis
    """
    import warnings

    from latentmix.datasets import Dataset, load_data
    from latentmix.em.estep import DegenerateMixtureError
    from latentmix.estimator import EMGaussianMixture
    from latentmix.priors import ConjugatePrior
    from latentmix.validation import check_data

    progress = progress or (lambda message: None)
    settings = settings.check()
    timings = {}
    clock = time.perf_counter()

    columns = list(settings.columns) if settings.columns else None
    dataset = source if isinstance(source, Dataset) else load_data(source, columns)
    X_all = check_data(dataset.data, n_components=settings.n_components)
    X, X_test, train = X_all, None, None
    if settings.test_fraction:
        train, test = split_rows(
            len(X_all), settings.test_fraction, settings.n_components, settings.seed
        )
        X, X_test = X_all[train], X_all[test]
    K, kind = settings.n_components, settings.covariance_type
    prior = settings.prior
    if isinstance(prior, str):
        prior = ConjugatePrior.default(X, K, kind)
    prior.check(X.shape[1], K, kind)
    timings["load data"] = time.perf_counter() - clock
    progress(f"data {dataset.name}: {X.shape[0]} rows x {X.shape[1]} columns")

    mle, mle_error, em_warnings = None, None, []
    for name in ("MLE", "MAP"):
        clock = time.perf_counter()
        progress(f"EM {name}: {settings.n_init} restarts ...")
        model = EMGaussianMixture(
            K,
            covariance_type=kind,
            prior=None if name == "MLE" else prior,
            n_init=settings.n_init,
            random_state=settings.seed,
        )
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(X)
        except DegenerateMixtureError as err:
            if name == "MAP":
                raise
            mle_error = str(err)
            progress(f"EM MLE: no MLE ({err})")
            timings["EM MLE"] = time.perf_counter() - clock
            continue
        for w in caught:
            if issubclass(w.category, UserWarning):
                em_warnings.append(f"EM {name}: {w.message}")
            else:  # not about the fit: pass it on
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        n_best = sum(
            abs(r["objective"] - model.objective_) <= 1e-6 * max(1.0, abs(model.objective_))
            for r in model.restarts_
        )
        progress(
            f"EM {name}: objective {model.objective_:.6g} after {model.n_iter_} iterations; "
            f"{n_best} of {len(model.restarts_)} restarts reach it"
        )
        timings[f"EM {name}"] = time.perf_counter() - clock
        if name == "MLE":
            mle = model
        else:
            em_map = model

    from latentmix.bayes.diagnostics import SamplingWarning

    clock = time.perf_counter()
    progress(
        f"posterior: compiling and sampling {settings.chains} chains x ({settings.tune} tune + "
        f"{settings.draws} draws) with {settings.sampler} ..."
    )
    with heartbeat(progress, "posterior: still sampling"), warnings.catch_warnings():
        # Sampling problems are shown in the report's warning box (from diagnostics_), not
        # raised: a report of a bad run is still worth reading.
        warnings.simplefilter("ignore", SamplingWarning)
        from latentmix.bayes.estimator import PyMCGaussianMixture

        posterior = PyMCGaussianMixture(K, covariance_type=kind, prior=prior)
        posterior.fit(
            X,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            random_seed=settings.seed,
            sampler=settings.sampler,
            reference=em_map.params_,
            feature_names=list(dataset.feature_names),
        )
    idata = posterior.idata_
    timings["posterior (compile + sample)"] = time.perf_counter() - clock
    sampling = sampling_summary(idata, posterior.diagnostics_)
    progress(
        f"posterior: {sampling['divergences']} divergences, "
        f"{sampling['n_relabelled']} draws relabelled, largest R-hat "
        f"{sampling['r_hat_max']:.3f}"
        + (f"; {len(sampling['problems'])} problem(s)" if sampling["problems"] else "")
    )

    clock = time.perf_counter()
    comparison = compare(
        X,
        idata,
        em_map,
        mle=mle,
        truth=dataset.truth,
        feature_names=dataset.feature_names,
        X_test=X_test,
        prior=prior,
        random_state=settings.seed,
    )
    timings["compare (incl. PSIS-LOO, Wald, Laplace)"] = time.perf_counter() - clock
    progress("comparison done")
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
        sampling=sampling,
        timings=timings,
        command=command,
        mle_error=mle_error,
        em_warnings=em_warnings,
        rows=train,
    )


def sampling_summary(idata, diagnostics=None) -> dict:
    """Sampler facts and diagnostics of the relabelled draws, JSON-ready.

    Parameters
    ----------
    idata : arviz.InferenceData
        As written by PyMCGaussianMixture (``posterior.attrs`` holds ``sampler`` and
        ``relabel_n_permuted``).
    diagnostics : latentmix.bayes.diagnostics.Diagnostics, optional
        Computed with :func:`latentmix.bayes.diagnostics.diagnose` if not given.
    """
    from latentmix.bayes.diagnostics import diagnose

    if diagnostics is None:
        diagnostics = diagnose(idata, warn=False)
    post = idata.posterior
    return {
        "sampler": str(post.attrs.get("sampler", "")),
        "chains": int(post.sizes["chain"]),
        "draws": int(post.sizes["draw"]),
        "n_draws_total": int(post.sizes["chain"] * post.sizes["draw"]),
        "divergences": int(diagnostics.n_divergent),
        "n_relabelled": int(post.attrs.get("relabel_n_permuted", 0)),
        "relabel_method": str(post.attrs.get("relabel_method", "")),
        "r_hat_max": float(diagnostics.rhat_max),
        "ess_bulk_min": float(diagnostics.ess_bulk_min),
        "ess_tail_min": float(diagnostics.ess_tail_min),
        "ebfmi": [float(v) for v in diagnostics.ebfmi],
        "problems": list(diagnostics.problems),
    }


@contextlib.contextmanager
def heartbeat(progress, message: str, every: float = 15.0):
    """Report elapsed time every ``every`` seconds while a long call runs."""
    import threading

    stop = threading.Event()
    start = time.perf_counter()

    def beat():
        while not stop.wait(every):
            progress(f"{message} ({time.perf_counter() - start:.0f} s)")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# --- writing ---------------------------------------------------------------------------------


def is_report(directory) -> bool:
    """True for a directory written by :func:`write_files` (index.html and estimates.json)."""
    directory = Path(directory)
    return (directory / "index.html").is_file() and (directory / "estimates.json").is_file()


@contextlib.contextmanager
def staging_directory(out):
    """A temporary directory beside ``out`` that replaces ``out`` when the block succeeds.

    The directory is created at once, so an unwritable destination fails before any work is
    done. On an exception it is removed and ``out`` is left as it was. On success an existing
    ``out`` is moved aside, the new directory renamed into place, and the old one removed.

    Only an empty directory or an earlier report (a directory holding ``index.html`` and
    ``estimates.json``) is ever replaced: pointing ``out`` at any other directory is an error,
    so that a mistyped path cannot delete someone's files.
    """
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory; choose another path.")
    if out.is_dir() and any(out.iterdir()) and not is_report(out):
        raise ValueError(
            f"--out {out} is a directory that holds something other than a latentmix report; "
            "it would be replaced as a whole. Choose a new or empty directory."
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        # mkdtemp makes the directory private (0700); a report is as readable as any file.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
    except OSError as err:
        raise ValueError(
            f"cannot write the report to {out}: {err.strerror or err}; choose a writable --out."
        ) from None
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    try:
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    except OSError:
        # Put the earlier report back where it was.
        if old is not None and (old / out.name).exists() and not out.exists():
            os.replace(old / out.name, out)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def make_report(source, out, settings: ReportSettings, *, command="", quiet=False) -> Path:
    """Analyse and write a report; returns the path of ``index.html``.

    Parameters
    ----------
    source : str, Path or Dataset
    out : str or Path
        The report directory; replaced only when the new report is complete.
    settings : ReportSettings
    command : str
        Recorded in the report.
    quiet : bool
        No progress on stderr.
    """
    from latentmix.threads import single_threaded_blas

    progress = Progress(quiet)
    out = Path(out)
    # Every matrix here is d x d: a multi-threaded BLAS only adds thread wake-ups (which cost
    # seconds over an EM fit on a busy machine).
    with staging_directory(out) as tmp, single_threaded_blas():
        analysis = analyse(source, settings, progress=progress, command=command)
        write_files(analysis, tmp, progress=progress)
    progress(f"report written to {out}")
    return out / "index.html"


def write_report(analysis: Analysis, out, *, progress=None) -> Path:
    """Write the report of an Analysis to ``out`` atomically; returns the path of index.html."""
    out = Path(out)
    with staging_directory(out) as tmp:
        write_files(analysis, tmp, progress=progress)
    return out / "index.html"


def write_files(analysis: Analysis, directory, *, progress=None) -> None:
    """Write every file of the report into an existing (empty) ``directory``."""
    progress = progress or (lambda message: None)
    directory = Path(directory)
    figdir = directory / "figures"
    figdir.mkdir()
    clock = time.perf_counter()
    progress("drawing figures ...")
    figures = draw_figures(analysis, figdir)
    analysis.timings["figures"] = time.perf_counter() - clock
    clock = time.perf_counter()
    posterior_file(analysis.idata).to_netcdf(str(directory / "posterior.nc"))
    context = report_context(analysis, figures)
    with open(directory / "estimates.json", "w", encoding="utf-8") as f:
        json.dump(estimates_record(analysis), f, indent=1, allow_nan=False)
        f.write("\n")
    analysis.timings["write files"] = time.perf_counter() - clock
    context["timings"] = _timing_rows(analysis.timings)
    env_html, env_md = _environments()
    for fig in context["figures"]:
        fig["data_uri"] = _data_uri(figdir / fig["file"])
    (directory / "index.html").write_text(
        env_html.get_template("report.html.j2").render(**context), encoding="utf-8"
    )
    (directory / "report.md").write_text(
        env_md.get_template("report.md.j2").render(**context), encoding="utf-8"
    )


def posterior_file(idata):
    """The InferenceData as saved: draws on the model's own scale, without bulky extras.

    Left out: warm-up draws, the unconstrained (transformed) variables, and the pointwise
    log-likelihood (n values per draw; :func:`latentmix.compare.draw_log_likelihood`
    recomputes it from the draws and the data).
    """
    import arviz as az

    groups = {
        g: idata[g]
        for g in idata.groups()
        if not g.startswith("warmup") and g not in ("log_likelihood", "posterior")
    }
    post = idata.posterior
    hidden = [v for v in post.data_vars if str(v).endswith("__")]
    return az.InferenceData(posterior=post.drop_vars(hidden), **groups)


def draw_figures(analysis: Analysis, figdir: Path) -> list[dict]:
    """Make every figure as PNG in ``figdir``; returns their file names, titles, captions."""
    import matplotlib

    matplotlib.use("Agg")
    from latentmix.report import figures as F

    comp = analysis.comparison
    draws = posterior_draws(analysis.idata, comp.covariance_type)
    d = comp.map.n_features
    out = []

    def add(name, fig, title, caption):
        F.save(fig, figdir / name)
        out.append({"file": name, "title": title, "caption": caption})

    if d == 1:
        add(
            "data.png",
            F.density_1d(analysis.X, comp, draws, comp.interval),
            "The data and the fitted densities",
            "Histogram of the data (ticks: every observation) with the plug-in mixture "
            "densities of the MLE and the MAP and the posterior predictive density (mean over "
            f"draws) with its pointwise {comp.interval:.0%} band.",
        )
    elif d == 2:
        add(
            "data.png",
            F.scatter_2d(analysis.X, comp, draws),
            "The data and the fitted components",
            "Points coloured by their most probable component under the MAP; 95% probability "
            "ellipses of each component for the MLE, the MAP, the truth where known, and 40 "
            "posterior draws.",
        )
    else:
        add(
            "data.png",
            F.pairs(analysis.X, comp, draws),
            "The data and the fitted components, pairwise",
            f"Pairs of the leading {min(d, 4)} of {d} features with the 95% ellipses of the "
            "marginal components (MLE, MAP, truth where known, 25 posterior draws).",
        )
    for group in GROUPS:
        add(
            f"posterior_{group}.png",
            F.marginals(comp, draws, group),
            f"Posterior of the {group}",
            f"Posterior histogram of every entry (central 99% of the draws) with its "
            f"{comp.interval:.0%} equal-tailed interval (shaded) and the point estimates"
            + (
                "; blue outline: histogram of draws from the Laplace approximation around the MAP"
                if comp.laplace is not None
                else ""
            )
            + (
                f"; orange bar below: the {comp.interval:.0%} Wald interval of the MLE."
                if comp.wald is not None
                else "."
            ),
        )
    add(
        "membership.png",
        F.membership(analysis.X, comp, analysis.data_rows()),
        "Cluster membership",
        "Left: each point's EM responsibility at the MAP against its posterior membership "
        "probability (mean over draws, bar ± 1 sd); points on the diagonal agree, labelled "
        "points (row numbers, from 1) disagree most. Right: where in the data membership is "
        "uncertain.",
    )
    restarts = {"MLE": [], "MAP": []}
    for name, model in (("MLE", analysis.mle), ("MAP", analysis.map)):
        if model is not None:
            restarts[name] = [r["objective_history"] for r in model.restarts_]
    add(
        "em_objective.png",
        F.em_objective(restarts),
        "EM objective by iteration",
        "For every restart, how far the objective (log-likelihood for the MLE, log-likelihood "
        "+ log-prior for the MAP) is below the best value found. Runs that flatten above the "
        "floor stopped at a worse local optimum.",
    )
    for group in GROUPS:
        add(
            f"trace_{group}.png",
            F.trace_rank(comp, draws, group),
            f"Trace and rank plots: {group}",
            "Left: draws by chain after relabelling. Right: histogram of the ranks of each "
            "chain's draws among all draws; for well-mixed chains they are flat (dotted line).",
        )
    return out


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# --- the content -----------------------------------------------------------------------------


def _fmt(value, digits=4) -> str:
    """A number for a table: 4 significant digits, an em dash for missing."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    return f"{value:.{digits}g}"


def _timing_rows(timings: dict) -> list[dict]:
    rows = [{"stage": k, "seconds": f"{v:.1f}"} for k, v in timings.items()]
    rows.append({"stage": "total", "seconds": f"{sum(timings.values()):.1f}"})
    return rows


def package_versions() -> list[dict]:
    """Versions of Python and the packages the report depends on."""
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in _PACKAGES:
        try:
            rows.append({"package": name, "version": metadata.version(name)})
        except metadata.PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    return rows


def diagnostics_summary(analysis: Analysis) -> dict:
    """The sampler's diagnostics with the predictive ones (Pareto k) beside them."""
    from latentmix.bayes.diagnostics import THRESHOLDS

    s = analysis.sampling
    pred = analysis.comparison.predictive
    return {
        **s,
        "pareto_k_bad": pred.pareto_k_bad,
        "pareto_k_max": pred.pareto_k_max,
        "ess_threshold": round(THRESHOLDS["ess_per_chain"] * s["chains"]),
        "r_hat_threshold": THRESHOLDS["rhat"],
        "ebfmi_threshold": THRESHOLDS["ebfmi"],
    }


def warnings_list(analysis: Analysis, diag: dict) -> list[str]:
    """Plain-language warnings for the box at the top of the report (empty if all is well).

    The sampler's own problems (R-hat, ESS, divergences, E-BFMI; see
    :mod:`latentmix.bayes.diagnostics`) come first, then those of this comparison.
    """
    out = list(diag["problems"])
    n_total = max(1, diag["n_draws_total"])
    if diag["n_relabelled"] > RELABELLED_WARN_FRACTION * n_total:
        out.append(
            f"{diag['n_relabelled']} of {n_total} draws had to be relabelled: the components "
            "overlap or swap often, so component-wise summaries are fragile."
        )
    if diag["pareto_k_bad"]:
        out.append(
            f"PSIS-LOO is unreliable at {diag['pareto_k_bad']} point(s) (Pareto k above "
            f"{PARETO_K_MAX}, largest {diag['pareto_k_max']:.2f}); trust the held-out "
            "comparison (--test-fraction) more."
        )
    if analysis.mle_error:
        out.append(f"There is no MLE: {analysis.mle_error}")
    # Warnings EM raised (ConvergenceWarning and the like), once each.
    out += list(dict.fromkeys(analysis.em_warnings))
    # Wald or Laplace intervals that could not be computed, and why.
    out += list(dict.fromkeys(analysis.comparison.warnings))
    return out


def headline(analysis: Analysis) -> list[str]:
    """A few sentences that say what the tables show."""
    comp = analysis.comparison
    lines = []
    total = sum(len(t.entries) for t in comp.tables.values())
    out_map = sum(t.n_outside["map"] for t in comp.tables.values())
    lines.append(
        f"The MAP lies outside the posterior's {comp.interval:.0%} interval for {out_map} of "
        f"{total} parameter entries."
    )
    if comp.mle is not None:
        out_mle = sum(t.n_outside["mle"] for t in comp.tables.values())
        lines.append(f"The MLE lies outside it for {out_mle} of {total}.")
    if comp.truth is not None:
        known = [e for t in comp.tables.values() for e in t.entries if e.truth is not None]
        out_truth = sum(bool(e.truth_outside) for e in known)
        lines.append(
            f"The true value lies outside the {comp.interval:.0%} interval for {out_truth} of "
            f"{len(known)} entries (about {1 - comp.interval:.0%} would by chance alone)."
        )
    pred = comp.predictive
    post = pred.row("posterior")
    best = max(pred.rows, key=lambda r: r.out_of_sample)
    gap = best.out_of_sample - min(r.out_of_sample for r in pred.rows)
    verdict = (
        "the differences are within one standard error"
        if gap < post.out_of_sample_se
        else f"highest: {best.estimate}"
    )
    lines.append(
        "Estimated out-of-sample log density: "
        + ", ".join(f"{r.estimate} {r.out_of_sample:.2f}" for r in pred.rows)
        + f" (PSIS-LOO standard error {post.out_of_sample_se:.2f}); {verdict}."
    )
    if pred.n_test:
        best_h = max(pred.rows, key=lambda r: r.held_out)
        lines.append(
            f"On the {pred.n_test} held-out rows the log density is "
            + ", ".join(f"{r.estimate} {r.held_out:.2f}" for r in pred.rows)
            + f"; highest: {best_h.estimate}."
        )
    for method, what in (("laplace", "Laplace approximation around the MAP"),
                         ("wald", "Wald intervals of the MLE")):  # fmt: skip
        row = comp.agreement_row(method)
        if row is not None:
            lines.append(f"{what}: {_agreement_text(row)}.")
    m = comp.membership
    lines.append(
        f"{m.n_label_changes} of {len(m.disagreement)} points change their most probable "
        f"component between the MAP and the posterior; the largest disagreement in membership "
        f"probability is {m.disagreement.max():.3f}."
    )
    return lines


def _agreement_text(row) -> str:
    """One clause on an IntervalAgreement: width against the posterior's, containment."""
    low, high = _fmt(row.width_ratio_min, 3), _fmt(row.width_ratio_max, 3)
    spread = "" if low == high else f"; {low} to {high}"
    return (
        f"width {_fmt(row.width_ratio_median, 3)}\u00d7 the posterior interval's (median over "
        f"entries{spread}), inside the posterior interval for {row.n_within_posterior} of "
        f"{row.n_entries} entries, endpoints within {_fmt(row.max_endpoint_shift, 2)} posterior "
        "sd of its endpoints"
    )


def _model_lines(kind: str) -> list[str]:
    common = [
        "x_i | z_i = k ~ Normal(means[k], covariances[k]),  z_i ~ Categorical(weights)",
        "weights ~ Dirichlet(α)",  # noqa: RUF001
    ]
    return (
        common
        + {
            "full": [
                "covariances[k] ~ InverseWishart(ν, Ψ)",  # noqa: RUF001
                "means[k] | covariances[k] ~ Normal(m₀, covariances[k] / κ)",
            ],
            "tied": [
                "covariances ~ InverseWishart(ν, Ψ), one matrix shared by all components",  # noqa: RUF001
                "means[k] | covariances ~ Normal(m₀, covariances / κ)",
            ],
            "diag": [
                "covariances[k, j] ~ InverseGamma(ν/2, Ψ_j/2)  (variance of feature j)",  # noqa: RUF001
                "means[k, j] | covariances[k, j] ~ Normal(m₀_j, covariances[k, j] / κ)",
            ],
            "spherical": [
                "covariances[k] ~ InverseGamma(ν/2, Ψ/2)  (one variance per component)",  # noqa: RUF001
                "means[k] | covariances[k] ~ Normal(m₀, covariances[k] I / κ)",
            ],
        }[kind]
    )


def _vector(values, names=None) -> str:
    values = np.atleast_1d(np.asarray(values, float))
    if names is None:
        return "(" + ", ".join(_fmt(v) for v in values) + ")"
    return "(" + ", ".join(f"{n}: {_fmt(v)}" for n, v in zip(names, values, strict=True)) + ")"


def _matrix(values, names) -> dict:
    return {
        "names": list(names),
        "rows": [
            {"name": n, "cells": [_fmt(v) for v in row]}
            for n, row in zip(names, np.atleast_2d(values), strict=True)
        ],
    }


def _interval_cell(lower, upper) -> str:
    """An interval as one table cell, ``[lower, upper]``; an em dash when missing.

    Three significant digits: the Monte Carlo error of a 3% quantile of a few thousand draws
    is a few hundredths of a standard deviation, so a fourth digit is mostly noise, and the
    parameter tables hold three intervals per row.
    """
    if lower is None or upper is None:
        return "—"
    return f"[{_fmt(lower, 3)}, {_fmt(upper, 3)}]"


def _table_rows(table, r_hat_max) -> list[dict]:
    rows = []
    for e in table.entries:
        rows.append(
            {
                "label": e.label,
                "truth": _fmt(e.truth),
                "truth_outside": bool(e.truth_outside),
                "mle": _fmt(e.mle),
                "map": _fmt(e.map),
                "mean": _fmt(e.mean),
                "median": _fmt(e.median),
                "sd": _fmt(e.sd, 3),
                "interval": _interval_cell(e.lower, e.upper),
                "wald": _interval_cell(e.wald_lower, e.wald_upper),
                "laplace": _interval_cell(e.laplace_lower, e.laplace_upper),
                "q_mle": _fmt(e.quantile_mle, 3),
                "q_map": _fmt(e.quantile_map, 3),
                "mle_outside": bool(e.mle_outside),
                "map_outside": bool(e.map_outside),
                "r_hat": f"{e.r_hat:.3f}" if np.isfinite(e.r_hat) else "—",
                "ess_bulk": _fmt(round(e.ess_bulk)) if np.isfinite(e.ess_bulk) else "—",
                "r_hat_bad": not e.r_hat <= r_hat_max,
            }
        )
    return rows


def report_context(analysis: Analysis, figures: list[dict]) -> dict:
    """Everything the templates show, as strings and lists (user strings not yet escaped)."""
    from scipy.stats import norm

    comp = analysis.comparison
    ds = analysis.dataset
    s = analysis.settings
    prior = analysis.prior
    names = list(comp.feature_names)
    K, d = comp.map.means.shape
    kind = comp.covariance_type
    X = analysis.X
    diag = diagnostics_summary(analysis)
    has_mle, has_truth = comp.mle is not None, comp.truth is not None
    scale = np.asarray(prior.scale, float)
    hyper = [
        {"symbol": "α", "name": "weight_concentration",  # noqa: RUF001
         "value": _vector(prior.concentration(K))},
        {"symbol": "m₀", "name": "mean", "value": _vector(prior.mean, names)},
        {"symbol": "κ", "name": "mean_precision", "value": _fmt(prior.mean_precision)},
        {"symbol": "ν", "name": "degrees_of_freedom", "value": _fmt(prior.degrees_of_freedom)},  # noqa: RUF001
    ]  # fmt: skip
    scale_matrix = None
    if scale.ndim == 2:
        scale_matrix = _matrix(scale, names)
        hyper.append({"symbol": "Ψ", "name": "scale", "value": "the matrix below"})
    else:
        hyper.append(
            {"symbol": "Ψ", "name": "scale",
             "value": _vector(scale, names if scale.ndim == 1 else None)}
        )  # fmt: skip
    pred = comp.predictive
    predictive_rows = [
        {
            "estimate": r.estimate,
            "in_sample": _fmt(r.in_sample, 6),
            "out_of_sample": _fmt(r.out_of_sample, 6),
            "se": _fmt(r.out_of_sample_se, 3),
            "method": r.method,
            "held_out": _fmt(r.held_out, 6),
        }
        for r in pred.rows
    ]
    m = comp.membership
    data_rows = analysis.data_rows()
    disagreements = [
        {
            "row": int(data_rows[i]) + 1,
            "x": ", ".join(_fmt(v) for v in X[i]),
            "map": ", ".join(f"{v:.3f}" for v in m.responsibilities_map[i]),
            "mle": "—"
            if m.responsibilities_mle is None
            else ", ".join(f"{v:.3f}" for v in m.responsibilities_mle[i]),
            "posterior": ", ".join(
                f"{a:.3f} ± {b:.3f}"
                for a, b in zip(m.posterior_mean[i], m.posterior_sd[i], strict=True)
            ),
            "disagreement": f"{m.disagreement[i]:.3f}",
        }
        for i in m.top
    ]
    seeds = [
        {
            "what": "seed (train/test split, EM restarts, sampler, Laplace draws)",
            "value": str(s.seed),
        },
    ]
    title = f"{ds.name}: {K}-component Gaussian mixture, {kind} covariances"
    return {
        "title": title,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "headline": headline(analysis),
        "warnings": warnings_list(analysis, diag),
        "dataset": {
            "name": ds.name,
            "description": ds.description,
            "n": int(X.shape[0]),
            "n_test": 0 if analysis.X_test is None else int(analysis.X_test.shape[0]),
            "d": d,
            "columns": [
                {
                    "name": n,
                    "mean": _fmt(X[:, j].mean()),
                    "sd": _fmt(X[:, j].std(ddof=1) if len(X) > 1 else float("nan")),
                    "min": _fmt(X[:, j].min()),
                    "max": _fmt(X[:, j].max()),
                }
                for j, n in enumerate(names)
            ],
        },
        "model": {
            "K": K,
            "kind": kind,
            "lines": _model_lines(kind),
            "hyper": hyper,
            "scale_matrix": scale_matrix,
            "prior_default": isinstance(s.prior, str),
        },
        "settings": {
            "draws": s.draws,
            "tune": s.tune,
            "chains": s.chains,
            "n_init": s.n_init,
            "sampler": analysis.sampling.get("sampler") or s.sampler,
            "test_fraction": s.test_fraction,
        },
        "command": analysis.command,
        "seeds": seeds,
        "versions": package_versions(),
        "interval": f"{comp.interval:.0%}",
        "has_mle": has_mle,
        "has_truth": has_truth,
        "approximations": {
            "level": f"{comp.interval:.0%}",
            "z": f"{norm.ppf(0.5 + comp.interval / 2):.3f}",
            "n_draws": 0 if comp.laplace is None else len(comp.laplace.draws),
        },
        "mle_error": analysis.mle_error,
        "em": [
            {
                "name": name,
                "objective": _fmt(model.objective_, 8),
                "log_likelihood": _fmt(model.log_likelihood_, 8),
                "log_prior": _fmt(model.log_prior_, 8),
                "n_iter": model.n_iter_,
                "converged": model.converged_,
                "restarts": len(model.restarts_),
            }
            for name, model in (("MLE", analysis.mle), ("MAP", analysis.map))
            if model is not None
        ],
        "tables": [
            {
                "group": group,
                "rows": _table_rows(comp.tables[group], diag["r_hat_threshold"]),
                "n_outside": comp.tables[group].n_outside,
                "agreement": [
                    f"{what} {_agreement_text(row)}"
                    for method, what in (("laplace", "Laplace (MAP):"), ("wald", "Wald (MLE):"))
                    if (row := comp.agreement_row(method, group)) is not None
                ],
            }
            for group in GROUPS
        ],
        "predictive": {
            "rows": predictive_rows,
            "n_train": pred.n_train,
            "n_test": pred.n_test,
            "n_parameters": pred.n_parameters,
            "p_loo": _fmt(pred.p_loo, 3),
            "pareto_k_bad": pred.pareto_k_bad,
            "pareto_k_max": f"{pred.pareto_k_max:.2f}",
        },
        "membership": {
            "n_label_changes": m.n_label_changes,
            "n": len(m.disagreement),
            "mean": f"{m.disagreement.mean():.4f}",
            "rows": disagreements,
            "names": ", ".join(names),
        },
        "diagnostics": {
            "r_hat_max": _fmt(diag["r_hat_max"]),
            "ess_bulk_min": _fmt(diag["ess_bulk_min"], 4),
            "ess_tail_min": _fmt(diag["ess_tail_min"], 4),
            "ebfmi_min": _fmt(min(diag["ebfmi"]), 3) if diag["ebfmi"] else "—",
            "ebfmi_threshold": diag["ebfmi_threshold"],
            "divergences": diag["divergences"],
            "n_relabelled": diag["n_relabelled"],
            "relabel_method": diag["relabel_method"],
            "n_draws_total": diag["n_draws_total"],
            "ess_threshold": diag["ess_threshold"],
            "r_hat_threshold": diag["r_hat_threshold"],
        },
        "figures": [dict(f) for f in figures],
        "timings": _timing_rows(analysis.timings),
    }


def estimates_record(analysis: Analysis) -> dict:
    """The JSON written to ``estimates.json``: settings, prior, estimates and the comparison."""
    from latentmix.compare import jsonable

    s = analysis.settings
    prior = analysis.prior
    comparison = analysis.comparison.to_dict(analysis.X)
    # Rows of the data file (from 0), not of the training subset.
    for rec in comparison["membership"]["top"]:
        rec["row"] = int(analysis.data_rows()[rec["row"]])
    record = {
        "data": {
            "name": analysis.dataset.name,
            "n_train": int(analysis.X.shape[0]),
            "n_test": 0 if analysis.X_test is None else int(analysis.X_test.shape[0]),
        },
        "settings": {
            "n_components": s.n_components,
            "covariance_type": s.covariance_type,
            "draws": s.draws,
            "tune": s.tune,
            "chains": s.chains,
            "seed": s.seed,
            "test_fraction": s.test_fraction,
            "n_init": s.n_init,
        },
        "command": analysis.command,
        "prior": prior.to_dict(),
        "em": {
            name: {
                "objective": model.objective_,
                "log_likelihood": model.log_likelihood_,
                "log_prior": model.log_prior_,
                "n_iter": model.n_iter_,
                "converged": model.converged_,
            }
            for name, model in (("mle", analysis.mle), ("map", analysis.map))
            if model is not None
        },
        "sampling": analysis.sampling,
        "diagnostics": diagnostics_summary(analysis),
        "comparison": comparison,
        "timings_seconds": analysis.timings,
        "versions": {r["package"]: r["version"] for r in package_versions()},
    }
    return jsonable(record)


# --- templates -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def markdown_escape(value) -> str:
    """Text safe inside Markdown (and its HTML): entities for <>&, backslashes for the rest."""
    text = html.escape(str(value), quote=False).replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _environments():
    """Jinja environments: HTML with autoescaping, Markdown with escaping of every value."""
    import jinja2
    from markupsafe import Markup

    loader = jinja2.PackageLoader("latentmix.report", "templates")
    env_html = jinja2.Environment(
        loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )  # fmt: skip

    def finalize(value):
        return value if isinstance(value, Markup) else markdown_escape(value)

    env_md = jinja2.Environment(
        loader=loader, autoescape=False, finalize=finalize, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )  # fmt: skip
    # Inside a fenced code block nothing is interpreted but a fence; break any backtick run.
    env_md.filters["code"] = lambda value: Markup(str(value).replace("`", "\u02cb"))
    env_md.filters["flag"] = lambda value, bad: (
        Markup(f"**{markdown_escape(value)}†**") if bad else value
    )
    return env_html, env_md
