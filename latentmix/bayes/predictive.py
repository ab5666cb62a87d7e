r"""The posterior predictive distribution of missing cells given a row's observed cells.

For a row with observed coordinates :math:`o` and missing :math:`m`, one draw of its missing
cells per posterior draw :math:`\theta^{(s)}`:

.. math::

    z \mid x_o, \theta^{(s)} &\sim \operatorname{Categorical}(r_{\cdot}),\quad
        r_k \propto \pi_k \mathcal N(x_o \mid \mu_{k,o}, \Sigma_{k,oo}), \\
    x_m \mid z = k, x_o, \theta^{(s)} &\sim \mathcal N\bigl(\mu_{k,m} + B_k (x_o - \mu_{k,o}),\;
        \Sigma_{k,mm} - B_k \Sigma_{k,om}\bigr), \quad B_k = \Sigma_{k,mo}\Sigma_{k,oo}^{-1},

the conditional moments of :func:`latentmix.em.missing.conditional_moments`, here batched
over the posterior draws (two triangular solves with the Cholesky factor of
:math:`\Sigma_{k,oo}`, no inverse). Unlike the EM imputation (the conditional mean and sd at
one estimate), these draws carry the uncertainty about the parameters.

Pure NumPy: works on any InferenceData with ``weights``, ``means`` and ``covariances`` in
the posterior (NUTS or VB), no PyMC needed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.bayes.spec import covariance_type_of
from latentmix.em.missing import missingness_patterns
from latentmix.params import PARAMETER_NAMES, full_covariances

__all__ = ["MissingDraws", "predict_missing"]

_LOG_2PI = np.log(2 * np.pi)

# Rows handled at once are capped so that the (S, K, rows, d) intermediates stay near this
# many floats.
_BLOCK_FLOATS = 2**22


class MissingDraws(NamedTuple):
    """Posterior predictive draws of the missing cells of some rows.

    Attributes
    ----------
    rows : ndarray of int, shape (r,)
        The rows of ``X`` the draws are for (0-based).
    draws : ndarray of shape (S, r, d)
        One completed row per posterior draw (chains and draws flattened, chain-major):
        observed cells are the data, missing cells drawn from their posterior predictive.
    missing : ndarray of bool, shape (r, d)
        True where a cell of the row was missing (drawn).
    """

    rows: np.ndarray
    draws: np.ndarray
    missing: np.ndarray


def predict_missing(idata, X, rows=None, *, random_state=None) -> MissingDraws:
    """Draw the missing cells of rows of ``X`` from the posterior predictive.

    Parameters
    ----------
    idata : arviz.InferenceData
        With posterior ``weights`` (chain, draw, component), ``means`` (chain, draw,
        component, feature) and ``covariances`` (the covariance type's dims), as
        :class:`~latentmix.PyMCGaussianMixture` writes them.
    X : array-like of shape (n, d)
        Data; NaN marks a missing cell.
    rows : sequence of int, optional
        Rows to draw for; every row with a missing cell if not given. A row without missing
        cells gives its data in every draw.
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    MissingDraws
        ``draws[s, i, j]`` is draw s of cell ``(rows[i], j)``.

    Raises
    ------
    ValueError
        For rows out of range, a row with every cell missing, data of another width, or a
        posterior without the mixture's variables.
    """
    rng = np.random.default_rng(random_state)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    weights, means, covariances = _draws(idata)
    S, K, d = means.shape
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X has shape {X.shape} but the posterior has {d} features.")
    if rows is None:
        rows = np.flatnonzero(np.isnan(X).any(axis=1))
    rows = np.asarray(rows, dtype=int).reshape(-1)
    if rows.size and (rows.min() < -X.shape[0] or rows.max() >= X.shape[0]):
        raise ValueError(f"rows must index the {X.shape[0]} rows of X; got {rows.tolist()}.")
    values = X[rows]
    empty = np.isnan(values).all(axis=1)
    if empty.any():
        raise ValueError(
            f"row {int(rows[np.argmax(empty)])} of X has every cell missing: its predictive "
            "is the mixture itself (sample it with latentmix.params.sample_mixture)."
        )
    out = np.broadcast_to(values, (S, *values.shape)).copy()
    if rows.size == 0:
        return MissingDraws(rows, out, np.isnan(values))
    patterns, pattern_index = missingness_patterns(values)
    log_w = np.log(weights)
    block = max(1, _BLOCK_FLOATS // (S * K * d))
    # One pass per missingness pattern among the rows asked for (few), each vectorised over
    # the draws, components and rows of the pattern.
    for p, observed in enumerate(patterns):
        if observed.all():
            continue
        members = np.flatnonzero(pattern_index == p)
        moments = _conditional(means, covariances, observed)
        for start in range(0, members.size, block):
            chunk = members[start : start + block]
            out[:, chunk[:, None], ~observed] = _draw_missing(
                values[np.ix_(chunk, observed)], log_w, moments, rng
            )
    return MissingDraws(rows, out, np.isnan(values))


def _draws(idata):
    """Posterior weights (S, K), means (S, K, d) and full covariances (S, K, d, d)."""
    posterior = getattr(idata, "posterior", None)
    if posterior is None or any(name not in posterior for name in PARAMETER_NAMES):
        raise ValueError(
            "idata needs a posterior with 'weights', 'means' and 'covariances' as "
            "PyMCGaussianMixture writes them."
        )
    covariance_type = covariance_type_of(posterior["covariances"].dims[2:])
    if covariance_type is None:
        raise ValueError(
            f"posterior covariances have dims {posterior['covariances'].dims}, which are no "
            "covariance type's."
        )
    flat = {
        name: posterior[name].values.reshape(-1, *posterior[name].shape[2:])
        for name in PARAMETER_NAMES
    }
    K, d = flat["means"].shape[1:]
    full = full_covariances(flat["covariances"], covariance_type, K, d)
    return flat["weights"], flat["means"], full


class _Moments(NamedTuple):
    mean_o: np.ndarray  # (S, K, d_o)
    mean_m: np.ndarray  # (S, K, d_m)
    chol_oo: np.ndarray  # (S, K, d_o, d_o)
    coef_t: np.ndarray  # (S, K, d_o, d_m): B_k^T
    chol_cond: np.ndarray  # (S, K, d_m, d_m): Cholesky factor of the conditional covariance


def _conditional(means, covariances, observed) -> _Moments:
    o, m = observed, ~observed
    s_oo = covariances[:, :, o][:, :, :, o]
    s_om = covariances[:, :, o][:, :, :, m]
    s_mm = covariances[:, :, m][:, :, :, m]
    L = np.linalg.cholesky(s_oo)
    W = np.linalg.solve(L, s_om)  # L^{-1} Sigma_om
    coef_t = np.linalg.solve(np.swapaxes(L, -1, -2), W)  # Sigma_oo^{-1} Sigma_om = B^T
    cond = s_mm - np.swapaxes(W, -1, -2) @ W
    cond = 0.5 * (cond + np.swapaxes(cond, -1, -2))
    return _Moments(means[:, :, o], means[:, :, m], L, coef_t, np.linalg.cholesky(cond))


def _draw_missing(values, log_w, moments: _Moments, rng) -> np.ndarray:
    """Missing cells (S, r, d_m) of r rows of one pattern, observed part ``values`` (r, d_o)."""
    mo = moments
    S, d_o = mo.mean_o.shape[0], mo.mean_o.shape[2]
    diff = values[None, None, :, :] - mo.mean_o[:, :, None, :]  # (S, K, r, d_o)
    z = np.linalg.solve(mo.chol_oo, np.swapaxes(diff, -1, -2))  # (S, K, d_o, r)
    log_det = np.log(np.diagonal(mo.chol_oo, axis1=-2, axis2=-1)).sum(-1)  # (S, K)
    log_dens = -0.5 * (d_o * _LOG_2PI + (z**2).sum(-2)) - log_det[..., None]  # (S, K, r)
    log_post = log_w[:, :, None] + log_dens
    # The component of each (draw, row) by the Gumbel-max trick: exact categorical draws
    # straight from unnormalised log-probabilities.
    k = np.argmax(log_post + rng.gumbel(size=log_post.shape), axis=1)  # (S, r)
    s = np.arange(S)[:, None]
    cond_mean = mo.mean_m[s, k] + np.einsum(
        "sro,srom->srm", diff[s, k, np.arange(k.shape[1])], mo.coef_t[s, k]
    )
    noise = rng.standard_normal(cond_mean.shape)
    return cond_mean + np.einsum("srmj,srj->srm", mo.chol_cond[s, k], noise)
