"""Data sets shipped with the package, CSV reading with clear errors, and synthetic data.

The real data sets (faithful, galaxies, acidity, iris) are copies of the R data sets listed in
``data/PROVENANCE.md``; nothing is downloaded.

A CSV cell that is empty, ``NA``, ``NaN`` or ``NULL`` (any case) is *missing*: an error naming
the file, the column and the row, unless ``missing="ignore"`` (``--missing ignore``), when it
becomes NaN (a cell missing at random, see :mod:`latentmix.em.missing`). A weights column
(``weights="COLUMN"``, ``--weights COLUMN``) is taken out of the data into
``Dataset.sample_weight``.

Without a choice of columns a CSV file's data are its numeric columns: a column none of
whose cells is a number (missing cells aside) holds text, such as names or categories, and
is left out with a :class:`DataWarning` naming it; a column of numbers with a stray word in
it is an error naming the cell. A column holding the integers 1..n (or 0..n-1) in row order
is kept, as it is numeric, with a warning that it looks like a row identifier.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from latentmix.params import MixtureParams, sample_mixture

# name -> (file, description, which columns are labels rather than features)
_BUILTIN = {
    "faithful": (
        "faithful.csv",
        "Old Faithful geyser: eruption length (min) and waiting time to the next eruption "
        "(min), 272 eruptions. R datasets::faithful (Härdle 1991; Azzalini & Bowman 1990).",
        (),
    ),
    "galaxies": (
        "galaxies.csv",
        "Velocities (1000 km/s) of 82 galaxies in the Corona Borealis region. R MASS::galaxies "
        "(Roeder 1990; Postman, Huchra & Geller 1986), divided by 1000 as is usual.",
        (),
    ),
    "acidity": (
        "acidity.csv",
        "Log acidity index of 155 lakes in north-central Wisconsin. R mclust::acidity "
        "(Crawford 1994; Richardson & Green 1997).",
        (),
    ),
    "iris": (
        "iris.csv",
        "Fisher's / Anderson's iris: four measurements (cm) of 150 flowers of three species. "
        "R datasets::iris.",
        ("Species",),
    ),
}


class DataWarning(UserWarning):
    """The data were read, but not all as written.

    A text column was left out, or a column looks like a row identifier rather than a
    measurement. The message names the columns and the ``--columns`` choice to make.
    """


@dataclass(frozen=True)
class Dataset:
    """A data set: the numeric matrix, its column names, and where it came from.

    Attributes
    ----------
    name : str
    data : ndarray of shape (n, d)
    feature_names : tuple of str
    description : str
    target : ndarray of shape (n,) or None
        Known group labels, where the data set has them (iris species, synthetic truth).
    truth : MixtureParams or None
        The generating parameters of a synthetic data set.
    sample_weight : ndarray of shape (n,) or None
        Observation weights read from a weights column (not among the features).
    weights_column : str or None
        The name of that column.
    """

    name: str
    data: np.ndarray
    feature_names: tuple[str, ...]
    description: str = ""
    target: np.ndarray | None = None
    truth: MixtureParams | None = field(default=None, repr=False)
    sample_weight: np.ndarray | None = field(default=None, repr=False)
    weights_column: str | None = None

    @property
    def n_missing(self) -> int:
        """Number of missing (NaN) cells."""
        return int(np.isnan(self.data).sum())

    def __post_init__(self):
        check_feature_names(self.feature_names, where=self.name)


def check_feature_names(feature_names, where: str = "the data", *, chosen=False) -> None:
    """Refuse empty or repeated column names, naming them and the fix.

    Names are refused rather than made unique: a column is chosen by name (``--columns``),
    and names reach the tables, the figures and ``estimates.json``, where a renamed
    ``x.1`` would stand for a column the file never called that, and two columns under one
    name would be told apart by nothing. Every command reads its data through this check,
    so a report fails here, at once, not after sampling.

    Parameters
    ----------
    feature_names : sequence of str
    where : str
        What the names belong to (a file, a data set), to start the message.
    chosen : bool
        The names are a ``--columns`` selection, so the fix is to name each column once.

    Raises
    ------
    ValueError
        Naming the first empty column (by position) or the repeated names.
    """
    feature_names = [str(f) for f in feature_names]
    empty = [j + 1 for j, f in enumerate(feature_names) if not f.strip()]
    if empty:
        raise ValueError(
            f"{where}: column {empty[0]} has an empty name; give every column a name in the "
            "header row, or choose the named ones with --columns."
        )
    seen, repeated = set(), []
    for f in feature_names:
        if f in seen and f not in repeated:
            repeated.append(f)
        seen.add(f)
    if repeated:
        fix = (
            "name each column once in --columns."
            if chosen
            else "rename the columns in the header row so that each name is used once, or "
            "choose distinct columns with --columns."
        )
        which = (
            f"the column name {repeated[0]!r} appears"
            if len(repeated) == 1
            else f"the column names {', '.join(map(repr, repeated))} appear"
        )
        raise ValueError(f"{where}: {which} more than once; {fix}")


def names() -> list[str]:
    """Names accepted by :func:`load`: the real data sets, then the simulated ones."""
    return sorted(_BUILTIN) + sorted(_SIMULATED)


def load(name: str) -> Dataset:
    """Load a built-in data set by name (see :func:`names`).

    The simulated ones (``house_prices``, ``synthetic3d``) are drawn with seed 0, so the same
    name always gives the same data; call :func:`house_prices` or :func:`synthetic_3d` for
    other draws.
    """
    if name in _SIMULATED:
        return _SIMULATED[name]()
    if name not in _BUILTIN:
        raise ValueError(
            f"unknown data set {name!r}; built-in data sets are {', '.join(names())}."
        )
    filename, description, label_columns = _BUILTIN[name]
    with resources.as_file(resources.files(__name__) / "data" / filename) as path:
        header, rows = _read_rows(path)
    features = [j for j, h in enumerate(header) if h not in label_columns]
    labels = [j for j, h in enumerate(header) if h in label_columns]
    data = _to_numeric(header, rows, features, path)
    if name == "galaxies":
        data = data / 1000.0
    target = np.array([r[labels[0]] for r in rows]) if labels else None
    return Dataset(name, data, tuple(header[j] for j in features), description, target)


MISSING_CELLS = ("", "NA", "NAN", "NULL")


def read_csv(path, columns=None, *, missing: str = "error", weights: str | None = None) -> Dataset:
    """Read a CSV file with a header row into a Dataset.

    Parameters
    ----------
    path : str or Path
    columns : sequence of str, optional
        The columns to use. Every used cell must be a number, or missing with
        ``missing="ignore"``. Default: every numeric column but ``weights`` (see
        :func:`numeric_columns`, which warns about the columns it leaves out).
    missing : {"error", "ignore"}
        What an empty, ``NA``, ``NaN`` or ``NULL`` cell means: an error (naming the row, the
        column and this option), or a missing cell, read as NaN. A row whose used cells are
        all missing is an error either way.
    weights : str, optional
        A column of observation weights (numbers >= 0, none missing, not all zero), taken out
        of the data into ``sample_weight``.

    Warns
    -----
    DataWarning
        Without ``columns``: naming the text columns left out, and a column that holds the
        row numbers (1..n or 0..n-1).

    Raises
    ------
    ValueError
        Naming the file, column and row of the first missing or non-numeric cell, a file
        with no numeric column, a column that does not exist, a column name that is empty
        or repeated (see :func:`check_feature_names`; only the used columns need distinct
        names), a row whose number of cells differs from the header's (by its line in the
        file), or a header that looks delimited by ``;`` or a tab rather than commas.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such file: {path}; give a CSV path or one of {', '.join(names())}.")
    _check_missing_option(missing)
    header, rows = _read_rows(path)
    if weights is not None and weights not in header:
        raise ValueError(
            f"{path}: no column named {weights!r} for --weights; the columns are "
            f"{', '.join(map(repr, header))}."
        )
    if columns is None:
        check_feature_names(header, where=str(path))
        use = _default_columns(path, header, rows, exclude=(weights,))
        # Only columns with a number in them are used, so a text cell here is a stray one.
        not_number = (
            "the column's other cells are numbers: correct the cell, write a missing value "
            "as NA (with --missing ignore), or leave the column out with --columns."
        )
    else:
        check_feature_names(columns, where=f"{path}: --columns", chosen=True)
        absent = [c for c in columns if c not in header]
        if absent:
            raise ValueError(
                f"{path}: no column named {', '.join(map(repr, absent))}; the columns are "
                f"{', '.join(map(repr, header))}."
            )
        ambiguous = [c for c in columns if header.count(c) > 1]
        if ambiguous:
            check_feature_names(header, where=str(path))
        use = [header.index(c) for c in columns]
        if weights in columns:
            raise ValueError(
                f"{path}: the weights column {weights!r} is also in --columns; a column is "
                "either data or weights: leave it out of --columns."
            )
        not_number = "leave the column out of --columns, or correct the cell."
    data = _to_numeric(header, rows, use, path, missing, not_number=not_number)
    sample_weight = None
    if weights is not None:
        j = header.index(weights)
        sample_weight = _to_numeric(
            header, rows, [j], path, "error", what="--weights",
            not_number="--weights names a column of numbers.",
        )[:, 0]  # fmt: skip
        sample_weight = _checked_weights(sample_weight, f"{path}: column {weights!r}")
    _refuse_empty_rows(data, str(path))
    return Dataset(
        path.stem,
        data,
        tuple(header[j] for j in use),
        f"CSV file {path.name}",
        sample_weight=sample_weight,
        weights_column=weights,
    )


