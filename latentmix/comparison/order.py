"""The order of the components: one rule, applied once, so every table, figure and file agree.

EM numbers its components as its run happened to find them. A reader wants a stated order:

* ``"mean"``: by the first coordinate of the MAP's means, smallest first (the report's
  default: left to right along the first feature);
* ``"weight"``: by the MAP's weights, largest first;
* ``"map"``: as the EM MAP found them.

Ties keep the MAP's order (a stable sort). :func:`component_order` gives the permutation;
the report applies it to the MAP before anything is aligned to the MAP (VB, the sampler's
relabelling, the comparison), and :func:`latentmix.comparison.compare` applies it to the MAP
and to the posterior draws of an ``idata`` when called with ``order=``.
"""

from __future__ import annotations

import numpy as np

from latentmix.params import MixtureParams

#: The component orders, the first the report's default.
ORDERS = ("mean", "weight", "map")

#: What each order means, for pages.
ORDER_TEXT = {
    "mean": "by the first coordinate of the MAP's means, smallest first",
    "weight": "by the MAP's weights, largest first",
    "map": "as the EM MAP found them",
}


def check_order(order: str) -> str:
    """``order`` or a ValueError naming the choices."""
    if order not in ORDERS:
        raise ValueError(
            f"order must be one of {', '.join(ORDERS)} (by the first mean coordinate, by "
            f"weight, or as EM found them); got {order!r}."
        )
    return order


def component_order(params: MixtureParams, order: str) -> np.ndarray:
    """The permutation that puts ``params`` in the stated order.

    Parameters
    ----------
    params : MixtureParams
    order : {"mean", "weight", "map"}

    Returns
    -------
    ndarray of int, shape (K,)
        Component ``k`` of ``params.permute(result)`` is component ``result[k]`` of
        ``params``.
    """
    check_order(order)
    K = params.n_components
    if order == "mean":
        return np.argsort(np.asarray(params.means)[:, 0], kind="stable")
    if order == "weight":
        return np.argsort(-np.asarray(params.weights), kind="stable")
    return np.arange(K)


def in_order(params: MixtureParams, order: str) -> MixtureParams:
    """``params`` with its components in the stated order."""
    return params.permute(component_order(params, order))


def reorder_posterior(idata, permutation) -> None:
    """Permute the ``component`` dimension of every variable of ``idata.posterior``, in place.

    Parameters
    ----------
    idata : arviz.InferenceData
    permutation : ndarray of int, shape (K,)
        As :func:`component_order` gives it.
    """
    permutation = np.asarray(permutation)
    if np.array_equal(permutation, np.arange(permutation.size)):
        return
    post = idata.posterior
    if "component" not in post.dims:
        raise ValueError(
            "the posterior has no 'component' dimension to reorder; give the draws with the "
            "dims of latentmix.bayes.spec (weights: chain, draw, component)."
        )
    for name, da in list(post.data_vars.items()):
        if "component" in da.dims:
            axis = da.dims.index("component")
            post[name] = da.copy(data=np.take(da.values, permutation, axis=axis))
