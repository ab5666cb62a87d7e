r"""The M-step: mixture parameters from sufficient statistics, for MLE and MAP.

:func:`m_step` is called by :func:`latentmix.em.fit.em_step` (statistics from the fused
E-step) and, with :func:`sufficient_statistics` of hard assignments, by
:mod:`latentmix.em.init` for partition starts.

The E-step gives responsibilities :math:`r_{ik}`. Everything the M-step needs is in three
sums, taken about a fixed centring point :math:`c` (the data mean) to keep the round-off of
the one-pass formulas small:

.. math::

    N_k = \sum_i r_{ik}, \qquad
    s_k = \sum_i r_{ik} (x_i - c), \qquad
    T_k = \sum_i r_{ik} (x_i - c)(x_i - c)^\top .

They are sums over rows, so they can be computed over row blocks and added
(:mod:`latentmix.em.kernels` does, in packed form). From them
:math:`\bar x_k = c + s_k / N_k` and the within-component scatter
:math:`S_k = \sum_i r_{ik}(x_i - \bar x_k)(x_i - \bar x_k)^\top = T_k - s_k s_k^\top/N_k`.
Only the part of :math:`T_k` a covariance type needs is kept: the full matrices (``full``),
their sum over components (``tied``; it is the total scatter about :math:`c`, whatever the
responsibilities), the diagonals (``diag``), the traces (``spherical``), the diagonals summed
over components (``tied_diag``) or the traces summed over components (``tied_spherical``).

MLE and MAP share the code: the MAP update is the MLE statistics plus prior terms. With the
prior of :mod:`latentmix.priors` (Dirichlet :math:`\alpha`; :math:`\mu_k \mid \Sigma_k \sim
\mathcal N(m_0, \Sigma_k/\kappa)`; :math:`\Sigma_k \sim \operatorname{IW}(\nu, \Psi)`, or
:math:`\operatorname{IG}(\nu/2, \psi/2)` per variance), :math:`N = \sum_k N_k` and
:math:`b_k = \kappa N_k / (\kappa + N_k)`, the maximiser of the expected complete-data
log-posterior is

.. math::

    w_k &= \frac{N_k + \alpha_k - 1}{N + \sum_j \alpha_j - K} \quad (\alpha_k \ge 1) \\
    \mu_k &= \frac{N_k \bar x_k + \kappa m_0}{N_k + \kappa} \\
    \Sigma_k^{\text{full}} &= \frac{\Psi + S_k + b_k (\bar x_k - m_0)(\bar x_k - m_0)^\top}
        {\nu + N_k + d + 2} \\
    \Sigma^{\text{tied}} &= \frac{\Psi + \sum_k [S_k + b_k (\bar x_k - m_0)(\bar x_k - m_0)^\top]}
        {\nu + N + d + 1 + K} \\
    \sigma^{2,\text{diag}}_{kj} &= \frac{\psi_j + S_{k,jj} + b_k (\bar x_{kj} - m_{0j})^2}
        {\nu + N_k + 3} \\
    \sigma^{2,\text{spherical}}_k &= \frac{s + \operatorname{tr} S_k
        + b_k \lVert \bar x_k - m_0 \rVert^2}{\nu + N_k d + d + 2} \\
    \sigma^{2,\text{tied\_diag}}_j &= \frac{\psi_j + \sum_k [S_{k,jj}
        + b_k (\bar x_{kj} - m_{0j})^2]}{\nu + N + K + 2} \\
    \sigma^{2,\text{tied\_spherical}} &= \frac{s + \sum_k [\operatorname{tr} S_k
        + b_k \lVert \bar x_k - m_0 \rVert^2]}{\nu + (N + K) d + 2}

Derivation. For one full component, the terms of the expected complete-data log-posterior
that involve :math:`(\mu_k, \Sigma_k)` are

.. math::

    -\tfrac12 (N_k + \nu + d + 2) \log|\Sigma_k| - \tfrac12 \operatorname{tr}\bigl(\Sigma_k^{-1}
    [\Psi + \textstyle\sum_i r_{ik}(x_i - \mu_k)(x_i - \mu_k)^\top
    + \kappa(\mu_k - m_0)(\mu_k - m_0)^\top]\bigr)

(:math:`N_k` from the likelihood, :math:`\nu + d + 1` from the inverse Wishart, 1 from the
normal prior on the mean). The quadratic in :math:`\mu_k` is minimised at the weighted average
above whatever :math:`\Sigma_k`; substituting it, the bracket becomes
:math:`\Psi + S_k + b_k(\bar x_k - m_0)(\bar x_k - m_0)^\top`, and
:math:`-\tfrac a2 \log|\Sigma| - \tfrac12 \operatorname{tr}(\Sigma^{-1} B)` is maximised at
:math:`\Sigma = B / a`. The tied case collects :math:`N` from the likelihood,
:math:`\nu + d + 1` from its one inverse Wishart and 1 from each of the K mean priors. For an
inverse-gamma variance the exponent of :math:`\sigma^2` is :math:`-(\nu/2 + 1)`, plus
:math:`-1/2` per mean coordinate under its prior and :math:`-N_k/2` per coordinate from the
likelihood: :math:`\nu + N_k + 3` for ``diag`` and :math:`\nu + N_k d + d + 2` for
``spherical``. The weights maximise :math:`\sum_k (N_k + \alpha_k - 1)\log w_k` on the simplex.

The shared diagonal types collect the same terms over every component. For ``tied_diag``
the terms of :math:`\sigma^2_j` (one variance of feature j for all components) are

.. math::

    -\tfrac12 (\nu + 2 + K + N) \log \sigma^2_j - \frac{1}{2\sigma^2_j}\Bigl[\psi_j
    + \textstyle\sum_k \bigl(\sum_i r_{ik}(x_{ij} - \mu_{kj})^2
    + \kappa(\mu_{kj} - m_{0j})^2\bigr)\Bigr]

(:math:`\nu + 2` from its one inverse gamma, 1 from each of the K mean priors, N from the
likelihood); the means are the same weighted averages whatever :math:`\sigma^2_j`, the
bracket becomes :math:`\psi_j + \sum_k [S_{k,jj} + b_k(\bar x_{kj} - m_{0j})^2]`, and
:math:`-\tfrac a2 \log v - B/(2v)` is maximised at :math:`v = B/a`. For ``tied_spherical``
each of the K mean priors brings d coordinates and the likelihood N d:
:math:`a = \nu + 2 + (N + K) d`. With K = 1 they are the ``diag`` and ``spherical`` updates.

Where mclust departs, and why we do not follow. R mclust (6.0.0; Fraley & Raftery 2007)
puts the same conjugate family on these models with ``priorControl()`` (no prior on the
weights: ours with :math:`\alpha = 1`). ``tests/em/test_mclust.py`` runs mclust's ``mstep``
and ours on the same responsibilities, term by term. For VVV, EEE, VVI, VII and the 1-D V
and E (full, tied, diag, spherical) the two updates agree to rounding, and so do the fits
from one start. For the two shared diagonal models they do not:

* EEI (``tied_diag``): mclust's variances are the formula above, but its means are the
  component averages :math:`\bar x_k`, not shrunk to :math:`m_0` (the Fortran routine
  ``mseeip`` never applies the shrinkage it uses in the variance). The pair maximises
  nothing: the variance term :math:`b_k(\bar x_{kj} - m_{0j})^2` is what is left after the
  means have been maximised out, and it is wrong for means left at :math:`\bar x_k`.
* EII (``tied_spherical``): mclust's means are shrunk as above, but its variance leaves out
  the prior scale :math:`s` and counts the shift of each mean twice: its numerator is
  :math:`\sum_{ik} r_{ik}\lVert x_i - \mu_k \rVert^2 + \kappa \sum_k \lVert \mu_k - m_0
  \rVert^2 + \sum_k N_k \lVert \bar x_k - \mu_k \rVert^2` (found by probing ``mstep``
  with one and two components, shrinkage 0 to 100 and two scales; the scale never
  changed the result), where the maximiser has :math:`s` in place of the last term.

We read both as slips rather than a different model (mclust's other models follow the
conjugate updates exactly), and keep the exact maximiser, so that
EM's objective (log-likelihood plus :func:`latentmix.priors.log_prior`) never falls and the
MAP is a stationary point of the log-posterior, the same point ``find_MAP`` finds with the
PyMC model; at mclust's EEI and EII fixed points the log-posterior's gradient is not zero
and ours is higher (tested). So for EEI and EII with a prior our BIC is not mclust's (the
MLE cells agree). mclust's default scale for its diagonal models is also one number, the
mean variance; ours (:meth:`~latentmix.priors.ConjugatePrior.default`) keeps one variance
per feature for ``diag`` and ``tied_diag``, which on data with features of very different
spread (faithful: 1.3 and 185) keeps the prior from swamping the small one (faithful with
two components: mclust's EEI MAP has an eruptions variance of 0.30 against the MLE's 0.13
and a log-likelihood 35 lower; ours 0.13 and 0.03 lower). To reproduce mclust, pass
``np.full(d, s)``.

MLE (no prior): :math:`w_k = N_k / N`, :math:`\mu_k = \bar x_k`, :math:`\Sigma_k = S_k / N_k`
(``tied``: :math:`\sum_k S_k / N`; ``diag``: the diagonal; ``spherical``:
:math:`\operatorname{tr} S_k / (N_k d)`; ``tied_diag``: the diagonal of
:math:`\sum_k S_k / N`; ``tied_spherical``: :math:`\sum_k \operatorname{tr} S_k / (N d)`).
``reg_covar`` (default 0) is added to the diagonal of every covariance after the update, as
scikit-learn does; it is only there to match scikit-learn's regularised fits, and with it the
update is no longer an exact maximiser.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.params import DIAGONAL_TYPES, MixtureParams, check_covariance_type
from latentmix.priors import ConjugatePrior

# Added to N_k before dividing, as scikit-learn does, so an empty component gives 0/tiny
# (a zero covariance, caught as degenerate) rather than NaN.
_EMPTY = 10 * np.finfo(float).eps


class SufficientStats(NamedTuple):
    r"""Responsibility-weighted sums over rows, about a centring point.

    Attributes
    ----------
    nk : ndarray of shape (K,)
        :math:`N_k = \sum_i r_{ik}`.
    sum_x : ndarray of shape (K, d)
        :math:`\sum_i r_{ik} (x_i - c)`.
    sum_xx : ndarray
        Second moments about ``center``: (K, d, d) full, (d, d) tied (summed over
        components), (K, d) diag (the diagonals), (K,) spherical (the traces), (d,)
        tied_diag (the diagonals summed over components), () tied_spherical (the traces
        summed over components).
    center : ndarray of shape (d,)
        The centring point :math:`c`.
    covariance_type : str
    """

    nk: np.ndarray
    sum_x: np.ndarray
    sum_xx: np.ndarray
    center: np.ndarray
    covariance_type: str


# --- gathering the statistics -------------------------------------------------------------


#: Rows per slice in the products that sum over rows (see _sum_over_rows).
_SLICE_ROWS = 512


def _sum_over_rows(A, B):
    """``A.T @ B`` for tall A (n, p) and B (n, q), as a stack of products over row slices.

    One BLAS call with a long inner dimension and a tiny output is split across threads
    badly; a stack of small products (each below the size where BLAS starts threads) and a
    sum is as fast on one core and does not stall when the machine is busy.
    """
    n = A.shape[0]
    m = n - n % _SLICE_ROWS
    out = A[m:].T @ B[m:]
    if m:
        a = A[:m].reshape(-1, _SLICE_ROWS, A.shape[1])
        b = B[:m].reshape(-1, _SLICE_ROWS, B.shape[1])
        out += np.matmul(a.transpose(0, 2, 1), b).sum(axis=0)
    return out


def _second_moments_full(Xc, resp):
    n, d = Xc.shape
    K = resp.shape[1]
    # One product for all components: Xc^T [r_1 * Xc, ..., r_K * Xc].
    weighted = (resp[:, :, None] * Xc[:, None, :]).reshape(n, K * d)
    out = _sum_over_rows(Xc, weighted).reshape(d, K, d).transpose(1, 0, 2)
    return 0.5 * (out + out.transpose(0, 2, 1))


def _second_moments_tied(Xc, resp):
    # Responsibilities sum to one over components, so the sum over k of T_k is the total.
    out = _sum_over_rows(Xc, Xc)
    return 0.5 * (out + out.T)


def _second_moments_diag(Xc, resp):
    return _sum_over_rows(resp, Xc * Xc)


def _second_moments_spherical(Xc, resp):
    return _sum_over_rows(resp, np.einsum("ij,ij->i", Xc, Xc)[:, None])[:, 0]


def _second_moments_tied_diag(Xc, resp):
    # Summed over components, as for tied: the per-component diagonals would add up to this.
    return _sum_over_rows(resp.sum(axis=1, keepdims=True), Xc * Xc)[0]


def _second_moments_tied_spherical(Xc, resp):
    return _second_moments_tied_diag(Xc, resp).sum()


_SECOND_MOMENTS = {
    "full": _second_moments_full,
    "tied": _second_moments_tied,
    "diag": _second_moments_diag,
    "spherical": _second_moments_spherical,
    "tied_diag": _second_moments_tied_diag,
    "tied_spherical": _second_moments_tied_spherical,
}


def sufficient_statistics(X, resp, covariance_type: str, center=None) -> SufficientStats:
    """Sufficient statistics of a block of rows.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    resp : ndarray of shape (n, K)
        Responsibilities (rows sum to one).
    covariance_type : str
    center : ndarray of shape (d,), optional
        Centring point; zeros if not given. Use the same point for every block.

    Returns
    -------
    SufficientStats
    """
    check_covariance_type(covariance_type)
    X = np.asarray(X, dtype=float)
    center = np.zeros(X.shape[1]) if center is None else np.asarray(center, dtype=float)
    Xc = X - center
    return SufficientStats(
        resp.sum(axis=0),
        _sum_over_rows(resp, Xc),
        _SECOND_MOMENTS[covariance_type](Xc, resp),
        center,
        covariance_type,
    )


# --- covariance updates, one per type ---------------------------------------------------------


class _PriorTerms(NamedTuple):
    """The prior's hyperparameters in the centred coordinates of the statistics."""

    mean: np.ndarray  # m0 - c, (d,)
    mean_precision: float
    degrees_of_freedom: float
    scale: np.ndarray


