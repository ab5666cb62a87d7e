r"""EM point estimates (MLE, MAP) against the posterior, entry by entry and as predictions.

:func:`compare` is the package's main computation after the fits: it returns a
:class:`Comparison` holding

* one :class:`ParameterTable` per parameter group (``weights``, ``means``, ``covariances``),
  with, for every entry, the MLE, the MAP, the posterior mean, median and sd, an
  **equal-tailed** interval at ``level`` (0.95 by default), the posterior quantile of the MLE
  and of the MAP, and whether each point estimate lies outside the interval, and beside the
  posterior interval two intervals from the curvature of the EM objective at the same level:
  the Wald interval of the MLE and the Laplace-approximation interval of the MAP
  (:mod:`latentmix.em.intervals`);
* :class:`IntervalAgreement` rows: how wide those intervals are against the posterior
  interval, and whether the posterior interval contains them;
* a :class:`PredictiveComparison`: the log predictive density of the plug-in MLE, the plug-in
  MAP and the posterior predictive, in sample, estimated out of sample (PSIS-LOO for the
  posterior, with :data:`PARETO_K_MAX` the threshold of a reliable point), and on held-out
  data when given;
* a :class:`MembershipComparison`: EM responsibilities against posterior membership
  probabilities with their spread over draws, and the points where they disagree most.

Why an equal-tailed interval and not an HDI: the interval and the quantile then say the same
thing (a point estimate is outside the 95% interval exactly when its posterior quantile is
below 0.025 or above 0.975), and the interval does not move when a parameter is transformed
(a variance and its standard deviation get the same interval).

Components of the posterior are expected in the order of the EM MAP (the sampler relabels
its draws to that reference); the MLE and a known truth are matched to the MAP order here.

Modules: ``results`` (the dataclasses), ``draws`` (posterior draws and their batched
densities), ``tables`` (entries and parameter tables), ``intervals`` (Wald and Laplace
beside the posterior), ``predictive`` (lppd, PSIS-LOO, held-out), ``membership``, ``core``
(:func:`compare`).
"""

from latentmix.comparison.core import compare
from latentmix.comparison.draws import draw_log_likelihood, draw_weighted_log_prob, posterior_draws
from latentmix.comparison.predictive import PARETO_K_MAX
from latentmix.comparison.results import (
    Comparison,
    Entry,
    IntervalAgreement,
    MembershipComparison,
    ParameterTable,
    PredictiveComparison,
    PredictiveRow,
)

__all__ = [
    "PARETO_K_MAX",
    "Comparison",
    "Entry",
    "IntervalAgreement",
    "MembershipComparison",
    "ParameterTable",
    "PredictiveComparison",
    "PredictiveRow",
    "compare",
    "draw_log_likelihood",
    "draw_weighted_log_prob",
    "posterior_draws",
]
