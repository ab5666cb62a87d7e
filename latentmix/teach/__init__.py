r"""EM step by step for teaching: the bound, the decomposition, hard assignments, walkthroughs.

The notation follows the usual lecture: weights :math:`\phi`, means :math:`\mu`,
covariances :math:`\Sigma`, responsibilities :math:`w_j^{(i)} = p(z^{(i)} = j \mid x^{(i)})`.

* :mod:`~latentmix.teach.bound`, :mod:`~latentmix.teach.hard`: the maths (pure functions).
* :mod:`~latentmix.teach.examples`: the walkthrough's runs (EM from a poor start, stepped with
  :func:`latentmix.em.fit.em_step`; k-means beside it; the collapse; restarts).
* :mod:`~latentmix.teach.draw` (Axes helpers), :mod:`~latentmix.teach.frames` (frames and the
  GIF), :mod:`~latentmix.teach.figures` (one figure per section): the pictures.
* :mod:`~latentmix.teach.walkthrough`: :func:`build_walkthrough` puts it together as a page
  (``latentmix/pages/templates/walkthrough.html.j2``) written by :mod:`latentmix.output`.
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
