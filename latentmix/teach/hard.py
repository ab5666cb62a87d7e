r"""Hard-assignment EM, and why it is k-means.

Replace the soft E-step by its most probable label,
:math:`c^{(i)} = \arg\max_j w_j^{(i)}`, and fix the model to equal weights
:math:`\phi_j = 1/K` and one shared spherical covariance :math:`\sigma^2 I`. Then

.. math::

    \arg\max_j \phi_j \mathcal N(x^{(i)}; \mu_j, \sigma^2 I)
        = \arg\min_j \lVert x^{(i)} - \mu_j \rVert^2

whatever :math:`\sigma^2` is, and the M-step for the means with 0/1 responsibilities is the
mean of the points assigned to each component. That is Lloyd's k-means algorithm, step for
step. :func:`hard_em` runs exactly this, with the E-step of :mod:`latentmix.em.estep`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.em.estep import e_step
from latentmix.params import MixtureParams
from latentmix.validation import check_data


class HardEMResult(NamedTuple):
    """The end point of hard-assignment EM.

    Attributes
    ----------
    means : ndarray of shape (K, d)
    labels : ndarray of shape (n,)
        The component each point is assigned to at ``means``.
    inertia : float
        Sum of squared distances to the assigned mean (the k-means objective).
    n_iter : int
        Number of M-steps taken.
    converged : bool
        Whether the labels stopped changing within ``max_iter``.
    means_path : list of ndarray
        The means before the first and after every M-step.
    """

    means: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    converged: bool
    means_path: list

    def as_mixture(self) -> MixtureParams:
        r"""The mixture k-means fits: equal weights and one shared round covariance.

        The variance is the maximum-likelihood one given the hard labels,
        :math:`\sigma^2 = \text{inertia} / (n d)`, so that the result can be drawn and
        matched (:func:`latentmix.matching.match_components`) like any other mixture.

        Returns
        -------
        MixtureParams
            ``covariance_type="spherical"``, covariances of shape (K,).
        """
        K, d = self.means.shape
        variance = self.inertia / (self.labels.size * d)
        return MixtureParams(np.full(K, 1.0 / K), self.means, np.full(K, variance), "spherical")

    def permute(self, order) -> HardEMResult:
        """Reorder the clusters: cluster ``k`` of the result is ``order[k]`` of ``self``."""
        order = np.asarray(order)
        relabel = np.argsort(order)  # old label j -> new label k where order[k] == j
        return self._replace(
            means=self.means[order],
            labels=relabel[self.labels],
            means_path=[m[order] for m in self.means_path],
        )


def hard_assign(X, means, variance: float = 1.0) -> np.ndarray:
    """Hard E-step: the most responsible component under equal weights and ``variance * I``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    means : ndarray of shape (K, d)
    variance : float
        The shared variance. It does not change the answer; it only sets the scale of the
        log-densities that the E-step computes on the way.

    Returns
    -------
    ndarray of shape (n,)
    """
    K = means.shape[0]
    params = MixtureParams(np.full(K, 1.0 / K), means, np.full(K, float(variance)), "spherical")
    return np.argmax(e_step(X, params)[0], axis=1)


def hard_em(X, init_means, max_iter: int = 300) -> HardEMResult:
    """Hard-assignment EM with equal weights and a shared spherical covariance (k-means).

    Parameters
    ----------
    X : array-like of shape (n, d) or (n,)
    init_means : array-like of shape (K, d)
        The starting means.
    max_iter : int

    Returns
    -------
    HardEMResult

    Notes
    -----
    A component that loses all its points keeps its previous mean (scikit-learn's k-means
    moves it to a far-away point instead; the two agree whenever no cluster empties).
    """
    X = check_data(X)
    means = np.array(init_means, dtype=float).reshape(-1, X.shape[1])
    # Any fixed variance gives the same labels; the data's scale keeps the numbers moderate.
    variance = float(X.var(axis=0).mean()) or 1.0
    labels = hard_assign(X, means, variance)
    path = [means.copy()]
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (n_iter is reported)
        for k in range(means.shape[0]):
            members = labels == k
            if members.any():
                means[k] = X[members].mean(axis=0)
        path.append(means.copy())
        new_labels = hard_assign(X, means, variance)
        if np.array_equal(new_labels, labels):
            converged = True
            break
        labels = new_labels
    inertia = float(((X - means[labels]) ** 2).sum())
    return HardEMResult(means, labels, inertia, n_iter, converged, path)
