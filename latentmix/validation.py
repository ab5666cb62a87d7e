"""Checks at the package boundary: every bad input gets an error that says what to do.

Bad values are a ValueError; data of a kind the package does not take (a sparse matrix, a
cell that is not a number at all) a TypeError, as in NumPy and scikit-learn.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse

#: The one error for complex data, whatever holds them (ndarray, memmap, dask array).
COMPLEX_DATA = (
    "Complex data not supported: X has complex values; pass the real part (X.real) or the "
    "modulus (abs(X)) explicitly if that is what you mean."
)


def as_two_dimensional(X):
    """``X`` with a 1-D array as one feature, or a ValueError unless it is then 2-D.

    Works on anything with ``ndim``, ``shape`` and indexing (ndarray, memmap, dask array).
    """
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features) or 1-D (one feature); got {X.ndim}-D "
            f"with shape {X.shape}."
        )
    return X


#: What to do with NaN cells: refuse them, or keep them as missing (at random).
MISSING = ("error", "ignore")


def check_missing(missing) -> str:
    """``missing`` as one of :data:`MISSING`, or a ValueError naming the choices."""
    if not isinstance(missing, str) or missing not in MISSING:
        raise ValueError(
            f"missing must be 'error' (NaN cells are refused) or 'ignore' (NaN cells are "
            f"missing at random; the fit uses every observed cell); got {missing!r}."
        )
    return missing


def check_data(
    X,
    *,
    n_components: int | None = None,
    n_features: int | None = None,
    missing: str = "error",
):
    """Return ``X`` as a finite float64 array of shape (n, d), or raise a clear error.

    A 1-D array is one feature (shape (n,) becomes (n, 1)). Every float or integer dtype
    becomes float64 (EM is computed in float64 throughout). A sparse matrix is a TypeError
    (densify it with ``X.toarray()``); complex data are a ValueError, never cast to their
    real part. A masked array's masked cells are missing values with ``missing="ignore"``
    and an error otherwise (never the values under the mask).

    Parameters
    ----------
    X : array-like of shape (n, d) or (n,)
    n_components : int, optional
        If given, the data must have at least this many rows.
    n_features : int, optional
        If given (at predict time), the data must have exactly this many columns.
    missing : {"error", "ignore"}
        ``"error"``: a NaN cell is refused, with the row, the column and this option named.
        ``"ignore"``: NaN cells are kept as missing; infinite values are still refused, and
        so is a row with every cell missing.

    Returns
    -------
    ndarray of shape (n, d)
    """
    if scipy.sparse.issparse(X):
        raise TypeError(
            f"X is a sparse {type(X).__name__}; a Gaussian mixture needs dense data: pass "
            "X.toarray() (the covariances of sparse data are dense anyway)."
        )
    if isinstance(X, np.ma.MaskedArray):
        X = _unmask(X, missing)
    try:
        is_complex = np.iscomplexobj(X)
    except TypeError:  # an array-like that converts with __array__ but refuses NumPy functions
        X = np.asarray(X)
        is_complex = np.iscomplexobj(X)
    if is_complex:
        raise ValueError(COMPLEX_DATA)
    try:
        X = np.asarray(X, dtype=float)
    except ValueError:
        raise ValueError(
            "X must be numeric; convert text columns or drop them before fitting."
        ) from None
    except TypeError as err:
        # A cell that is no number or string at all (a dict, a list): NumPy's own words.
        raise TypeError(
            f"X must be numeric ({err}); convert or drop those cells before fitting."
        ) from None
    X = as_two_dimensional(X)
    if X.shape[0] == 0 or X.shape[1] == 0:
        # The counts in scikit-learn's words, which its users (and its checks) know.
        what = "sample(s)" if X.shape[0] == 0 else "feature(s)"
        raise ValueError(
            f"X is empty: 0 {what} (shape={X.shape}) while a minimum of 1 is required; a "
            "mixture needs data."
        )
    check_missing(missing)
    nan = np.isnan(X)
    bad = np.isinf(X) if missing == "ignore" else nan | np.isinf(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        if np.isnan(X[row, col]):
            fix = (
                "a NaN is a missing cell: pass missing='ignore' to fit with every observed "
                "cell (cells missing at random), or remove or impute them."
            )
            what = "NaN"
        else:
            fix = "remove or replace them before fitting."
            what = "infinite"
        raise ValueError(
            f"X has {int(bad.sum())} NaN or infinite value(s), the first ({what}) at row "
            f"{row}, column {col}; {fix}"
        )
    if nan.any():
        empty = nan.all(axis=1)
        if empty.any():
            raise ValueError(
                f"row {int(np.argmax(empty))} of X has every cell missing ({int(empty.sum())} "
                "such row(s)); such a row carries no information about the mixture: drop it."
            )
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features but the model was fitted on {n_features}; "
            "pass data with the same columns."
        )
    if n_components is not None and X.shape[0] < n_components:
        raise ValueError(
            f"X has {X.shape[0]} samples but n_components={n_components}; a mixture needs "
            "at least as many samples as components: lower n_components or add data."
        )
    return X


def _unmask(X, missing):
    # np.asarray drops the mask and keeps whatever lies under it: never silently.
    n_masked = int(np.ma.count_masked(X))
    if not n_masked:
        return X.data
    if missing == "ignore":
        if np.iscomplexobj(X):
            return X.data  # refused as complex next
        return np.ma.filled(X.astype(float), np.nan)  # a masked cell is a missing cell
    raise ValueError(
        f"X is a masked array with {n_masked} masked cell(s), and converting it would use "
        "the values under the mask. To treat masked cells as missing values pass "
        "missing='ignore' (the mask is then honoured, as NaN), or fill them yourself with "
        "np.ma.filled(X, value)."
    )


#: Data whose typical magnitude lies outside [SCALE_MIN, SCALE_MAX] cannot be fitted in
#: float64: EM sums squares of the data, which overflow above about 1.3e154 and lose every
#: digit below about 1.5e-154 (the smallest normal float64 is 2.2e-308).
SCALE_MAX = 1e150
SCALE_MIN = 1e-150


def check_scale(X, feature_names=None) -> None:
    """Refuse data whose scale is too extreme for float64, saying so and how to rescale.

    A column is too large when its largest magnitude exceeds :data:`SCALE_MAX`, too small
    when it varies but its standard deviation is below :data:`SCALE_MIN`. Without this
    check such data are called "constant or collinear" or "collapsed", which they are not.
    The spread is computed on the column divided by its largest magnitude, so that it
    neither overflows nor underflows here.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Validated in-memory data (finite; NaN cells are left out).
    feature_names : sequence of str, optional
        To name the column; ``column j`` (from 0) otherwise.

    Raises
    ------
    ValueError
        Naming the first such column, its scale, and the fix.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: nan, not an error
        top = np.nanmax(np.abs(X), axis=0)
        safe = np.where(top > 0, top, 1.0)
        sd = safe * np.nanstd(X / safe, axis=0)
    large = top > SCALE_MAX
    small = (sd > 0) & (sd < SCALE_MIN) & ~large
    for bad, what in ((large, "large"), (small, "small")):
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            name = f"column {j}" if feature_names is None else f"column {feature_names[j]!r}"
            scale = sd[j] if what == "small" else top[j]
            got = f"{scale:.3g}"
            has = "a spread" if what == "small" else "values"
            fails = "underflow" if what == "small" else "overflow"
            raise ValueError(
                f"the scale of the data is extreme: {name} has {has} of order {got}, where "
                f"squares of the data {fails} in float64, so no covariance can be computed "
                "(this is not a constant or collinear column, nor a collapse). Rescale the "
                "data, e.g. X / X.std(axis=0) or sklearn.preprocessing.StandardScaler (in a "
                "Pipeline it stays with the model), and fit again."
            )


