r"""Why EM never lowers the likelihood, as numbers: Q, the entropy term and the lower bound.

Write :math:`w_j^{(i)} = p(z^{(i)} = j \mid x^{(i)}; \theta_{old})` for the responsibilities at
the old parameters and :math:`\ell(\theta) = \sum_i \log p(x^{(i)}; \theta)`. Because
:math:`\log p(x) = \log p(x, z) - \log p(z \mid x)` for every :math:`z`, averaging over
:math:`z^{(i)} \sim w^{(i)}` splits the log-likelihood exactly into two pieces:

.. math::

    \ell(\theta) = \underbrace{\sum_i \sum_j w_j^{(i)}
        \log\bigl[\phi_j \, \mathcal N(x^{(i)}; \mu_j, \Sigma_j)\bigr]}_{Q(\theta, \theta_{old})}
      + \underbrace{\Bigl(-\sum_i \sum_j w_j^{(i)}
        \log p(z^{(i)} = j \mid x^{(i)}; \theta)\Bigr)}_{H(\theta_{old}; \theta)} .

The second piece is a cross-entropy. By Gibbs' inequality it is smallest at
:math:`\theta = \theta_{old}`, where it is the entropy :math:`H(\theta_{old})` of the
responsibilities. Hence

.. math::

    \ell(\theta) \ge Q(\theta, \theta_{old}) + H(\theta_{old}) =: B(\theta; \theta_{old}),

with equality at :math:`\theta = \theta_{old}`: the bound :math:`B` touches the log-likelihood
at the current parameters, and the M-step, which maximises :math:`Q`, maximises :math:`B`.
Any step that raises :math:`Q` raises :math:`B`, and :math:`\ell` sits above :math:`B`.

Everything here is a pure function of the data and :class:`~latentmix.params.MixtureParams`,
built on :mod:`latentmix.em.estep`; nothing runs EM.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

from latentmix.em.estep import e_step, precision_cholesky, weighted_log_prob
from latentmix.params import DIAGONAL_TYPES, MixtureParams


def _weighted_sum(resp, values) -> float:
    """``sum(resp * values)`` where a zero responsibility contributes zero (not 0 * -inf)."""
    return float(np.where(resp > 0, resp * np.where(resp > 0, values, 0.0), 0.0).sum())


def responsibilities(X, params: MixtureParams) -> np.ndarray:
    """The responsibilities :math:`w_j^{(i)}` at ``params``, shape (n, K)."""
    return np.exp(e_step(X, params)[0])


def q_function(X, params: MixtureParams, old_params: MixtureParams) -> float:
    r"""The expected complete-data log-likelihood :math:`Q(\theta, \theta_{old})`.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
        :math:`\theta`, where Q is evaluated.
    old_params : MixtureParams
        :math:`\theta_{old}`, which fixes the responsibilities.

    Returns
    -------
    float
        :math:`\sum_i \sum_j w_j^{(i)} [\log \phi_j + \log \mathcal N(x^{(i)}; \mu_j, \Sigma_j)]`.
    """
    resp = responsibilities(X, old_params)
    return _weighted_sum(resp, weighted_log_prob(X, params))


def cross_entropy(X, params: MixtureParams, old_params: MixtureParams) -> float:
    r"""The cross-entropy :math:`H(\theta_{old}; \theta)` of the two responsibility sets.

    Returns
    -------
    float
        :math:`-\sum_i \sum_j w_j^{(i)}(\theta_{old}) \log w_j^{(i)}(\theta)`, never negative.
    """
    resp = responsibilities(X, old_params)
    return -_weighted_sum(resp, e_step(X, params)[0])


def entropy(X, params: MixtureParams) -> float:
    r"""The entropy of the responsibilities, :math:`H(\theta) = H(\theta; \theta)`.

    Zero when every point belongs surely to one component (hard assignments), and
    :math:`n \log K` at most.
    """
    log_resp = e_step(X, params)[0]
    return -_weighted_sum(np.exp(log_resp), log_resp)


class Decomposition(NamedTuple):
    r""":math:`\ell(\theta) = Q(\theta, \theta_{old}) + H(\theta_{old}; \theta)`.

    Attributes
    ----------
    log_likelihood : float
    q : float
        :math:`Q(\theta, \theta_{old})`.
    cross_entropy : float
        :math:`H(\theta_{old}; \theta)` (the entropy when ``params is old_params``).
    """

    log_likelihood: float
    q: float
    cross_entropy: float


def decompose(X, params: MixtureParams, old_params: MixtureParams | None = None) -> Decomposition:
    r"""Split :math:`\ell(\theta)` into Q and the cross-entropy term.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
    old_params : MixtureParams, optional
        Defaults to ``params`` (the split at the current point: Q plus the entropy).

    Returns
    -------
    Decomposition
        The three numbers; ``q + cross_entropy`` equals ``log_likelihood`` up to rounding.
    """
    old_params = params if old_params is None else old_params
    log_resp, sample_log_lik = e_step(X, params)
    old_resp = responsibilities(X, old_params)
    return Decomposition(
        float(sample_log_lik.sum()),
        _weighted_sum(old_resp, weighted_log_prob(X, params)),
        -_weighted_sum(old_resp, log_resp),
    )


class DecompositionPath(NamedTuple):
    r"""The decomposition along an EM path :math:`\theta_0, \theta_1, \dots, \theta_T`.

    Every array has one entry per iteration t = 0 .. T; entries of the ``*_next`` arrays at
    the last iteration are NaN (there is no next step).

    Attributes
    ----------
    log_likelihood : ndarray
        :math:`\ell(\theta_t)`.
    q : ndarray
        :math:`Q(\theta_t, \theta_t)`.
    entropy : ndarray
        :math:`H(\theta_t)`, so that ``log_likelihood = q + entropy``.
    q_next : ndarray
        :math:`Q(\theta_{t+1}, \theta_t)`, what the M-step achieved; ``q_next >= q``.
    cross_entropy_next : ndarray
        :math:`H(\theta_t; \theta_{t+1})`;
        ``log_likelihood[t+1] = q_next + cross_entropy_next`` and
        ``cross_entropy_next >= entropy`` (Gibbs).
    """

    log_likelihood: np.ndarray
    q: np.ndarray
    entropy: np.ndarray
    q_next: np.ndarray
    cross_entropy_next: np.ndarray

    @property
    def q_gain(self) -> np.ndarray:
        r""":math:`Q(\theta_{t+1}, \theta_t) - Q(\theta_t, \theta_t) \ge 0`."""
        return self.q_next - self.q

    @property
    def kl_gain(self) -> np.ndarray:
        """The cross-entropy minus the entropy: a Kullback-Leibler divergence, ``>= 0``."""
        return self.cross_entropy_next - self.entropy


def decomposition_path(X, params_path) -> DecompositionPath:
    r"""The decomposition at every iteration of an EM path.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params_path : sequence of MixtureParams
        :math:`\theta_0, \dots, \theta_T`, e.g. the parameters in an estimator's
        ``trajectory_``.

    Returns
    -------
    DecompositionPath
    """
    params_path = list(params_path)
    T = len(params_path)
    out = {name: np.full(T, np.nan) for name in DecompositionPath._fields}
    for t, params in enumerate(params_path):
        here = decompose(X, params)
        out["log_likelihood"][t] = here.log_likelihood
        out["q"][t] = here.q
        out["entropy"][t] = here.cross_entropy
        if t + 1 < T:
            step = decompose(X, params_path[t + 1], params)
            out["q_next"][t] = step.q
            out["cross_entropy_next"][t] = step.cross_entropy
    return DecompositionPath(**out)


# --- the lower bound along one component mean ------------------------------------------


def with_mean(params: MixtureParams, component: int, value: float, feature: int = 0):
    """``params`` with ``means[component, feature]`` replaced by ``value``."""
    means = np.array(params.means, dtype=float)
    means[component, feature] = value
    return params._replace(means=means)


class BoundSlice(NamedTuple):
    r"""The log-likelihood and EM's lower bound along one coordinate of one component mean.

    Attributes
    ----------
    values : ndarray of shape (m,)
        The grid of values for ``means[component, feature]``; every other parameter is held
        at the current point.
    log_likelihood : ndarray of shape (m,)
        :math:`\ell` along the grid.
    lower_bound : ndarray of shape (m,)
        :math:`B = Q(\cdot, \theta_{old}) + H(\theta_{old})` along the grid.
    current : float
        The current value, where the two curves touch.
    maximiser : float
        Where the bound peaks (closed form, :func:`bound_maximiser`).
    """

    values: np.ndarray
    log_likelihood: np.ndarray
    lower_bound: np.ndarray
    current: float
    maximiser: float


def bound_slice(
    X, old_params: MixtureParams, component: int, values, feature: int = 0
) -> BoundSlice:
    r"""Evaluate :math:`\ell` and the bound :math:`B(\cdot; \theta_{old})` along one mean.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    old_params : MixtureParams
        :math:`\theta_{old}`, the point the bound is built at.
    component, feature : int
        Which mean coordinate varies.
    values : array-like of shape (m,)

    Returns
    -------
    BoundSlice
    """
    values = np.asarray(values, dtype=float)
    X = np.asarray(X, dtype=float)
    wlp = weighted_log_prob(X, old_params)
    log_resp, _ = e_step(X, old_params)
    resp = np.exp(log_resp)
    h_old = -_weighted_sum(resp, log_resp)
    # Only column ``component`` moves along the slice. With P the precision factor of that
    # component, y = (x - mu) P, and moving mu_f by delta turns |y|^2 into
    # |y|^2 - 2 delta y.P[f] + delta^2 |P[f]|^2: every grid value in one (n, m) array.
    full = old_params.full_covariances()
    P = precision_cholesky(full[component : component + 1], "full")[0]
    mu = np.asarray(old_params.means[component], dtype=float)
    y = (X - mu) @ P
    row = P[feature]
    delta = values - mu[feature]
    maha = (
        np.einsum("ij,ij->i", y, y)[:, None]
        - 2.0 * (y @ row)[:, None] * delta[None, :]
        + (row @ row) * delta[None, :] ** 2
    )
    d = X.shape[1]
    moved = (
        np.log(old_params.weights[component])
        - 0.5 * (d * np.log(2 * np.pi) + maha)
        + np.log(np.diag(P)).sum()
    )
    others = np.delete(wlp, component, axis=1)
    rest = logsumexp(others, axis=1) if others.shape[1] else np.full(X.shape[0], -np.inf)
    ll = np.logaddexp(rest[:, None], moved).sum(axis=0)
    fixed = _weighted_sum(np.delete(resp, component, axis=1), others)
    bound = fixed + resp[:, component] @ moved + h_old
    return BoundSlice(
        values,
        ll,
        bound,
        float(old_params.means[component, feature]),
        bound_maximiser(X, old_params, component, feature),
    )


def bound_maximiser(X, old_params: MixtureParams, component: int, feature: int = 0) -> float:
    r"""Where the bound along ``means[component, feature]`` peaks, in closed form.

    Q is a quadratic in :math:`\mu_j` with precision :math:`N_j \Lambda_j` around the weighted
    mean :math:`\bar x_j = \sum_i w_j^{(i)} x^{(i)} / N_j`. Moving one coordinate with the
    others held fixed, the peak is
    :math:`\bar x_{jf} - \sum_{l \ne f} \Lambda_{fl} (\mu_{jl} - \bar x_{jl}) / \Lambda_{ff}`.
    In one dimension this is the weighted mean: the next EM value of the mean (MLE).

    Returns
    -------
    float
    """
    resp = responsibilities(X, old_params)[:, component]
    xbar = resp @ X / resp.sum()
    d = X.shape[1]
    if d == 1:
        return float(xbar[0])
    covariance_type = old_params.covariance_type
    if covariance_type in DIAGONAL_TYPES:
        return float(xbar[feature])  # a diagonal precision decouples the coordinates
    prec_chol = precision_cholesky(old_params.covariances, covariance_type)
    P = prec_chol[component] if covariance_type == "full" else prec_chol
    precision = P @ P.T
    delta = np.asarray(old_params.means[component], dtype=float) - xbar
    delta[feature] = 0.0
    return float(xbar[feature] - precision[feature] @ delta / precision[feature, feature])


# --- the lower bound along EM's whole step -----------------------------------------------


def step_params(old_params: MixtureParams, new_params: MixtureParams, s: float):
    r"""The point :math:`\theta(s)` on the line through :math:`\theta_t` (s = 0) and the next (1).

    Weights and means move linearly; each covariance moves through its Cholesky factor,
    :math:`L(s) = L_t + s (L_{t+1} - L_t)`, :math:`\Sigma(s) = L(s) L(s)^\top`, so it stays
    symmetric and positive semi-definite for every s.

    Returns
    -------
    MixtureParams or None
        Full covariances; None where the line leaves the parameter space (a weight at or
        below zero, or a factor with a diagonal entry at or below zero).
    """
    weights = (1 - s) * old_params.weights + s * new_params.weights
    L0 = np.linalg.cholesky(old_params.full_covariances())
    L1 = np.linalg.cholesky(new_params.full_covariances())
    L = (1 - s) * L0 + s * L1
    if np.any(weights <= 0) or np.any(np.diagonal(L, axis1=-2, axis2=-1) <= 0):
        return None
    return MixtureParams(
        weights,
        (1 - s) * np.asarray(old_params.means, float) + s * np.asarray(new_params.means, float),
        L @ np.swapaxes(L, -1, -2),
        "full",
    )


class BoundLine(NamedTuple):
    r"""The log-likelihood and the bound built at :math:`\theta_t` along EM's step.

    Attributes
    ----------
    steps : ndarray of shape (m,)
        s; 0 is :math:`\theta_t`, 1 is EM's next point :math:`\theta_{t+1}`.
    log_likelihood : ndarray of shape (m,)
        :math:`\ell(\theta(s))`; NaN where :math:`\theta(s)` is not a valid mixture.
    lower_bound : ndarray of shape (m,)
        :math:`B(\theta(s); \theta_t) = Q(\theta(s), \theta_t) + H(\theta_t)`; NaN likewise.
    """

    steps: np.ndarray
    log_likelihood: np.ndarray
    lower_bound: np.ndarray


def bound_along_step(X, old_params: MixtureParams, new_params: MixtureParams, steps) -> BoundLine:
    r"""Evaluate :math:`\ell` and the bound along the straight line through EM's step.

    In any dimension, and for every parameter at once: the M-step's result
    :math:`\theta_{t+1}` maximises :math:`B(\cdot; \theta_t)` over all parameters, so along
    this line (which passes through it) the bound peaks at s = 1, touches :math:`\ell` at
    s = 0 and lies below it everywhere. (A slice along one mean coordinate peaks at EM's next
    value only in 1-D: in 2-D the other coordinates and the covariances move too.)

    Parameters
    ----------
    X : ndarray of shape (n, d)
    old_params, new_params : MixtureParams
        :math:`\theta_t` and the next EM iterate :math:`\theta_{t+1}` (MLE steps).
    steps : array-like of shape (m,)

    Returns
    -------
    BoundLine
    """
    steps = np.asarray(steps, dtype=float)
    X = np.asarray(X, dtype=float)
    log_resp, _ = e_step(X, old_params)
    resp = np.exp(log_resp)
    h_old = -_weighted_sum(resp, log_resp)
    ll = np.full(steps.shape, np.nan)
    bound = np.full(steps.shape, np.nan)
    for i, s in enumerate(steps):
        params = step_params(old_params, new_params, s)
        if params is None:
            continue
        wlp = weighted_log_prob(X, params)
        ll[i] = float(logsumexp(wlp, axis=1).sum())
        bound[i] = _weighted_sum(resp, wlp) + h_old
    return BoundLine(steps, ll, bound)