def _outer(a):
    return a[:, :, None] * a[:, None, :]


def _covariances_full(stats, nk, xbar, prior):
    d = xbar.shape[1]
    scatter = stats.sum_xx - nk[:, None, None] * _outer(xbar)
    if prior is None:
        return scatter / (nk + _EMPTY)[:, None, None]
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    shrink = kappa * nk / (kappa + nk)
    numerator = prior.scale + scatter + shrink[:, None, None] * _outer(xbar - prior.mean)
    return numerator / (nu + nk + d + 2)[:, None, None]


def _covariances_tied(stats, nk, xbar, prior):
    d = xbar.shape[1]
    K = nk.shape[0]
    n = nk.sum()
    scatter = stats.sum_xx - np.einsum("k,ki,kj->ij", nk, xbar, xbar)
    if prior is None:
        return scatter / n
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    shrink = kappa * nk / (kappa + nk)
    diff = xbar - prior.mean
    numerator = prior.scale + scatter + np.einsum("k,ki,kj->ij", shrink, diff, diff)
    return numerator / (nu + n + d + 1 + K)


def _covariances_diag(stats, nk, xbar, prior):
    scatter = stats.sum_xx - nk[:, None] * xbar**2
    if prior is None:
        return scatter / (nk + _EMPTY)[:, None]
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    shrink = kappa * nk / (kappa + nk)
    numerator = prior.scale[None, :] + scatter + shrink[:, None] * (xbar - prior.mean) ** 2
    return numerator / (nu + nk + 3)[:, None]


