r"""VB intervals for the natural-scale parameters, in the shape of the other sources'.

:func:`vb_intervals` gives an :class:`~latentmix.em.intervals.Intervals` with ``source``
``"vb"``, entry for entry as the Wald, Laplace, bootstrap and posterior ones
(:func:`latentmix.em.parameterisation.parameter_keys`), so the report's tables, the coverage
study and the width ratios take it as they take the others. :func:`align_posterior` puts
q's components in the order of a reference mixture (the MAP, a truth) by the package's one
matching rule first.

The intervals are equal-tailed quantiles of the marginals of q, exact where the marginal is
a named distribution:

* a weight: :math:`\pi_k \sim \operatorname{Beta}(\alpha'_k, \sum_j \alpha'_j - \alpha'_k)`;
* a variance, i.e. a diagonal covariance entry: under :math:`\operatorname{IW}(\nu', \Psi')`,
  :math:`\Sigma_{jj} \sim \operatorname{IG}((\nu' - d + 1)/2, \Psi'_{jj}/2)`; under an
  inverse gamma, that inverse gamma;
* a mean coordinate: :math:`\mu_{kj} \mid \Sigma \sim \mathcal N(m_{kj}, \Sigma_{jj}/\kappa_k)`
  with that inverse-gamma :math:`\Sigma_{jj}`, so a Student t with :math:`\eta` degrees of
  freedom (the inverse gamma's shape times 2) and scale :math:`\sqrt{\Psi'_{jj}/(\kappa_k
  \eta)}`;
* an off-diagonal covariance entry (``full``, ``tied``): no closed form; quantiles of the
  draws.

``estimate`` is the mean of q (:func:`latentmix.vb.updates.posterior_mean`),
``standard_error`` the standard deviation of the draws, and ``draws`` the draws of q as
natural-scale vectors (for figures and for anything that needs the joint).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from latentmix.em.intervals import Intervals
from latentmix.em.parameterisation import natural_vector, parameter_keys, parameter_names
from latentmix.matching import match_components
from latentmix.params import MixtureParams, variances
from latentmix.vb.predictive import sample_posterior_arrays
from latentmix.vb.updates import SHARED, WISHART_TYPES, VBPosterior, posterior_mean

#: The interval source of VB (the glossary's ``source``).
SOURCE = "vb"


def permute_posterior(post: VBPosterior, order) -> VBPosterior:
    """The posterior q with its components reordered: component ``k`` is ``order[k]``."""
    order = np.asarray(order)
    out = post._replace(
        weight_concentration=post.weight_concentration[order],
        mean=post.mean[order],
        mean_precision=post.mean_precision[order],
    )
    if post.covariance_type in SHARED:  # one covariance factor for all: nothing to move
        return out
    return out._replace(degrees_of_freedom=post.degrees_of_freedom[order], scale=post.scale[order])


def align_posterior(post: VBPosterior, reference: MixtureParams) -> VBPosterior:
    """The posterior q with its components in ``reference``'s order.

    The order is :func:`latentmix.matching.match_components` of the mean of q.
    """
    return permute_posterior(post, match_components(posterior_mean(post), reference))


def _variance_marginals(post: VBPosterior):
    """Shape a and scale b of the inverse-gamma marginal of every variance, (K, d) each."""
    K, d = post.n_components, post.n_features
    covariance_type = post.covariance_type
    nu = np.broadcast_to(post.degrees_of_freedom, (K,))
    if covariance_type in WISHART_TYPES:
        scale = np.broadcast_to(post.scale, (K, d, d))
        diag = np.diagonal(scale, axis1=1, axis2=2)
        return np.broadcast_to(((nu - d + 1) / 2)[:, None], (K, d)), diag / 2
    return (
        np.broadcast_to((nu / 2)[:, None], (K, d)),
        variances(post.scale, covariance_type, K, d) / 2,
    )


def _exact_quantiles(post: VBPosterior, keys, tails):
    """Quantiles at ``tails`` of every entry with a closed-form marginal, NaN elsewhere."""
    a, b = _variance_marginals(post)
    alpha = post.weight_concentration
    out = np.full((len(tails), len(keys)), np.nan)
    for p, (group, index) in enumerate(keys):
        if group == "weights":
            (k,) = index
            out[:, p] = stats.beta.ppf(tails, alpha[k], alpha.sum() - alpha[k])
        elif group == "means":
            k, j = index
            eta = 2 * a[k, j]
            scale = np.sqrt(2 * b[k, j] / (post.mean_precision[k] * eta))
            out[:, p] = stats.t.ppf(tails, eta, loc=post.mean[k, j], scale=scale)
        else:
            k, i, j = _covariance_position(post.covariance_type, index)
            if i == j:
                out[:, p] = stats.invgamma.ppf(tails, a[k, j], scale=b[k, j])
    return out


def _covariance_position(covariance_type, index):
    """(component, row, column) of a covariance key; 0 for a shared covariance's component."""
    return {
        "full": lambda: index,
        "tied": lambda: (0, *index),
        "diag": lambda: (index[0], index[1], index[1]),
        "spherical": lambda: (index[0], 0, 0),
        "tied_diag": lambda: (0, index[0], index[0]),
        "tied_spherical": lambda: (0, 0, 0),
    }[covariance_type]()


def natural_draws_of(weights, means, covariances, covariance_type: str) -> np.ndarray:
    """:func:`~latentmix.em.parameterisation.natural_vector` of each draw, shape (S, P).

    Parameters
    ----------
    weights : ndarray of shape (S, K)
    means : ndarray of shape (S, K, d)
    covariances : ndarray of shape (S, *covariances shape)
    covariance_type : str
    """
    groups = {"weights": weights, "means": means, "covariances": covariances}
    K, d = np.shape(means)[1:]
    return np.column_stack(
        [
            np.asarray(groups[group])[(slice(None), *index)]
            for group, index in parameter_keys(K, d, covariance_type)
        ]
    )


def vb_intervals(
    post: VBPosterior, *, level: float = 0.95, n_draws: int = 4000, random_state=None
) -> Intervals:
    """Equal-tailed intervals of the marginals of q for every natural-scale parameter.

    Parameters
    ----------
    post : VBPosterior
        Put it in a reference's component order first if the entries are to be compared
        with another source's (:func:`align_posterior`).
    level : float
        Interval probability, default 0.95.
    n_draws : int
        Draws of q (the off-diagonal covariance entries' intervals, the standard errors and
        ``draws``).
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState

    Returns
    -------
    Intervals
        ``source`` ``"vb"``; see the module docstring for each entry.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95); got {level!r}.")
    if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 2:
        raise ValueError(f"n_draws must be a whole number >= 2; got {n_draws!r}.")
    K, d, covariance_type = post.n_components, post.n_features, post.covariance_type
    keys = tuple(parameter_keys(K, d, covariance_type))
    names = parameter_names(K, d, covariance_type)
    draws = natural_draws_of(
        *sample_posterior_arrays(post, int(n_draws), random_state), covariance_type
    )
    tail = (1 - level) / 2
    tails = np.array([tail, 1 - tail])
    bounds = _exact_quantiles(post, keys, tails)
    from_draws = np.quantile(draws, tails, axis=0)
    bounds = np.where(np.isnan(bounds), from_draws, bounds)
    estimate = natural_vector(posterior_mean(post))
    sd = draws.std(axis=0, ddof=1)
    return Intervals(
        names, estimate, sd, bounds[0], bounds[1], level, SOURCE, draws, 0, None, keys
    )
