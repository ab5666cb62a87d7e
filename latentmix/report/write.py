"""Writing a report's files through the one guarded output writer (:mod:`latentmix.output`).

``OUT/index.html`` (self-contained: figures as data URIs, the shared stylesheet inline, no
scripts), ``OUT/report.md``, ``OUT/figures/*.png``, ``OUT/estimates.json`` and
``OUT/posterior.nc`` (:func:`posterior_file`, documented in ``docs/posterior-nc.md``); the
pages from ``latentmix/pages/templates/report.html.j2`` and ``report.md.j2``. Everything is
written into a staging directory that replaces the report's own files in ``OUT`` only when
complete; anything else in ``OUT`` is kept.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from latentmix.report.context import figure_captions, report_context, timing_rows
from latentmix.report.record import estimates_record

COMMAND = "report"


def save_figures(analysis, figdir: Path) -> list[dict]:
    """Draw and save every figure as PNG in ``figdir``; their file names, titles, captions."""
    import matplotlib

    matplotlib.use("Agg")
    from latentmix.pages import save_figure
    from latentmix.report.figures import draw_figures

    captions = figure_captions(
        analysis.comparison,
        getattr(analysis, "imputation", None),
        vb=getattr(analysis, "vb", None) is not None,
        sensitivity=getattr(analysis, "sensitivity", None) is not None,
    )
    out = []
    for name, fig in draw_figures(analysis):
        save_figure(fig, figdir / name)
        title, caption = captions[name]
        out.append({"file": name, "title": title, "caption": caption})
    return out


def write_files(analysis, directory, *, progress=None) -> None:
    """Write every file of the report into an existing, empty ``directory``.

    Adds the ``figures`` and ``write`` stages to ``analysis.timings``.
    """
    from latentmix.jsonio import dumps
    from latentmix.pages import data_uri

    progress = progress or (lambda message: None)
    directory = Path(directory)
    figdir = directory / "figures"
    figdir.mkdir()
    clock = time.perf_counter()
    progress("drawing figures ...")
    figures = save_figures(analysis, figdir)
    analysis.timings["figures"] = time.perf_counter() - clock
    clock = time.perf_counter()
    posterior_file(analysis).to_netcdf(str(directory / "posterior.nc"))
    context = report_context(analysis, figures)
    analysis.timings["write"] = time.perf_counter() - clock
    # Written after the rest, so that its timings include them. A plain write: the staging
    # directory already makes the whole report appear at once.
    record = estimates_record(analysis, context["warnings"])
    (directory / "estimates.json").write_text(dumps(record), encoding="utf-8")
    context["timings"] = timing_rows(analysis.timings)
    for fig in context["figures"]:
        fig["data_uri"] = data_uri(figdir / fig["file"])
    page, markdown = render_pages(context)
    (directory / "index.html").write_text(page, encoding="utf-8")
    (directory / "report.md").write_text(markdown, encoding="utf-8")


def render_pages(context: dict) -> tuple[str, str]:
    """The HTML page and the Markdown page of a template context (:func:`report_context`)."""
    from latentmix import pages

    return (
        pages.render_html("report.html.j2", **context),
        pages.render_markdown("report.md.j2", **context),
    )


def write_report(analysis, out, *, progress=None) -> Path:
    """Write the report of an Analysis to ``out``; returns the path of ``index.html``.

    Raises
    ------
    ValueError
        ``out`` is a file or a directory that latentmix did not write
        (:func:`latentmix.output.check_output`); nothing is written then.
    """
    from latentmix.output import replace_output

    out = Path(out)
    with replace_output(out, COMMAND) as staging:
        write_files(analysis, staging, progress=progress)
    return out / "index.html"


# --- posterior.nc ---------------------------------------------------------------------------

#: Largest pointwise log-likelihood kept in ``posterior.nc``, in bytes of float32 before
#: compression (which saves little on it): with the rest of the report, the output directory
#: stays under 50 MB at any size of data.
LOG_LIKELIHOOD_BYTES = 40_000_000
#: Fewest draws (all chains) a thinned log-likelihood keeps; with fewer, PSIS's Pareto k
#: estimates are unreliable, so the group is left out instead.
MIN_LOG_LIKELIHOOD_DRAWS = 400
#: Draws of the ``prior`` group (one chain).
PRIOR_DRAWS = 1000

# How to rebuild a log-likelihood group that was thinned or left out, from the file alone.
_RECOMPUTE = (
    "idata = latentmix.report.write.restore_log_likelihood(az.from_netcdf('posterior.nc'))"
)


def log_likelihood_thinning(
    n_rows: int,
    chains: int,
    draws: int,
    max_bytes: int = LOG_LIKELIHOOD_BYTES,
    min_draws: int = MIN_LOG_LIKELIHOOD_DRAWS,
) -> int | None:
    """Every how many draws the file keeps the pointwise log-likelihood; None: none.

    1 while ``n_rows x chains x draws`` float32 values fit in ``max_bytes``; else the
    smallest step that makes them fit, unless that leaves fewer than ``min_draws`` draws.

    Examples
    --------
    >>> log_likelihood_thinning(272, 4, 1000)
    1
    >>> log_likelihood_thinning(20_000, 4, 1000)
    8
    >>> log_likelihood_thinning(100_000, 4, 1000) is None
    True
    """
    per_draw = 4 * n_rows * chains  # float32 bytes of one draw of every chain
    fit = max_bytes // per_draw  # draws per chain the budget holds
    if fit < 1:
        return None
    step = -(-draws // fit) if draws > fit else 1  # the smallest with ceil(draws/step) <= fit
    kept = chains * -(-draws // step)
    return step if kept >= min(min_draws, chains * draws) else None


def posterior_file(analysis, *, max_log_likelihood_bytes: int = LOG_LIKELIHOOD_BYTES):
    """The InferenceData saved as ``posterior.nc``: what ArviZ needs, nothing bulky besides.

    Groups: ``posterior`` (the relabelled draws on the model's own scale; the sampler's
    unconstrained variables and their dims left out), ``log_likelihood`` (``x``, float32,
    every draw or every ``step``-th, see :func:`log_likelihood_thinning`; left out when
    too large), ``prior`` (:data:`PRIOR_DRAWS` draws of the conjugate prior, one chain, the
    posterior's names and dims), ``sample_stats``, ``observed_data`` (the rows fitted),
    ``constant_data`` (observation weights, if any) and ``reference`` (the EM MAP the draws
    are relabelled to, with how it was fitted in its attributes). Warm-up draws are left
    out. The file's own attributes say what was kept and why.

    Parameters
    ----------
    analysis : Analysis
    max_log_likelihood_bytes : int
        See :data:`LOG_LIKELIHOOD_BYTES`.

    Returns
    -------
    arviz.InferenceData
    """
    import arviz as az

    idata = analysis.idata
    posterior = _without_transformed(idata.posterior)
    groups = {
        g: idata[g]
        for g in idata.groups()
        if not g.startswith("warmup")
        and g not in ("posterior", "log_likelihood", "prior", "reference")
    }
    groups["reference"] = _reference(analysis, posterior)
    if "observed_data" not in groups:  # what restore_log_likelihood needs: the rows fitted
        import xarray as xr

        groups["observed_data"] = xr.Dataset(
            {"x": (("observation", "feature"), np.asarray(analysis.posterior_data(), float))},
            coords={"feature": posterior["feature"].values},
        )
    log_lik, attrs = _log_likelihood(analysis, max_log_likelihood_bytes)
    if log_lik is not None:
        groups["log_likelihood"] = log_lik
    if analysis.prior is not None:
        groups["prior"] = _prior(analysis, posterior)
        attrs["prior"] = (
            f"{PRIOR_DRAWS} draws of the conjugate prior in one chain; the prior is "
            "exchangeable, so its components are not put in the posterior's order"
        )
    else:
        attrs["prior"] = "none: the estimates have no prior (MLE only)"
    return az.InferenceData(attrs=attrs, posterior=posterior, **groups)


def restore_log_likelihood(idata):
    """``idata`` (read from ``posterior.nc``) with the log-likelihood of every draw.

    For a file whose ``log_likelihood`` group was thinned or left out for its size
    (:func:`log_likelihood_thinning`): recomputed in float64 from the posterior draws and
    ``observed_data`` (the values the report's PSIS-LOO used).

    Parameters
    ----------
    idata : arviz.InferenceData
        With ``posterior``, ``observed_data`` and ``reference`` as :func:`posterior_file`
        writes them.

    Returns
    -------
    arviz.InferenceData
        A copy whose ``log_likelihood`` group holds ``x`` (chain, draw, observation).

    Examples
    --------
    >>> import arviz as az  # doctest: +SKIP
    >>> idata = restore_log_likelihood(az.from_netcdf("posterior.nc"))  # doctest: +SKIP
    >>> az.loo(idata)  # doctest: +SKIP
    """
    import xarray as xr

    from latentmix.comparison import draw_log_likelihood, posterior_draws

    draws = posterior_draws(idata, idata.reference.attrs["covariance_type"])
    values = draw_log_likelihood(idata.observed_data["x"].values, draws)
    out = idata.copy()
    if "log_likelihood" in out.groups():
        del out.log_likelihood
    post = out.posterior
    out.add_groups(
        log_likelihood=xr.Dataset(
            {"x": (("chain", "draw", "observation"), values)},
            coords={
                "chain": post.chain.values,
                "draw": post.draw.values,
                "observation": idata.observed_data["observation"].values,
            },
        )
    )
    return out


def _without_transformed(dataset):
    """``dataset`` without the sampler's unconstrained variables (``*__``) and their dims."""
    kept = dataset.drop_vars([v for v in dataset.data_vars if str(v).endswith("__")])
    used = {dim for var in kept.data_vars.values() for dim in var.dims}
    return kept.drop_dims([dim for dim in kept.dims if dim not in used])


def _log_likelihood(analysis, max_bytes: int):
    """The file's ``log_likelihood`` group (or None) and the file attributes that say so."""
    import xarray as xr

    post = analysis.idata.posterior
    X = analysis.posterior_data()  # az.loo's rows: the ones the posterior saw
    chains, draws, n = post.sizes["chain"], post.sizes["draw"], X.shape[0]
    step = log_likelihood_thinning(n, chains, draws, max_bytes, MIN_LOG_LIKELIHOOD_DRAWS)
    rule = (
        f"log_likelihood is kept as float32 while observations x chains x draws x 4 bytes "
        f"<= {max_bytes}; above, every step-th draw, unless that keeps fewer than "
        f"{MIN_LOG_LIKELIHOOD_DRAWS} draws, when it is left out"
    )
    attrs = {"log_likelihood_rule": rule}
    if step is None:
        attrs["log_likelihood"] = (
            f"left out: {n} observations x {chains * draws} draws is too large; recompute "
            f"it with: {_RECOMPUTE}"
        )
        return None, attrs
    if "log_likelihood" in analysis.idata.groups():
        pointwise = analysis.idata.log_likelihood["x"].transpose("chain", "draw", ...)
        kept = pointwise.isel(draw=slice(None, None, step)).astype(np.float32)
    else:  # compare held it in blocks only (a large n): the kept draws, computed here
        from latentmix.comparison import draw_log_likelihood, posterior_draws

        thinned = analysis.idata.isel(draw=slice(None, None, step))
        values = draw_log_likelihood(
            X, posterior_draws(thinned, analysis.comparison.covariance_type)
        )
        kept = xr.DataArray(
            values.astype(np.float32),
            dims=("chain", "draw", "observation"),
            coords={"chain": post.chain.values, "draw": thinned.posterior.draw.values},
        )
    attrs["log_likelihood_step"] = step
    if step == 1:
        attrs["log_likelihood"] = "every draw"
    else:
        attrs["log_likelihood"] = (
            f"every {step}th draw ({chains * kept.sizes['draw']} of {chains * draws}): "
            "az.loo on it has more Monte Carlo error than the report's PSIS-LOO, which uses "
            f"every draw; for all of them: {_RECOMPUTE}"
        )
    group = xr.Dataset({"x": kept}, attrs={"step": step, "dtype": "float32"})
    return group, attrs


def _prior(analysis, posterior):
    """``PRIOR_DRAWS`` draws of the prior with the posterior's names, dims and coordinates."""
    import xarray as xr

    from latentmix.priors import sample_prior

    cov_type = analysis.comparison.covariance_type
    K = posterior.sizes["component"]
    seed = analysis.settings.seed
    rng = np.random.default_rng([0 if seed is None else int(seed), 17])
    draws = sample_prior(analysis.prior, K, cov_type, rng, size=PRIOR_DRAWS)
    coords = {"chain": [0], "draw": np.arange(PRIOR_DRAWS)}
    data = {}
    for i, name in enumerate(("weights", "means", "covariances")):
        values = np.asarray(draws[i], dtype=float)[None]
        dims = posterior[name].transpose("chain", "draw", ...).dims
        data[name] = (dims, values)
        coords.update({dim: posterior[dim].values for dim in dims[2:] if dim in posterior.coords})
    return xr.Dataset(
        data,
        coords=coords,
        attrs={"source": "prior", "n_draws": PRIOR_DRAWS, "prior": _prior_text(analysis.prior)},
    )


def _prior_text(prior) -> str:
    from latentmix.jsonio import dumps

    return dumps(prior.to_dict()).replace("\n", "").replace(" ", "")


def _reference(analysis, posterior):
    """The EM MAP (in the report's order) with how it was fitted in its attributes."""
    import xarray as xr

    from latentmix.comparison.order import ORDER_TEXT

    ref = analysis.comparison.map
    dims = {name: posterior[name].dims[2:] for name in ("weights", "means", "covariances")}
    data = {
        "weights": (dims["weights"], np.asarray(ref.weights, float)),
        "means": (dims["means"], np.asarray(ref.means, float)),
        "covariances": (dims["covariances"], np.asarray(ref.covariances, float)),
    }
    coords = {dim: posterior[dim].values for d in dims.values() for dim in d}
    em, settings = analysis.map, analysis.settings
    scale = 1e-6 * max(1.0, abs(em.objective_))
    restarts = getattr(em, "restarts_", [])
    order = analysis.comparison.order
    attrs = {
        "source": "em_map",
        "estimate": (
            "EM MAP: the mode of the posterior density over the covariances themselves (no "
            "Jacobian), fitted by latentmix.EMGaussianMixture with the prior; the posterior "
            "draws are relabelled to it"
        ),
        "covariance_type": analysis.comparison.covariance_type,
        "order": order,
        "order_text": ORDER_TEXT.get(order, order),
        "n_init": int(settings.n_init),
        "n_restarts_reaching_it": int(
            sum(abs(r["objective"] - em.objective_) <= scale for r in restarts)
        ),
        "seed": "none" if settings.seed is None else int(settings.seed),
        "tol": float(em.tol),
        "max_iter": int(em.max_iter),
        "n_iter": int(em.n_iter_),
        "converged": int(bool(em.converged_)),
        "missing": str(settings.missing),
        "weighted": int(analysis.sample_weight is not None),
        "objective": float(em.objective_),
        "log_likelihood": float(em.log_likelihood_),
        "log_prior": float(em.log_prior_) if em.log_prior_ is not None else np.nan,
        "prior": "none" if analysis.prior is None else _prior_text(analysis.prior),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
