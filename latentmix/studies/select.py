"""``latentmix study select``: the run of ``latentmix select`` with the posterior always on.

One road: the study is :mod:`latentmix.selection.run` (the grid of EM fits, the optional
bootstrap LRT, PSIS-LOO for each K), registered under ``study`` with the defaults it always
had (``-k 1..6``, ``--covariance full``) and no LRT unless ``--bootstrap B`` is given. Its
output directories are recorded as ``study select``.
"""

from __future__ import annotations

from latentmix.selection.run import STUDY_COMMAND

#: The command recorded in the output directory's manifest.
COMMAND = STUDY_COMMAND


def rewrite_pages(out):
    """Make the pages of a finished ``study select`` again from summary.json and study.json."""
    from latentmix.selection.run import rewrite_pages as rewrite

    return rewrite(out, COMMAND)
