"""latentmix: Gaussian mixtures by EM (MLE and MAP) next to the full posterior from PyMC.

The estimators and ``compare`` are imported on first use, so that ``import latentmix.em``
(or the ``latentmix`` command's ``--help``) loads the layers it needs and nothing above them.
"""

from importlib import import_module

from latentmix.params import MixtureParams
from latentmix.priors import ConjugatePrior

__version__ = "0.1.0"

#: Public names imported lazily, with the module that defines each.
_LAZY = {
    "EMGaussianMixture": "latentmix.estimator",
    "PyMCGaussianMixture": "latentmix.bayes.estimator",
    "compare": "latentmix.comparison",
    "relabel": "latentmix.bayes.relabel",
    "VBGaussianMixture": "latentmix.vb",
}

__all__ = ["ConjugatePrior", "MixtureParams", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'latentmix' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
