"""Which component each point belongs to: EM responsibilities against the posterior."""

from __future__ import annotations

import numpy as np

from latentmix.comparison.draws import observed_e_step
from latentmix.comparison.results import MembershipComparison


def membership(X, map_params, mle_params, posterior_mean, posterior_sd, n_disagree: int):
    """EM responsibilities at the MAP (and MLE) against posterior membership probabilities.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    map_params : MixtureParams
    mle_params : MixtureParams or None
        In the MAP's component order.
    posterior_mean, posterior_sd : ndarray of shape (n, K)
        Mean and sd over draws of the membership probabilities
        (:func:`~latentmix.comparison.draw_log_likelihood` with ``return_membership``).
    n_disagree : int
        How many points of largest disagreement to keep in ``top``.

    Returns
    -------
    MembershipComparison
    """
    resp_map = np.exp(observed_e_step(X, map_params)[0])
    resp_mle = None if mle_params is None else np.exp(observed_e_step(X, mle_params)[0])
    disagreement = 0.5 * np.abs(resp_map - posterior_mean).sum(axis=1)
    top = np.argsort(-disagreement, kind="stable")[: max(0, int(n_disagree))]
    changes = int(np.sum(resp_map.argmax(1) != posterior_mean.argmax(1)))
    return MembershipComparison(
        resp_map, resp_mle, posterior_mean, posterior_sd, disagreement, top, changes
    )


def adjusted_rand_index(labels_true, labels_pred) -> float:
    r"""Adjusted Rand index of two partitions of the same points (Hubert & Arabie 1985).

    .. math::

        \mathrm{ARI} = \frac{\sum_{ij}\binom{n_{ij}}{2} - E}{\tfrac12\left[\sum_i
        \binom{a_i}{2} + \sum_j \binom{b_j}{2}\right] - E},\quad
        E = \frac{\sum_i \binom{a_i}{2}\sum_j \binom{b_j}{2}}{\binom{n}{2}}

    over the contingency table :math:`n_{ij}` with row sums :math:`a_i` and column sums
    :math:`b_j`: 1 for the same partition (whatever the names of the groups), about 0 for
    independent ones, negative below chance.

    Parameters
    ----------
    labels_true, labels_pred : array-like of shape (n,)
        Group names of any hashable kind (strings, integers).

    Returns
    -------
    float
        1.0 when both put every point in one group, or every point in its own.
    """
    a, b = np.asarray(labels_true), np.asarray(labels_pred)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"two partitions of the same points are needed; got shapes {a.shape} and {b.shape}."
        )
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1), dtype=np.int64)
    np.add.at(table, (ia, ib), 1)

    def pairs(counts):
        counts = np.asarray(counts, dtype=float)
        return float((counts * (counts - 1) / 2).sum())

    index = pairs(table)
    rows, cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    total = pairs([a.size])
    expected = rows * cols / total if total else 0.0
    maximum = 0.5 * (rows + cols)
    if maximum == expected:  # both trivial partitions (one group, or singletons)
        return 1.0
    return float((index - expected) / (maximum - expected))


def label_agreement(labels, clusterings: dict) -> dict:
    """The adjusted Rand index of each clustering against known labels.

    Parameters
    ----------
    labels : array-like of shape (n,)
        The known groups (iris species).
    clusterings : dict of str to ndarray of shape (n, K)
        Membership probabilities of each estimate (``"MLE"``, ``"MAP"``, ``"VB"``,
        ``"posterior"``); each point goes to its most probable component.

    Returns
    -------
    dict of str to float
        Same keys; None-valued clusterings are left out.
    """
    labels = np.asarray(labels)
    return {
        name: adjusted_rand_index(labels, np.asarray(probs).argmax(axis=1))
        for name, probs in clusterings.items()
        if probs is not None
    }