def _covariances_spherical(stats, nk, xbar, prior):
    d = xbar.shape[1]
    scatter = stats.sum_xx - nk * (xbar**2).sum(axis=1)
    if prior is None:
        return scatter / ((nk + _EMPTY) * d)
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    shrink = kappa * nk / (kappa + nk)
    numerator = prior.scale + scatter + shrink * ((xbar - prior.mean) ** 2).sum(axis=1)
    return numerator / (nu + nk * d + d + 2)


def _covariances_tied_diag(stats, nk, xbar, prior):
    K = nk.shape[0]
    n = nk.sum()
    scatter = stats.sum_xx - (nk[:, None] * xbar**2).sum(axis=0)
    if prior is None:
        return scatter / n
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    shrink = kappa * nk / (kappa + nk)
    numerator = prior.scale + scatter + (shrink[:, None] * (xbar - prior.mean) ** 2).sum(axis=0)
    return numerator / (nu + n + K + 2)


def _covariances_tied_spherical(stats, nk, xbar, prior):
    K, d = xbar.shape
    n = nk.sum()
    scatter = stats.sum_xx - (nk * (xbar**2).sum(axis=1)).sum()
    if prior is None:
        return np.asarray(scatter / (n * d))
    kappa, nu = prior.mean_precision, prior.degrees_of_freedom
    shrink = kappa * nk / (kappa + nk)
    numerator = prior.scale + scatter + (shrink * ((xbar - prior.mean) ** 2).sum(axis=1)).sum()
    return np.asarray(numerator / (nu + (n + K) * d + 2))