def numeric_columns(path, exclude=()) -> list[str]:
    """The columns of a CSV file that :func:`read_csv` uses when none are chosen.

    A column is left out when none of its cells is a number (missing cells aside): it holds
    text (names, categories, dates). A column with some numbers is kept, so that a stray
    word in a column of measurements is an error naming the cell rather than a measurement
    silently lost.

    Parameters
    ----------
    path : str or Path
    exclude : sequence of str
        Columns that are not data (a weights or a labels column): neither used nor warned
        about.

    Returns
    -------
    list of str
        In the file's order.

    Warns
    -----
    DataWarning
        Naming the text columns left out (with the first cell of each) and any column that
        holds the row numbers 1..n or 0..n-1, which is used but looks like an identifier.

    Raises
    ------
    ValueError
        When no numeric column is left.
    """
    path = Path(path)
    header, rows = _read_rows(path)
    check_feature_names(header, where=str(path))
    return [header[j] for j in _default_columns(path, header, rows, exclude)]


def _default_columns(path, header, rows, exclude) -> list[int]:
    """Indices of the numeric columns not in ``exclude``; warns about text and row numbers."""
    candidates = [j for j, h in enumerate(header) if h not in exclude]
    text = {}  # column -> (data row from 0, its first cell)
    for j in candidates:
        first = _first_text_cell(rows, j)
        if first is not None:
            text[j] = first
    use = [j for j in candidates if j not in text]
    described = ", ".join(
        f"{header[j]!r} (data row {i + 1}: {cell!r})" for j, (i, cell) in text.items()
    )
    if not use:
        parts = [f"text in {described}"] if text else []
        others = [h for h in header if h in exclude]
        if others:
            parts.append(f"{_listed(others)} {'is' if len(others) == 1 else 'are'} not data")
        raise ValueError(
            f"{path}: no column of numbers to fit ({'; '.join(parts)}); latentmix fits "
            "numeric columns: give a file with at least one column of numbers."
        )
    names_ = [header[j] for j in use]
    if text:
        warnings.warn(
            f"{path}: left out {len(text)} column{'s' if len(text) > 1 else ''} of text, not "
            f"numbers: {described}; the data are the numeric columns {_listed(names_)}. "
            "Name the columns with --columns (Python: columns=[...]) to choose them yourself.",
            DataWarning,
            stacklevel=3,  # the caller of read_csv or numeric_columns
        )
    for j in use:
        start = _row_number_start(rows, j)
        if start is None:
            continue
        rest = [h for h in names_ if h != header[j]]
        fix = (
            f"if it numbers the rows, leave it out: --columns {','.join(rest)} (Python: "
            f"columns={rest!r})."
            if rest
            else "it is the only numeric column, so the fit would be of row numbers: give "
            "the file's measurements."
        )
        warnings.warn(
            f"{path}: column {header[j]!r} holds the integers {start}..{len(rows) - 1 + start} "
            f"in row order, like a row identifier, and is used as data; {fix}",
            DataWarning,
            stacklevel=3,  # the caller of read_csv or numeric_columns
        )
    return use


