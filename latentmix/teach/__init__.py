r"""EM step by step for teaching: the bound, the decomposition, hard assignments, walkthroughs.

The notation follows the usual lecture: weights :math:`\phi`, means :math:`\mu`,
covariances :math:`\Sigma`, responsibilities :math:`w_j^{(i)} = p(z^{(i)} = j \mid x^{(i)})`.
The maths lives in :mod:`latentmix.teach.bound` and :mod:`latentmix.teach.hard` (pure
functions); :mod:`latentmix.teach.walkthrough` draws it.
"""

from latentmix.teach.bound import (
    BoundSlice,
    Decomposition,
    bound_maximiser,
    bound_slice,
    cross_entropy,
    decompose,
    decomposition_path,
    entropy,
    q_function,
)
from latentmix.teach.hard import HardEMResult, hard_em

__all__ = [
    "BoundSlice",
    "Decomposition",
    "HardEMResult",
    "bound_maximiser",
    "bound_slice",
    "cross_entropy",
    "decompose",
    "decomposition_path",
    "entropy",
    "hard_em",
    "q_function",
]
