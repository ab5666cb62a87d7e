r"""Posterior draws as arrays, and the mixture's densities for many draws at once.

The densities are those of :mod:`latentmix.em.estep` for one parameter set, batched over
draws (numpy's batched Cholesky and solve: one C loop over draws) and chunked so that memory
stays bounded for large n.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from latentmix.em import missing
from latentmix.em.estep import e_step
from latentmix.params import (
    DIAGONAL_TYPES,
    PARAMETER_NAMES,
    MixtureParams,
    full_covariances,
    variances,
)

_LOG_2PI = np.log(2 * np.pi)
# Bound on the floats held at once by the draw-wise densities (about 160 MB).
_CHUNK_FLOATS = 20_000_000


def posterior_draws(idata, covariance_type: str) -> MixtureParams:
    """The posterior draws as a MixtureParams whose arrays lead with (chain, draw).

    Parameters
    ----------
    idata : arviz.InferenceData
        With posterior variables ``weights``, ``means`` and ``covariances``.
    covariance_type : str

    Returns
    -------
    MixtureParams
        ``weights`` (C, S, K), ``means`` (C, S, K, d), ``covariances`` (C, S, *shape of the
        covariance type*).
    """
    post = idata.posterior
    missing = [v for v in PARAMETER_NAMES if v not in post]
    if missing:
        raise ValueError(
            f"the posterior has no variable {', '.join(map(repr, missing))}; expected "
            "'weights', 'means' and 'covariances' as PyMCGaussianMixture writes them."
        )
    arrays = [
        np.asarray(post[v].transpose("chain", "draw", ...).values, float) for v in PARAMETER_NAMES
    ]
    return MixtureParams(*arrays, covariance_type)


def draw_weighted_log_prob(X, weights, means, covariances, covariance_type) -> np.ndarray:
    r""":math:`\log w_k + \log \mathcal N(x_i \mid \mu_k, \Sigma_k)` for a batch of draws.

    The same quantity as :func:`latentmix.em.estep.weighted_log_prob`, vectorised over draws.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (S, K)
    means : ndarray of shape (S, K, d)
    covariances : ndarray of shape (S, *shape of the covariance type*)
    covariance_type : str

    Returns
    -------
    ndarray of shape (S, n, K)
    """
    K, d = means.shape[1:]
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)[:, None, :]
    diff = X[None, None, :, :] - means[:, :, None, :]  # (S, K, n, d)
    if covariance_type in ("full", "tied"):
        chol = np.linalg.cholesky(full_covariances(covariances, covariance_type, K, d))
        # Inverse Cholesky factors of the small d x d covariances by numpy's batched solve:
        # one C loop over draws, unlike scipy's triangular solve, which loops in Python.
        chol_inv = np.linalg.solve(chol, np.broadcast_to(np.eye(d), chol.shape))
        z = chol_inv @ np.swapaxes(diff, -1, -2)  # (S, K, d, n)
        maha = (z**2).sum(axis=-2)
        half_log_det = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    else:
        var = variances(covariances, covariance_type, K, d)  # (S, K, d), any diagonal type
        maha = (diff**2 / var[:, :, None, :]).sum(-1)
        half_log_det = 0.5 * np.log(var).sum(-1)
    log_prob = -0.5 * (d * _LOG_2PI + maha) - half_log_det[..., None]  # (S, K, n)
    return np.swapaxes(log_prob, 1, 2) + log_w


def observed_e_step(X, params: MixtureParams):
    """:func:`latentmix.em.estep.e_step`, from each row's observed cells when X has NaN.

    Complete data take the row-by-row E-step unchanged; data with missing cells (NaN) take
    :func:`latentmix.em.missing.e_step` (each row's marginal density of its observed cells).

    Returns
    -------
    log_resp : ndarray of shape (n, K)
    sample_log_lik : ndarray of shape (n,)
    """
    if not np.isnan(X).any():
        return e_step(X, params)
    return missing.e_step(X, params)


def _observed_weighted_log_prob(X, weights, means, covariances, covariance_type):
    """:func:`draw_weighted_log_prob` of each row's observed cells (NaN marks missing).

    Rows are grouped by missingness pattern (:func:`latentmix.em.missing.missingness_patterns`)
    and each group takes the marginal of its observed coordinates: the sub-matrix of every
    covariance, or the observed variances of a diagonal type.
    """
    if not np.isnan(X).any():
        return draw_weighted_log_prob(X, weights, means, covariances, covariance_type)
    patterns, pattern_index = missing.missingness_patterns(X)
    S, K, d = means.shape
    diagonal = covariance_type in DIAGONAL_TYPES
    if diagonal:
        stack = variances(covariances, covariance_type, K, d)  # (S, K, d)
    else:
        stack = full_covariances(covariances, covariance_type, K, d)  # (S, K, d, d)
    out = np.empty((S, X.shape[0], K))
    for p, observed in enumerate(patterns):
        rows = np.flatnonzero(pattern_index == p)
        o = np.flatnonzero(observed)
        if o.size == 0:
            raise ValueError(
                f"row {rows[0]} of X has every cell missing; drop it (it carries no data)."
            )
        sub = stack[..., o] if diagonal else stack[..., o, :][..., o]
        out[:, rows] = draw_weighted_log_prob(
            X[np.ix_(rows, o)], weights, means[..., o], sub, "diag" if diagonal else "full"
        )
    return out


def draw_log_likelihood(
    X, draws: MixtureParams, *, return_membership: bool = False, rows_first: bool = False
):
    r"""Pointwise log-likelihood :math:`\log p(x_i \mid \theta_s)` of every draw.

    Computed in chunks of draws so that memory stays bounded for large n.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    draws : MixtureParams
        As returned by :func:`posterior_draws` (leading dims (C, S)).
    return_membership : bool
        Also return the mean and sd over draws of the membership probabilities
        :math:`p(z_i = k \mid x_i, \theta_s)`.
    rows_first : bool
        Return the log-likelihood as (n, C * S), C-contiguous, draws in (chain, draw) order:
        the layout of :func:`latentmix.comparison.psis.psis_loo`, without a transposing copy.

    Returns
    -------
    log_lik : ndarray of shape (C, S, n), or (n, C * S) with ``rows_first``
    membership_mean, membership_sd : ndarray of shape (n, K)
        Only with ``return_membership``.
    """
    X = np.asarray(X, dtype=float)
    C, S, K, d = draws.means.shape
    n = X.shape[0]
    flat = [a.reshape(C * S, *a.shape[2:]) for a in draws[:3]]
    if not np.isnan(X).any():
        # Complete rows: the likelihood Op's kernel, rows in parallel (the loops below are
        # its NumPy equivalent, kept for rows with missing cells).
        from latentmix.bayes.kernels import draws_rows

        stack = full_covariances(flat[2], draws.covariance_type, K, d)
        rows, total, total_sq = draws_rows(np.ascontiguousarray(X), flat[0], flat[1], stack)
        log_lik = rows if rows_first else np.ascontiguousarray(rows.T).reshape(C, S, n)
        if not return_membership:
            return log_lik
        mean = total / (C * S)
        return log_lik, mean, np.sqrt(np.maximum(total_sq / (C * S) - mean**2, 0.0))
    log_lik = np.empty((C * S, n))
    total = np.zeros((n, K))
    total_sq = np.zeros((n, K))
    step = max(1, _CHUNK_FLOATS // max(1, K * n * d))
    for start in range(0, C * S, step):
        sl = slice(start, start + step)
        wlp = _observed_weighted_log_prob(X, *(a[sl] for a in flat), draws.covariance_type)
        log_lik[sl] = logsumexp(wlp, axis=-1)
        if return_membership:
            resp = np.exp(wlp - log_lik[sl][..., None])
            total += resp.sum(0)
            total_sq += (resp**2).sum(0)
    log_lik = np.ascontiguousarray(log_lik.T) if rows_first else log_lik.reshape(C, S, n)
    if not return_membership:
        return log_lik
    mean = total / (C * S)
    sd = np.sqrt(np.maximum(total_sq / (C * S) - mean**2, 0.0))
    return log_lik, mean, sd


def attach_log_likelihood(idata, pointwise) -> None:
    """Add the pointwise log-likelihood group ArviZ's loo needs, unless one is there.

    Parameters
    ----------
    idata : arviz.InferenceData
        Changed in place.
    pointwise : ndarray of shape (C, S, n)
        From :func:`draw_log_likelihood`.
    """
    if "log_likelihood" in idata.groups():
        return
    import arviz as az

    ll = az.from_dict(
        log_likelihood={"x": pointwise},
        coords={"chain": idata.posterior.chain.values, "draw": idata.posterior.draw.values},
        dims={"x": ["observation"]},
    )
    idata.extend(ll)
