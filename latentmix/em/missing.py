"""EM with missing cells: missingness patterns, the marginal E-step, imputation.

Filled in below; the grouping of rows by pattern is shared with the PyMC model.
"""

from __future__ import annotations

import numpy as np

__all__ = ["missingness_patterns"]


def missingness_patterns(X):
    """Group the rows of ``X`` by which cells are observed.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Data; NaN marks a missing cell.

    Returns
    -------
    patterns : ndarray of bool, shape (P, d)
        One row per distinct pattern, True where the coordinate is observed. Patterns are in
        lexicographic order of the mask with observed-first, so the complete pattern (all
        True), when present, is ``patterns[0]``.
    pattern_index : ndarray of int, shape (n,)
        ``patterns[pattern_index[i]]`` is the observed mask of row ``i``.

    Notes
    -----
    A row with every cell missing gets the all-False pattern; the callers refuse such rows
    (they carry no information about the mixture), this function only groups.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d); got shape {X.shape}")
    observed = ~np.isnan(X)
    if X.shape[0] == 0:
        return np.ones((0, X.shape[1]), dtype=bool), np.zeros(0, dtype=np.intp)
    # Unique on the negated mask so that observed (False in ~mask) sorts first.
    patterns, pattern_index = np.unique(~observed, axis=0, return_inverse=True)
    return ~patterns, pattern_index.reshape(-1).astype(np.intp)