def _listed(names_) -> str:
    return ", ".join(map(repr, names_))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _first_text_cell(rows, j):
    """(data row, cell) of column j's first text cell if none of its cells is a number.

    Missing cells count for neither, so a column of only missing cells is not text (it is
    read, and refused or ignored as missing).
    """
    first = None
    for i, row in enumerate(rows):
        cell = row[j].strip()
        if cell.upper() in MISSING_CELLS:
            continue
        if _is_number(cell):
            return None
        if first is None:
            first = (i, cell)
    return first


def _row_number_start(rows, j):
    """1 or 0 when column j is 1..n or 0..n-1 in row order (n >= 3), else None."""
    if len(rows) < 3:
        return None
    try:
        first = float(rows[0][j])
    except ValueError:
        return None
    if first not in (0.0, 1.0):
        return None
    for i, row in enumerate(rows):
        try:
            if float(row[j]) != i + first:
                return None
        except ValueError:
            return None
    return int(first)


def _check_missing_option(missing):
    if missing not in ("error", "ignore"):
        raise ValueError(f"missing must be 'error' or 'ignore'; got {missing!r}.")


def _checked_weights(w, where):
    """The weights, or an error naming the data row (from 1) and the problem."""
    from latentmix.validation import check_sample_weight

    if np.any(w < 0):
        i = int(np.argmax(w < 0))
        raise ValueError(f"{where}, data row {i + 1}: weight {w[i]:g} is negative; weights "
                         "must be >= 0 (0 drops a row).")  # fmt: skip
    try:
        return check_sample_weight(w, w.shape[0])
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def _refuse_empty_rows(data, where):
    empty = np.isnan(data).all(axis=1)
    if empty.any():
        i = int(np.argmax(empty))
        raise ValueError(
            f"{where}: data row {i + 1} has every used cell missing ({int(empty.sum())} such "
            "row(s)); such a row says nothing about the mixture: remove it."
        )


