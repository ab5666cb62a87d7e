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
