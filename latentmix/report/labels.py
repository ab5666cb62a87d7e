"""Known group labels beside a report's data (``--labels COLUMN``), and their agreement.

A built-in data set with labels (iris: ``Species``) brings them in ``Dataset.target``; a
CSV file's label column (text or numbers) is read here and left out of the features. Each
estimate's clustering (every point to its most probable component) is compared with the
labels by the adjusted Rand index (:func:`latentmix.comparison.membership.label_agreement`).
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np


def _csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.reader(f):
            if row:
                return [h.strip() for h in row]
    raise ValueError(f"{path} is empty; it needs a header row and data rows.")


def _csv_column(path: Path, column: str) -> np.ndarray:
    """One column of a CSV file as strings, blank lines skipped (as the data reader does)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r]
    header = [h.strip() for h in rows[0]]
    j = header.index(column)
    return np.array([r[j].strip() for r in rows[1:]])


def is_csv_path(source) -> bool:
    """Whether the data source is a CSV file (not a built-in name, Dataset or DataFrame)."""
    return isinstance(source, str | Path) and Path(str(source)).is_file()


def csv_columns(source, labels: str | None, columns, weights: str | None):
    """The data columns of a CSV file once the label column is left out.

    Parameters
    ----------
    source : str or Path
    labels : str or None
        The label column; None leaves ``columns`` as they are.
    columns : list of str or None
        The columns asked for (None: all).
    weights : str or None
        The weights column (not a data column either).

    Returns
    -------
    list of str or None
        ``columns`` if given; else the numeric columns but the labels and weights (a text
        column among the rest is left out with a
        :class:`~latentmix.datasets.DataWarning`, as without ``--labels``).
    """
    if labels is None or not is_csv_path(source):
        return columns
    header = _csv_header(Path(str(source)))
    if labels not in header:
        raise ValueError(
            f"{source}: no column named {labels!r} for --labels; the columns are "
            f"{', '.join(map(repr, header))}."
        )
    if columns is not None:
        if labels in columns:
            raise ValueError(
                f"{source}: the labels column {labels!r} is also in --columns; a column is "
                "either data or labels: leave it out of --columns."
            )
        return columns
    from latentmix.datasets import numeric_columns

    return numeric_columns(Path(str(source)), exclude=(labels, weights))


def take_labels(dataset, source, labels: str | None):
    """The data set without its label column, and the labels of every row.

    Parameters
    ----------
    dataset : latentmix.datasets.Dataset
    source : str, Path, Dataset or DataFrame
        Where the data came from (a CSV path: the column is read from the file).
    labels : str or None

    Returns
    -------
    dataset : Dataset
    target : ndarray of shape (n,) or None
    """
    if labels is None:
        return dataset, None
    if labels in dataset.feature_names:
        j = dataset.feature_names.index(labels)
        keep = [i for i in range(len(dataset.feature_names)) if i != j]
        if not keep:
            raise ValueError(f"--labels {labels!r} is the only data column; nothing is left.")
        target = dataset.data[:, j]
        if np.isnan(target).any():
            raise ValueError(f"the labels column {labels!r} has missing cells.")
        dataset = replace(
            dataset,
            data=dataset.data[:, keep],
            feature_names=tuple(dataset.feature_names[i] for i in keep),
        )
        return dataset, target
    if is_csv_path(source):
        target = _csv_column(Path(str(source)), labels)
        if len(target) != len(dataset.data):
            raise ValueError(f"the labels column {labels!r} has {len(target)} rows for "
                             f"{len(dataset.data)} data rows.")  # fmt: skip
        return dataset, target
    if dataset.target is not None:
        return dataset, np.asarray(dataset.target)
    raise ValueError(
        f"{dataset.name} has no column {labels!r} for --labels and no labels of its own; "
        f"its columns are {', '.join(map(repr, dataset.feature_names))}."
    )


def agreement(target, comparison, X, vb=None) -> dict:
    """Adjusted Rand index of the MLE, MAP, VB and posterior clusterings against labels.

    Parameters
    ----------
    target : ndarray of shape (n,)
        Labels of the fitted rows.
    comparison : Comparison
    X : ndarray of shape (n, d)
    vb : latentmix.report.vb.VBResult, optional
        Its clustering is the E-step at the mean of q.

    Returns
    -------
    dict of str to float
        Keys ``MLE`` (when there is one), ``MAP``, ``VB`` (when given), ``posterior`` (mean
        membership probabilities over the draws).
    """
    from latentmix.comparison.draws import observed_e_step
    from latentmix.comparison.membership import label_agreement

    m = comparison.membership
    clusterings = {
        "MLE": m.responsibilities_mle,
        "MAP": m.responsibilities_map,
        "VB": None if vb is None else np.exp(observed_e_step(X, vb.mean)[0]),
        "posterior": m.posterior_mean,
    }
    return label_agreement(target, clusterings)


def agreement_text(column: str | None, values: dict | None, n_groups: int | None = None):
    """The sentence of the membership section, or None without labels."""
    if not values:
        return None
    parts = ", ".join(f"{name} {value:.3f}" for name, value in values.items())
    groups = f" ({n_groups} groups)" if n_groups else ""
    return (
        f"Agreement with the labels in column {column}{groups}, each point assigned to its "
        f"most probable component (adjusted Rand index: 1 the same partition, about 0 no "
        f"better than chance; VB at the mean of q, posterior from the mean membership "
        f"probabilities): {parts}."
    )


def label_sentence(analysis) -> str | None:
    """The membership section's sentence on the labels of an Analysis, or None."""
    values = getattr(analysis, "label_agreement", None)
    if not values:
        return None
    labels = getattr(analysis, "labels", None)
    n_groups = None if labels is None else len(np.unique(labels))
    return agreement_text(analysis.settings.labels, values, n_groups)
