"""Coverage study: how often EM and posterior intervals contain the truth.

For every sample size n and replicate i (seeded by
:func:`~latentmix.studies.runner.replicate_rng`):

1. simulate n points from the known mixture (the *truth*, :mod:`.truth`);
2. fit the MLE by EM, then Wald intervals (exact observed information, delta method) and
   nonparametric, parametric and weighted-likelihood bootstrap percentile intervals (those
   asked for);
3. fit the MAP by EM under the prior, then the Laplace interval;
4. fit mean-field variational Bayes under the same prior
   (:class:`latentmix.vb.VBGaussianMixture`), then the equal-tailed intervals of the marginals
   of q (source ``"vb"``; the VB arm, on unless ``vb=False``);
5. sample the posterior of the PyMC model under the same prior with nutpie (optional);
6. put every estimate and draw in the truth's component order (:mod:`latentmix.matching`)
   and record per parameter the estimate, the interval, whether it covers the true value,
   its width and the error (:mod:`.replicate`).

Each interval's ``source`` is one of :data:`SOURCES`. The prior is fixed for the whole study:
mclust's default prior computed from the *population* moments of the truth
(:func:`population_prior`), for the MAP, VB and the posterior alike. :mod:`.summary` reduces
the replicates to coverage, bias, RMSE and width with Monte Carlo errors, and :mod:`.page`
makes the page from that summary.

Failures (a degenerate MLE, a non-positive-definite information matrix, a sampler error) are
recorded per source and per replicate and counted in the summary.
"""

from latentmix.studies.coverage.page import rewrite_pages, write_coverage_page
from latentmix.studies.coverage.replicate import SOURCE_LABELS, SOURCES, coverage_replicate
from latentmix.studies.coverage.study import COMMAND, run_coverage, study_config
from latentmix.studies.coverage.summary import summarise
from latentmix.studies.coverage.truth import (
    load_truth,
    population_prior,
    truth_from_dict,
    truth_names,
    truth_to_dict,
)

__all__ = [
    "COMMAND",
    "SOURCES",
    "SOURCE_LABELS",
    "coverage_replicate",
    "load_truth",
    "population_prior",
    "rewrite_pages",
    "run_coverage",
    "study_config",
    "summarise",
    "truth_from_dict",
    "truth_names",
    "truth_to_dict",
    "write_coverage_page",
]
