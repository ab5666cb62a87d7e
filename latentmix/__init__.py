"""latentmix: Gaussian mixtures by EM (MLE and MAP) next to the full posterior from PyMC."""

from latentmix.bayes.estimator import PyMCGaussianMixture
from latentmix.bayes.relabel import relabel
from latentmix.compare import compare
from latentmix.estimator import EMGaussianMixture
from latentmix.params import MixtureParams
from latentmix.priors import ConjugatePrior

__all__ = [
    "ConjugatePrior",
    "EMGaussianMixture",
    "MixtureParams",
    "PyMCGaussianMixture",
    "compare",
    "relabel",
]
__version__ = "0.1.0"