def split_columns(text: str | None) -> tuple[str, ...] | None:
    """Column names from a command line's comma-separated list (None: the default ones)."""
    if text is None:
        return None
    columns = tuple(c.strip() for c in text.split(",") if c.strip())
    return columns or None


def load_data(source, columns=None, *, missing: str = "error", weights: str | None = None):
    """A built-in data set by name, or a CSV file by path.

    Parameters
    ----------
    source : str or path-like
        A name from :func:`names`, or the path of a CSV file with a header row.
    columns : sequence of str, optional
        The columns to use, in this order. Default: every numeric column but ``weights``
        (a CSV file's text columns are left out with a :class:`DataWarning`, see
        :func:`read_csv`).
    missing : {"error", "ignore"}
        For a CSV file, what a missing cell means (see :func:`read_csv`); the built-in data
        sets have none.
    weights : str, optional
        A column of observation weights, taken out of the data (see :func:`read_csv`).

    Returns
    -------
    Dataset
    """
    if str(source) in names() and not Path(str(source)).is_file():
        _check_missing_option(missing)
        dataset = load(str(source))
        if weights is not None:
            dataset = _split_weights(dataset, weights, columns)
        if columns is None:
            return dataset
        check_feature_names(columns, where=f"{source}: --columns", chosen=True)
        absent = [c for c in columns if c not in dataset.feature_names]
        if absent:
            raise ValueError(
                f"{source}: no column named {', '.join(map(repr, absent))}; the columns are "
                f"{', '.join(map(repr, dataset.feature_names))}."
            )
        idx = [dataset.feature_names.index(c) for c in columns]
        return Dataset(
            dataset.name,
            dataset.data[:, idx],
            tuple(columns),
            dataset.description,
            dataset.target,
            sample_weight=dataset.sample_weight,
            weights_column=dataset.weights_column,
        )
    return read_csv(source, columns, missing=missing, weights=weights)


def _split_weights(dataset: Dataset, weights: str, columns) -> Dataset:
    """A built-in data set with one of its columns taken out as observation weights."""
    names_ = dataset.feature_names
    if weights not in names_:
        raise ValueError(
            f"{dataset.name}: no column named {weights!r} for --weights; the columns are "
            f"{', '.join(map(repr, names_))}."
        )
    if columns is not None and weights in columns:
        raise ValueError(
            f"{dataset.name}: the weights column {weights!r} is also in --columns; a column "
            "is either data or weights: leave it out of --columns."
        )
    j = names_.index(weights)
    keep = [i for i in range(len(names_)) if i != j]
    w = _checked_weights(dataset.data[:, j].copy(), f"{dataset.name}: column {weights!r}")
    return Dataset(
        dataset.name,
        dataset.data[:, keep],
        tuple(names_[i] for i in keep),
        dataset.description,
        dataset.target,
        sample_weight=w,
        weights_column=weights,
    )


def make_synthetic(
    params: MixtureParams, n_samples: int, random_state=None, name: str = "synthetic"
) -> Dataset:
    """Data drawn from a known mixture, with the truth attached.

    Parameters
    ----------
    params : MixtureParams
        The generating mixture.
    n_samples : int
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    Dataset
        ``target`` holds the true component of each row and ``truth`` the parameters.
    """
    X, labels = sample_mixture(params, n_samples, random_state)
    d = params.n_features
    return Dataset(
        name,
        X,
        tuple(f"x{j + 1}" for j in range(d)),
        f"{n_samples} draws from a known {params.n_components}-component mixture in {d}-D.",
        labels,
        params,
    )