def check_n_components(n_components) -> int:
    """Return ``n_components`` as an int >= 1 or raise a ValueError."""
    if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
        raise ValueError(f"n_components must be a whole number >= 1; got {n_components!r}.")
    if n_components < 1:
        raise ValueError(f"n_components must be at least 1; got {n_components}.")
    return int(n_components)


def check_random_state(random_state) -> np.random.Generator:
    """A numpy Generator from None, an int seed, a Generator or a legacy RandomState.

    A ``numpy.random.RandomState`` (scikit-learn's habit) becomes a Generator seeded by one
    draw of 32-bit words from its bit stream (``np.random.default_rng(rs.randint(2**32,
    size=4))``): the result is a function of the RandomState's state, and the RandomState
    moves on, so passing the same RandomState twice gives two different streams, as it
    would in scikit-learn. A Generator is returned as it is (not copied).

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**32, size=4, dtype=np.uint64))
    if random_state is None or (
        isinstance(random_state, int | np.integer) and not isinstance(random_state, bool)
    ):
        return np.random.default_rng(random_state)
    raise ValueError(
        "random_state must be None, an int, a numpy Generator or a numpy RandomState; got "
        f"{random_state!r}."
    )


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """Observation weights as a float64 array of shape (n,), or a clear error.

    Each weight scales its row's log-likelihood term (not the prior): integer weights give
    the fit of the data with each row repeated that many times. Zero weights are allowed
    (the row then counts for nothing); weights that are all zero are not.

    Parameters
    ----------
    sample_weight : array-like of shape (n,)
    n_samples : int
        Rows of the data the weights belong to.

    Returns
    -------
    ndarray of shape (n,)
    """
    if scipy.sparse.issparse(sample_weight):
        raise TypeError("sample_weight must be a dense 1-D array of n_samples numbers.")
    try:
        w = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            "sample_weight must be numbers, one per row of X; convert or drop text values."
        ) from None
    if w.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1-D, one weight per row of X; got shape {w.shape}."
        )
    if w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {w.shape[0]} weights but X has {n_samples} rows; give one "
            "weight per row."
        )
    bad = ~np.isfinite(w)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"sample_weight has {int(bad.sum())} NaN or infinite value(s), the first at row "
            f"{i} ({w[i]}); weights must be finite."
        )
    if np.any(w < 0):
        i = int(np.argmax(w < 0))
        raise ValueError(
            f"sample_weight has {int((w < 0).sum())} negative value(s), the first at row {i} "
            f"({w[i]:g}); weights must be >= 0 (0 drops a row)."
        )
    if not np.any(w > 0):
        raise ValueError(
            "sample_weight is zero for every row, so no row counts; give at least one "
            "positive weight."
        )
    return w