_COVARIANCES = {
    "full": _covariances_full,
    "tied": _covariances_tied,
    "diag": _covariances_diag,
    "spherical": _covariances_spherical,
    "tied_diag": _covariances_tied_diag,
    "tied_spherical": _covariances_tied_spherical,
}


def _add_to_diagonal(covariances, covariance_type, value):
    if value == 0:
        return covariances
    if covariance_type in DIAGONAL_TYPES:
        return covariances + value
    d = covariances.shape[-1]
    return covariances + value * np.eye(d)


def check_map_concentration(prior: ConjugatePrior, n_components: int) -> np.ndarray:
    """The Dirichlet concentration as (K,), or a ValueError if some value is below 1.

    Below 1 the Dirichlet density is unbounded where a weight reaches zero, so the
    posterior has no mode and EM MAP is not defined.
    """
    alpha = prior.concentration(n_components)
    if np.any(alpha < 1):
        bad = float(alpha[alpha < 1][0])
        raise ValueError(
            f"weight_concentration {bad:g} is below 1: the posterior then has no mode (its "
            "density is unbounded where a weight reaches zero), so there is no MAP estimate. "
            "Use weight_concentration >= 1 (1 is flat)."
        )
    return alpha


def m_step(
    stats: SufficientStats, prior: ConjugatePrior | None = None, reg_covar: float = 0.0
) -> MixtureParams:
    """Maximise the expected complete-data log-likelihood (or log-posterior).

    Parameters
    ----------
    stats : SufficientStats
        From :func:`sufficient_statistics` (summed over blocks).
    prior : ConjugatePrior or None
        None gives the MLE update, a prior the MAP update (formulas in the module
        docstring). Its ``weight_concentration`` must be >= 1.
    reg_covar : float
        Added to the diagonal of every covariance after the update (default 0).

    Returns
    -------
    MixtureParams
        With ``covariance_type`` taken from ``stats``.
    """
    covariance_type = stats.covariance_type
    nk = stats.nk
    K = nk.shape[0]
    n = nk.sum()
    xbar = stats.sum_x / (nk + _EMPTY)[:, None]  # centred component averages
    if prior is None:
        weights = nk / n
        means = xbar
        terms = None
    else:
        alpha = check_map_concentration(prior, K)
        weights = (nk + alpha - 1) / (n + alpha.sum() - K)
        kappa = prior.mean_precision
        m0 = prior.mean - stats.center
        means = (stats.sum_x + kappa * m0) / (nk + kappa)[:, None]
        terms = _PriorTerms(m0, kappa, prior.degrees_of_freedom, np.asarray(prior.scale))
    covariances = _COVARIANCES[covariance_type](stats, nk, xbar, terms)
    covariances = _add_to_diagonal(covariances, covariance_type, reg_covar)
    weights = weights / weights.sum()  # exact normalisation against round-off
    return MixtureParams(weights, means + stats.center, covariances, covariance_type)
