"""latentmix: Gaussian mixtures by EM (MLE and MAP) next to the full posterior from PyMC.

Every public name is imported on first use, so that ``import latentmix`` costs next to
nothing, ``import latentmix.em`` (or the ``latentmix`` command's ``--help``) loads the layers
it needs and nothing above them, and a command that needs no posterior never imports PyMC.
"""

from importlib import import_module

__version__ = "0.1.0"

#: Public names imported lazily, with the module that defines each.
_LAZY = {
    "MixtureParams": "latentmix.params",
    "ConjugatePrior": "latentmix.priors",
    "EMGaussianMixture": "latentmix.estimator",
    "PyMCGaussianMixture": "latentmix.bayes.estimator",
    "compare": "latentmix.comparison",
    "relabel": "latentmix.bayes.relabel",
    "VBGaussianMixture": "latentmix.vb",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'latentmix' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