def synthetic_3d(n_samples: int = 300, random_state=0) -> Dataset:
    """A 3-D, 3-component data set with known truth, used in examples and tests."""
    truth = MixtureParams(
        weights=np.array([0.5, 0.3, 0.2]),
        means=np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 4.0, 4.0]]),
        covariances=np.array(
            [
                [[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]],
                [[1.5, 0.0, 0.3], [0.0, 0.5, 0.0], [0.3, 0.0, 1.0]],
                [[0.6, 0.0, 0.0], [0.0, 0.6, -0.2], [0.0, -0.2, 0.8]],
            ]
        ),
        covariance_type="full",
    )
    return make_synthetic(truth, n_samples, random_state, name="synthetic3d")


def house_prices(n_samples: int = 240, random_state=0) -> Dataset:
    """Simulated sale prices (thousands) of houses in three neighbourhoods, in 1-D.

    Each neighbourhood is one component: a cheaper, common one, a mid-priced one and a small,
    expensive and more spread-out one. The neighbourhood of each sale is ``target``; the
    generating mixture is ``truth``.

    Parameters
    ----------
    n_samples : int
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    Dataset
        ``data`` of shape (n_samples, 1), feature ``price_k``.
    """
    truth = MixtureParams(
        weights=np.array([0.45, 0.35, 0.20]),
        means=np.array([[210.0], [340.0], [520.0]]),
        covariances=np.array([30.0, 40.0, 65.0]) ** 2,
        covariance_type="spherical",
    )
    data = make_synthetic(truth, n_samples, random_state, name="house_prices")
    return Dataset(
        "house_prices",
        data.data,
        ("price_k",),
        f"{n_samples} simulated house sale prices (thousands) from three neighbourhoods "
        "(weights 0.45, 0.35, 0.20; means 210, 340, 520; sd 30, 40, 65).",
        data.target,
        truth,
    )


_SIMULATED = {"house_prices": house_prices, "synthetic3d": synthetic_3d}


# --- CSV parsing ------------------------------------------------------------------------


def _read_rows(path):
    """The header and the data rows, skipping blank lines; errors give the file's line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            # (line in the file where the row ends, row): blank lines are skipped, so the
            # position in this list is not the line number.
            rows = [(reader.line_num, r) for r in reader if r]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    if not rows:
        raise ValueError(f"{path} is empty; it needs a header row and data rows.")
    header = [h.strip() for h in rows[0][1]]
    if len(header) == 1:
        for name, delimiter in (("semicolons", ";"), ("tabs", "\t")):
            if delimiter in header[0] and (len(rows) < 2 or delimiter in rows[1][1][0]):
                raise ValueError(
                    f"{path}: the header row is one column, {header[0]!r}, which holds "
                    f"{name}; latentmix reads comma-separated files: save the file with "
                    "commas between the cells."
                )
    if len(rows) < 2:
        raise ValueError(f"{path} has a header but no data rows.")
    for line, r in rows[1:]:
        if len(r) != len(header):
            raise ValueError(
                f"{path}, line {line}: {len(r)} cells but the header has {len(header)} columns."
            )
    return header, [r for _, r in rows[1:]]


def _to_numeric(
    header, rows, columns, path, missing="error", what=None, not_number=None
) -> np.ndarray:
    """The cells of ``columns`` as floats; ``not_number`` is the fix told for a text cell."""
    out = np.empty((len(rows), len(columns)))
    for i, row in enumerate(rows):
        for jj, j in enumerate(columns):
            cell = row[j].strip()
            if cell.upper() in MISSING_CELLS:
                if missing == "ignore" and what is None:
                    out[i, jj] = np.nan
                    continue
                fix = (
                    "a weight must be given for every row."
                    if what is not None
                    else "pass --missing ignore (Python: missing='ignore') to fit with the "
                    "observed cells (missing at random), or remove or impute missing values."
                )
                raise ValueError(
                    f"{path}: column {header[j]!r}, data row {i + 1} is missing ({cell!r}); " + fix
                )
            try:
                out[i, jj] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}: column {header[j]!r}, data row {i + 1} is not a number "
                    f"({cell!r}); {not_number or 'select numeric columns only.'}"
                ) from None
            if not np.isfinite(out[i, jj]):
                raise ValueError(
                    f"{path}: column {header[j]!r}, data row {i + 1} is not finite ({cell!r})."
                )
    return out
