"""Transition only: the old module path of the uncertainty code, re-exported.

The code lives in :mod:`latentmix.em.parameterisation`, :mod:`latentmix.em.information` and
:mod:`latentmix.em.intervals` (matching in :mod:`latentmix.matching`). This module goes as
soon as the comparison and coverage code import from there.
"""

from latentmix.em.information import observed_information, score_contributions
from latentmix.em.intervals import Intervals, bootstrap, laplace, standard_errors
from latentmix.em.parameterisation import (
    from_unconstrained,
    natural_draws,
    natural_jacobian,
    natural_vector,
    parameter_keys,
    parameter_names,
    to_unconstrained,
)
from latentmix.matching import align as relabel_to
from latentmix.matching import match_components

__all__ = [
    "Intervals",
    "bootstrap",
    "from_unconstrained",
    "laplace",
    "match_components",
    "natural_draws",
    "natural_jacobian",
    "natural_vector",
    "observed_information",
    "parameter_keys",
    "parameter_names",
    "relabel_to",
    "score_contributions",
    "standard_errors",
    "to_unconstrained",
]
