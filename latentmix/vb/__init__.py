"""Mean-field variational Bayes for the Gaussian mixture, under the MAP's conjugate prior.

``updates`` (q(theta) from statistics, expectations, the ELBO), ``kernels`` (the E-step on
EM's fused blocked kernels), ``fit`` (the loop and the restarts), ``predictive`` (Student-t
predictive, draws from q) and ``estimator`` (:class:`VBGaussianMixture`). See ``docs/vb.md``.
"""

from latentmix.vb.estimator import VBGaussianMixture
from latentmix.vb.updates import VBPosterior

__all__ = ["VBGaussianMixture", "VBPosterior"]
