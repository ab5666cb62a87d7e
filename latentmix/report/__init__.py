"""Comparison reports: EM MLE and MAP against the posterior of the same model, as a page.

The modules, in the order the data flows through them:

* :mod:`~latentmix.report.settings`: :class:`ReportSettings`, what to fit and sample;
* :mod:`~latentmix.report.analysis`: :func:`analyse`, data to EM fits, posterior draws and a
  :class:`~latentmix.comparison.Comparison` (an :class:`Analysis`; no files);
* :mod:`~latentmix.report.figures`: the figures, drawn from an Analysis;
* :mod:`~latentmix.report.context`: the text the pages show (captions, headline, warnings,
  table cells), as the templates' context;
* :mod:`~latentmix.report.record`: ``estimates.json``, the numbers for programs
  (:data:`~latentmix.report.record.SCHEMA_VERSION`);
* :mod:`~latentmix.report.write`: :func:`write_report`, every file through the guarded
  output writer.

:func:`make_report` does it all.
"""

from __future__ import annotations

from pathlib import Path

from latentmix.report.analysis import Analysis, analyse
from latentmix.report.record import SCHEMA_VERSION
from latentmix.report.settings import ReportSettings
from latentmix.report.write import COMMAND, write_report

__all__ = [
    "SCHEMA_VERSION",
    "Analysis",
    "ReportSettings",
    "analyse",
    "make_report",
    "write_report",
]


def make_report(source, out, settings: ReportSettings, *, command="", quiet=False) -> Path:
    """Analyse and write a report; returns the path of ``index.html``.

    ``out`` is checked before any work, so that a bad path fails at once; the report's files
    in it are replaced only when the new report is complete, and nothing else in it is
    touched.

    Parameters
    ----------
    source : str, Path, latentmix.datasets.Dataset or pandas.DataFrame
        A built-in data set name, a CSV path, a loaded Dataset, or a DataFrame (whose column
        names name the features in the tables, the figures and ``estimates.json``).
    out : str or Path
        The report directory: new, empty, or an earlier report.
    settings : ReportSettings
    command : str
        Recorded in the report.
    quiet : bool
        No progress on stderr.

    Raises
    ------
    ValueError
        ``out`` is a file or a directory that latentmix did not write, bad settings or data.
    """
    from latentmix.output import check_output, replace_output
    from latentmix.progress import Progress
    from latentmix.report.write import write_files
    from latentmix.threads import single_threaded_blas

    progress = Progress(quiet)
    out = Path(out)
    check_output(out, COMMAND)
    # Every matrix here is d x d: a multi-threaded BLAS only adds thread wake-ups (which cost
    # seconds over an EM fit on a busy machine).
    with single_threaded_blas():
        analysis = analyse(source, settings, progress=progress, command=command)
        with replace_output(out, COMMAND) as staging:
            write_files(analysis, staging, progress=progress)
    progress(f"report written to {out}")
    return out / "index.html"
