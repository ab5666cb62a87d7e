r"""Quantities people read off a covariance: standard deviations and correlations.

The natural-scale vector (:func:`latentmix.em.parameterisation.natural_vector`) holds the
covariance entries as they are; a reader thinks in standard deviations
:math:`\sigma_j = \sqrt{\Sigma_{jj}}` and correlations
:math:`\rho_{ij} = \Sigma_{ij} / (\sigma_i \sigma_j)`. This module lists them, computes them
from natural-scale vectors of any leading shape (an estimate, posterior or Laplace draws), and
gives their Jacobian with respect to the natural covariance entries, for the delta method.

Entries are ``(group, index)`` as the natural-scale ones: ``group`` is one of
:data:`DERIVED_NAMES`, ``index`` 0-based and shaped as the covariance index of the type
(``(k, j)`` for a standard deviation of ``full`` and ``diag``, ``(j,)`` for ``tied`` and
``tied_diag``, ``(k,)`` for ``spherical``, ``()`` for ``tied_spherical``; ``(k, i, j)`` with
i < j for a correlation of ``full``, ``(i, j)`` for ``tied``). Diagonal and spherical types
have no correlations.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.em.parameterisation import parameter_keys
from latentmix.params import PARAMETER_NAMES, SHARED_TYPES

#: The derived groups, in the order :func:`derived_keys` lists them.
DERIVED_NAMES = ("standard_deviations", "correlations")


class DerivedEntry(NamedTuple):
    """One derived quantity and the natural-scale columns it is made of.

    Attributes
    ----------
    group : {"standard_deviations", "correlations"}
    index : tuple of int
    columns : tuple of int
        ``(c,)``, the variance's column, for a standard deviation; ``(c_ii, c_jj, c_ij)``
        for a correlation.
    """

    group: str
    index: tuple
    columns: tuple


def _variance_key(covariance_type: str, block: int, j: int) -> tuple:
    """The natural covariance index holding the variance of feature j in one block."""
    return {
        "full": (block, j, j),
        "tied": (j, j),
        "diag": (block, j),
        "spherical": (block,),
        "tied_diag": (j,),
        "tied_spherical": (),
    }[covariance_type]


def derived_entries(n_components: int, n_features: int, covariance_type: str) -> list:
    """Every standard deviation, then every correlation, with its natural-scale columns.

    Parameters
    ----------
    n_components, n_features : int
    covariance_type : str

    Returns
    -------
    list of DerivedEntry
    """
    K, d = n_components, n_features
    keys = parameter_keys(K, d, covariance_type)
    cov = PARAMETER_NAMES[2]
    column = {index: c for c, (group, index) in enumerate(keys) if group == cov}
    blocks = range(1) if covariance_type in SHARED_TYPES else range(K)
    shared = covariance_type in SHARED_TYPES
    out = []
    for b in blocks:
        features = range(1) if covariance_type in ("spherical", "tied_spherical") else range(d)
        for j in features:
            if covariance_type == "spherical":
                index = (b,)
            elif covariance_type == "tied_spherical":
                index = ()
            else:
                index = (j,) if shared else (b, j)
            out.append(
                DerivedEntry(
                    DERIVED_NAMES[0], index, (column[_variance_key(covariance_type, b, j)],)
                )
            )
    if covariance_type in ("full", "tied"):
        for b in blocks:
            for i in range(d):
                for j in range(i + 1, d):
                    pair = (i, j) if shared else (b, i, j)
                    out.append(
                        DerivedEntry(
                            DERIVED_NAMES[1],
                            pair,
                            (
                                column[_variance_key(covariance_type, b, i)],
                                column[_variance_key(covariance_type, b, j)],
                                column[pair],
                            ),
                        )
                    )
    return out


def derived_values(natural, entries) -> np.ndarray:
    """The derived quantities of natural-scale vectors.

    Parameters
    ----------
    natural : ndarray of shape (..., P)
        Natural-scale vectors (:func:`~latentmix.em.parameterisation.natural_vector`, or
        draws of them).
    entries : list of DerivedEntry

    Returns
    -------
    ndarray of shape (..., len(entries))
    """
    natural = np.asarray(natural, dtype=float)
    out = np.empty((*natural.shape[:-1], len(entries)))
    for m, e in enumerate(entries):
        if e.group == DERIVED_NAMES[0]:
            out[..., m] = np.sqrt(natural[..., e.columns[0]])
        else:
            ii, jj, ij = (natural[..., c] for c in e.columns)
            out[..., m] = ij / np.sqrt(ii * jj)
    return out


def derived_jacobian(natural, entries) -> np.ndarray:
    r"""Jacobian of :func:`derived_values` with respect to the natural-scale vector.

    :math:`\partial\sigma / \partial\Sigma_{jj} = 1 / (2\sigma)`;
    :math:`\partial\rho / \partial\Sigma_{ij} = 1 / (\sigma_i\sigma_j)`,
    :math:`\partial\rho / \partial\Sigma_{ii} = -\rho / (2\Sigma_{ii})`.

    Parameters
    ----------
    natural : ndarray of shape (P,)
    entries : list of DerivedEntry

    Returns
    -------
    ndarray of shape (len(entries), P)
    """
    natural = np.asarray(natural, dtype=float)
    values = derived_values(natural, entries)
    out = np.zeros((len(entries), natural.size))
    for m, e in enumerate(entries):
        if e.group == DERIVED_NAMES[0]:
            out[m, e.columns[0]] = 0.5 / values[m]
        else:
            ci, cj, cij = e.columns
            rho = values[m]
            out[m, cij] = 1.0 / np.sqrt(natural[ci] * natural[cj])
            out[m, ci] += -0.5 * rho / natural[ci]
            out[m, cj] += -0.5 * rho / natural[cj]
    return out
