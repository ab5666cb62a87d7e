"""Matching components: the one rule that puts one mixture's components in another's order.

Mixture components have no names, so every comparison (MLE against MAP, posterior draws
against the MAP, bootstrap refits against their estimate, the truth against the estimate,
one EM iteration against the next in the walkthrough) first solves an assignment problem.
The cost of putting component ``j`` of a mixture in place ``k`` of the reference is the
Kullback-Leibler divergence KL(N(mu_j, Sigma_j) || N(mu_ref_k, Sigma_ref_k)): scale-free, it
weighs a difference of means by the reference's spread and also sees a difference of shape.
Every layer calls :func:`match_components` (one mixture) or :func:`match_draws` (a stack of
draws); nothing else in the package matches components.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from latentmix.params import MixtureParams, full_covariances


def kl_cost(draws: MixtureParams, reference: MixtureParams) -> np.ndarray:
    """KL divergence from each draw's component j to reference component k.

    Parameters
    ----------
    draws : MixtureParams
        Arrays with a leading draw axis S: weights (S, K), means (S, K, d), covariances
        (S, ...) in the shape of the covariance type.
    reference : MixtureParams
        One mixture with the same K, d and covariance type.

    Returns
    -------
    ndarray of shape (S, K, K)
        ``cost[s, j, k]`` = KL(N(mu_j^(s), Sigma_j^(s)) || N(mu_ref_k, Sigma_ref_k)).
    """
    K, d = reference.n_components, reference.n_features
    ref_chol = np.linalg.cholesky(
        full_covariances(reference.covariances, reference.covariance_type, K, d)
    )  # (K, d, d)
    ref_chol_inv = np.linalg.solve(ref_chol, np.broadcast_to(np.eye(d), (K, d, d)))
    ref_log_det = 2 * np.log(np.diagonal(ref_chol, axis1=-2, axis2=-1)).sum(-1)  # (K,)

    chol = np.linalg.cholesky(full_covariances(draws.covariances, draws.covariance_type, K, d))
    log_det = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)  # (S, K)
    # tr(Sigma_ref_k^{-1} Sigma_j) = || L_ref_k^{-1} L_j ||_F^2
    trace = (np.einsum("kab,sjbc->sjkac", ref_chol_inv, chol) ** 2).sum(axis=(-2, -1))
    diff = draws.means[:, :, None, :] - reference.means[None, None, :, :]  # (S, j, k, d)
    maha = (np.einsum("kab,sjkb->sjka", ref_chol_inv, diff) ** 2).sum(-1)
    return 0.5 * (trace + maha - d + ref_log_det[None, None, :] - log_det[:, :, None])


def solve_orders(cost: np.ndarray) -> np.ndarray:
    """The optimal matching of each (K, K) ``cost[s]``.

    Returns
    -------
    ndarray of int, shape (S, K)
        ``order[s, k] = j``: component ``j`` of draw ``s`` goes to place ``k``.
    """
    cost = np.nan_to_num(np.asarray(cost, dtype=float), nan=1e300, posinf=1e300)
    S, K, _ = cost.shape
    order = np.empty((S, K), dtype=int)
    for s in range(S):
        rows, cols = linear_sum_assignment(cost[s])
        order[s, cols] = rows
    return order


def match_draws(draws: MixtureParams, reference: MixtureParams) -> np.ndarray:
    """For every draw, the order that puts its components in ``reference``'s order.

    Parameters
    ----------
    draws : MixtureParams
        Arrays with a leading draw axis S (see :func:`kl_cost`).
    reference : MixtureParams

    Returns
    -------
    ndarray of int, shape (S, K)
    """
    return solve_orders(kl_cost(draws, reference))


def match_components(params: MixtureParams, reference: MixtureParams) -> np.ndarray:
    """The order that puts ``params``' components in ``reference``'s order.

    Parameters
    ----------
    params, reference : MixtureParams
        Same K, d and covariance type.

    Returns
    -------
    ndarray of int, shape (K,)
        ``params.permute(order)`` lines up with ``reference``.
    """
    if params.means.shape != reference.means.shape:
        raise ValueError(
            f"cannot match components: means of shape {np.shape(params.means)} against "
            f"{np.shape(reference.means)}."
        )
    one = MixtureParams(
        *(np.asarray(a, dtype=float)[None] for a in params[:3]), params.covariance_type
    )
    return match_draws(one, reference)[0]


def align(params: MixtureParams, reference: MixtureParams) -> MixtureParams:
    """``params`` with its components permuted to line up with ``reference``."""
    return params.permute(match_components(params, reference))
