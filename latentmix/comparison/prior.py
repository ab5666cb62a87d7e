r"""The prior's standard deviation of every table entry, for the contraction (posterior sd / it).

Closed forms where they exist (the same prior as :func:`latentmix.priors.sample_prior` draws
from):

* a weight under Dirichlet(:math:`\alpha`): :math:`\alpha_k(\alpha_0-\alpha_k) /
  (\alpha_0^2(\alpha_0+1))` is its variance;
* a variance :math:`\Sigma_{jj}`: inverse-gamma :math:`(a, b)` with :math:`a = (\nu-d+1)/2`,
  :math:`b = \Psi_{jj}/2` (a diagonal entry of an inverse-Wishart) or :math:`a = \nu/2`,
  :math:`b = \Psi_j/2` (the diagonal and spherical types); its variance
  :math:`b^2/((a-1)^2(a-2))` is finite only for :math:`a > 2`;
* an off-diagonal covariance of an inverse-Wishart: :math:`((\nu-d+1)\Psi_{ij}^2 +
  (\nu-d-1)\Psi_{ii}\Psi_{jj}) / ((\nu-d)(\nu-d-1)^2(\nu-d-3))`, finite for :math:`\nu > d+3`;
* a mean: :math:`\operatorname{Var}(\mu_{kj}) = E[\Sigma_{jj}]/\kappa` (the mean given the
  covariance is normal around :math:`m_0`), finite for :math:`a > 1`;
* a standard deviation :math:`\sigma = \sqrt{\Sigma_{jj}}`: :math:`E\sigma^2 - (E\sigma)^2`
  with :math:`E\sigma = \sqrt b\,\Gamma(a-\tfrac12)/\Gamma(a)`.

A correlation has no simple closed form under an inverse-Wishart with a general scale: its
prior sd is the sd of :data:`N_PRIOR_DRAWS` inverse-Wishart draws with a fixed seed
(:data:`PRIOR_SEED`), so that a report is reproducible; a correlation is bounded, so this
Monte Carlo error is small (about 1% of the sd).

The default prior (:math:`\nu = d + 2`) is heavy-tailed: its covariance entries have no
finite variance, so their contraction is not defined (the standard deviations and
correlations beside them have one).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

#: Inverse-Wishart draws for the prior sd of a correlation, and their seed.
N_PRIOR_DRAWS = 4000
PRIOR_SEED = 20261202


def _invgamma_params(prior, covariance_type: str, j: int) -> tuple[float, float]:
    """(a, b) of the inverse-gamma marginal of the variance of feature j."""
    nu, d = float(prior.degrees_of_freedom), prior.mean.size
    scale = np.asarray(prior.scale, float)
    if covariance_type in ("full", "tied"):
        return (nu - d + 1) / 2, scale[j, j] / 2
    psi = scale[j] if scale.ndim == 1 else float(scale)
    return nu / 2, float(psi) / 2


def _invgamma_variance(a: float, b: float) -> float:
    return b * b / ((a - 1) ** 2 * (a - 2)) if a > 2 else float("inf")


def _invgamma_mean(a: float, b: float) -> float:
    return b / (a - 1) if a > 1 else float("inf")


def _sd_of_root(a: float, b: float) -> float:
    """Standard deviation of sqrt(V) for V ~ InvGamma(a, b)."""
    if a <= 1:
        return float("inf")
    mean = np.sqrt(b) * np.exp(gammaln(a - 0.5) - gammaln(a))
    return float(np.sqrt(max(b / (a - 1) - mean**2, 0.0)))


def _feature(covariance_type: str, group: str, index: tuple) -> tuple:
    """The features (i, j) a covariance-like entry is about (i == j for a variance)."""
    if covariance_type in ("spherical", "tied_spherical"):
        return 0, 0
    if group == "standard_deviations":
        return index[-1], index[-1]
    if group == "correlations" or covariance_type in ("full", "tied"):
        return index[-2], index[-1]
    return index[-1], index[-1]


def _correlation_sds(prior, n_draws: int = N_PRIOR_DRAWS, seed: int = PRIOR_SEED):
    """(d, d) prior sds of the correlations of one inverse-Wishart matrix, by Monte Carlo."""
    from scipy.stats import invwishart

    d = prior.mean.size
    draws = invwishart(df=float(prior.degrees_of_freedom), scale=prior.scale).rvs(
        size=n_draws, random_state=np.random.default_rng(seed)
    )
    draws = np.reshape(draws, (n_draws, d, d))
    sd = np.sqrt(np.diagonal(draws, axis1=1, axis2=2))
    corr = draws / (sd[:, :, None] * sd[:, None, :])
    return corr.std(axis=0, ddof=1)


def prior_sds(prior, n_components: int, covariance_type: str, keys) -> np.ndarray:
    """The prior standard deviation of each entry.

    Parameters
    ----------
    prior : ConjugatePrior or None
    n_components : int
    covariance_type : str
    keys : sequence of (str, tuple of int)
        Entries as ``(group, index)``: the natural-scale groups
        (:data:`latentmix.params.PARAMETER_NAMES`) and the derived ones
        (:data:`latentmix.em.derived.DERIVED_NAMES`).

    Returns
    -------
    ndarray of shape (len(keys),)
        ``inf`` where the prior has no finite variance, NaN for every entry without a prior.
    """
    out = np.full(len(keys), np.nan)
    if prior is None:
        return out
    alpha = np.asarray(prior.concentration(n_components), float)
    a0 = alpha.sum()
    kappa = float(prior.mean_precision)
    scale = np.asarray(prior.scale, float)
    nu, d = float(prior.degrees_of_freedom), prior.mean.size
    corr_sd = None
    for m, (group, index) in enumerate(keys):
        if group == "weights":
            k = index[0]
            out[m] = np.sqrt(alpha[k] * (a0 - alpha[k]) / (a0 * a0 * (a0 + 1)))
            continue
        if group == "means":
            a, b = _invgamma_params(prior, covariance_type, index[1])
            out[m] = np.sqrt(_invgamma_mean(a, b) / kappa)
            continue
        i, j = _feature(covariance_type, group, index)
        if group == "standard_deviations":
            out[m] = _sd_of_root(*_invgamma_params(prior, covariance_type, j))
        elif group == "correlations":
            if corr_sd is None:
                corr_sd = _correlation_sds(prior)
            out[m] = corr_sd[i, j]
        elif i == j:
            out[m] = np.sqrt(_invgamma_variance(*_invgamma_params(prior, covariance_type, j)))
        else:
            p = nu - d
            var = (
                ((p + 1) * scale[i, j] ** 2 + (p - 1) * scale[i, i] * scale[j, j])
                / (p * (p - 1) ** 2 * (p - 3))
                if p > 3
                else float("inf")
            )
            out[m] = np.sqrt(var)
    return out
