"""Writing a report's files through the one guarded output writer (:mod:`latentmix.output`).

``OUT/index.html`` (self-contained: figures as data URIs, the shared stylesheet inline, no
scripts), ``OUT/report.md``, ``OUT/figures/*.png``, ``OUT/estimates.json`` and
``OUT/posterior.nc``; the pages from ``latentmix/pages/templates/report.html.j2`` and
``report.md.j2``. Everything is written into a staging directory that replaces the report's
own files in ``OUT`` only when complete; anything else in ``OUT`` is kept.
"""

from __future__ import annotations

import time
from pathlib import Path

from latentmix.report.context import figure_captions, report_context, timing_rows
from latentmix.report.record import estimates_record

COMMAND = "report"


def posterior_file(idata):
    """The InferenceData as saved: draws on the model's own scale, without bulky extras.

    Left out: warm-up draws, the unconstrained (transformed) variables, and the pointwise
    log-likelihood (n values per draw; :func:`latentmix.comparison.draw_log_likelihood`
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
    posterior_file(analysis.idata).to_netcdf(str(directory / "posterior.nc"))
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
