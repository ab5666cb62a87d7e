r"""Label switching: permute each posterior draw's components to match a reference.

The mixture posterior is invariant to relabelling the components, so different chains (and
sometimes one chain) visit the K! copies of each mode in different orders. Averages and
diagnostics per component are meaningless until every draw uses one order.

Two relabellings:

``"assignment"``
    For each draw, the permutation that minimises :math:`\sum_k c(\theta^{(s)}_{\pi(k)},
    \hat\theta_k)`, found exactly by ``scipy.optimize.linear_sum_assignment``. The cost is
    the Kullback-Leibler divergence between Gaussian components,

    .. math::

        c(j, k) = \operatorname{KL}\bigl(\mathcal N(\mu_j, \Sigma_j)\,\Vert\,
            \mathcal N(\hat\mu_k, \hat\Sigma_k)\bigr)
            = \tfrac12\bigl[\operatorname{tr}(\hat\Sigma_k^{-1}\Sigma_j)
            + (\mu_j - \hat\mu_k)^\top\hat\Sigma_k^{-1}(\mu_j - \hat\mu_k) - d
            + \log|\hat\Sigma_k| - \log|\Sigma_j|\bigr],

    which is scale-free: it does not change when the data are shifted, rescaled or rotated.
    This is the package's one rule for matching components (:mod:`latentmix.matching`); the
    MLE, a known truth and bootstrap refits are put in the MAP's order by the same rule.

``"stephens"``
    Stephens (2000, JRSS B 62:795-809), the Kullback-Leibler algorithm: with
    :math:`p^{(s)}_{ik}` the classification probabilities of observation i under draw s,
    alternate between :math:`Q_{ik} = \operatorname{mean}_s p^{(s)}_{i\pi_s(k)}` and, for
    each draw, the permutation minimising :math:`\sum_{i,k} p^{(s)}_{i\pi_s(k)}
    \log(p^{(s)}_{i\pi_s(k)} / Q_{ik})` (again an assignment problem), until no permutation
    changes. It starts from the ``"assignment"`` labelling, so its labels follow the
    reference order. It needs the data (taken from ``idata.observed_data`` by default) and
    holds an (S, n, K) array of probabilities.

Both return a new InferenceData whose draws are permuted, with a record of what was done:
``posterior.attrs["relabelling"]``, ``posterior.attrs["n_relabelled"]`` (draws whose order
changed), ``posterior.attrs["n_switched"]`` (draws whose order is not their chain's usual
one: label switching within a chain, where a chain relabelled as a whole counts for none)
and ``sample_stats["component_order"]`` (chain, draw, component; 0-based): position k of a
relabelled draw holds the sampler's component ``component_order[k]``.
"""

from __future__ import annotations

import numpy as np

from latentmix.bayes.spec import COMPONENT
from latentmix.em.estep import e_step
from latentmix.em.missing import e_step as missing_e_step
from latentmix.matching import match_draws, solve_orders
from latentmix.params import PARAMETER_NAMES, MixtureParams, check_params

__all__ = ["RELABELLINGS", "relabel"]

RELABELLINGS = ("assignment", "stephens")

# Above this many (draw, observation, component) probabilities Stephens' method would hold
# gigabytes; the caller is told to thin or use the assignment relabelling.
_STEPHENS_MAX_CELLS = 50_000_000


def relabel(
    idata,
    reference: MixtureParams,
    relabelling: str = "assignment",
    X=None,
    max_iter: int = 100,
):
    """Permute the components of every posterior draw into the reference order.

    Parameters
    ----------
    idata : arviz.InferenceData
        With ``posterior`` variables ``weights`` (chain, draw, component), ``means``
        (chain, draw, component, feature) and ``covariances`` (the covariance type's dims).
    reference : MixtureParams
        The estimate whose component order the draws take (the EM MAP in
        :class:`~latentmix.PyMCGaussianMixture`). Its ``covariance_type`` is the model's.
    relabelling : {"assignment", "stephens"}
        See the module docstring.
    X : array-like of shape (n, d), optional
        Data for ``"stephens"``; ``idata.observed_data["x"]`` if not given. NaN cells are
        missing: a row's probabilities come from its observed cells.
    max_iter : int
        Most iterations of Stephens' algorithm.

    Returns
    -------
    arviz.InferenceData
        A copy; every posterior variable with a ``component`` dim is permuted, and the record
        described in the module docstring is added.
    """
    if relabelling not in RELABELLINGS:
        raise ValueError(
            f"relabelling must be one of {', '.join(RELABELLINGS)}; got {relabelling!r}."
        )
    reference = check_params(reference, what="reference")
    if not hasattr(idata, "posterior"):
        raise ValueError("idata has no posterior group to relabel.")
    draws = _posterior_params(idata.posterior, reference)
    n_chains, n_draws = idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]
    order = match_draws(draws, reference)
    if relabelling == "stephens":
        if X is None:
            if not hasattr(idata, "observed_data") or "x" not in idata.observed_data:
                raise ValueError(
                    "Stephens' relabelling needs the data: pass X, or an idata with "
                    "observed_data['x']."
                )
            X = idata.observed_data["x"].values
        order = _stephens_orders(np.asarray(X, dtype=float), draws, order, max_iter)
    return _apply_orders(idata, order.reshape(n_chains, n_draws, -1), relabelling)


def _posterior_params(posterior, reference: MixtureParams) -> MixtureParams:
    """The draws as one MixtureParams with a leading (S,) axis on every array."""
    K, d = reference.n_components, reference.n_features
    arrays = []
    for name in PARAMETER_NAMES:
        if name not in posterior:
            raise ValueError(f"the posterior has no variable {name!r}.")
        values = posterior[name].values
        arrays.append(values.reshape(-1, *values.shape[2:]))
    weights, means, covariances = arrays
    if weights.shape[1:] != (K,) or means.shape[1:] != (K, d):
        raise ValueError(
            f"the posterior has {means.shape[1]} components in {means.shape[2]} dimensions "
            f"but the reference has {K} in {d}."
        )
    return MixtureParams(weights, means, covariances, reference.covariance_type)


# --- Stephens (2000) ------------------------------------------------------------------------


def _stephens_orders(X, draws: MixtureParams, order, max_iter: int) -> np.ndarray:
    S, K, d = draws.means.shape
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} features but the draws have {d}.")
    n = X.shape[0]
    if S * n * K > _STEPHENS_MAX_CELLS:
        raise ValueError(
            f"Stephens' relabelling would hold {S} draws x {n} observations x {K} components "
            f"= {S * n * K:.3g} probabilities; thin the draws (idata.sel(draw=slice(None, "
            "None, 10))) or use relabelling='assignment'."
        )
    # Rows with missing cells: classification probabilities from their observed cells.
    classify = missing_e_step if np.isnan(X).any() else e_step
    probs = np.empty((S, n, K))
    for s in range(S):
        params = MixtureParams(
            draws.weights[s], draws.means[s], draws.covariances[s], draws.covariance_type
        )
        probs[s] = np.exp(classify(X, params)[0])
    tiny = np.finfo(float).tiny
    for _ in range(max_iter):
        aligned = np.take_along_axis(probs, order[:, None, :], axis=2)
        log_q = np.log(np.maximum(aligned.mean(axis=0), tiny))  # (n, K)
        # sum_i p_ij log p_ij does not depend on the matching; only -sum_i p_ij log Q_ik does.
        cost = -np.einsum("sij,ik->sjk", probs, log_q)
        new_order = solve_orders(cost)
        if np.array_equal(new_order, order):
            break
        order = new_order
    return order


# --- applying the orders --------------------------------------------------------------------


def n_switched(order: np.ndarray) -> int:
    """Draws whose order differs from the most common order of their chain.

    A chain that sampled a relabelled copy of the mode throughout has every draw relabelled
    and none switched: its labels are a different but fixed naming of the components.

    Parameters
    ----------
    order : ndarray of int, shape (chains, draws, K)
    """
    switched = 0
    for chain in order:
        _, counts = np.unique(chain, axis=0, return_counts=True)
        switched += int(len(chain) - counts.max())
    return switched


def _apply_orders(idata, order: np.ndarray, relabelling: str):
    import xarray as xr

    out = idata.copy()
    posterior = out.posterior
    order_da = xr.DataArray(
        order,
        dims=("chain", "draw", COMPONENT),
        coords={
            "chain": posterior["chain"],
            "draw": posterior["draw"],
            COMPONENT: posterior[COMPONENT],
        },
    )
    new_vars = {}
    for name, da in posterior.data_vars.items():
        if COMPONENT not in da.dims:
            continue
        values = np.moveaxis(da.values, da.dims.index(COMPONENT), 2)
        idx = order.reshape(order.shape + (1,) * (values.ndim - 3))
        permuted = np.take_along_axis(values, idx, axis=2)
        new_vars[name] = da.copy(data=np.moveaxis(permuted, 2, da.dims.index(COMPONENT)))
    posterior = posterior.assign(new_vars)
    identity = np.arange(order.shape[-1])
    posterior.attrs["relabelling"] = relabelling
    posterior.attrs["n_relabelled"] = int((order != identity).any(axis=-1).sum())
    posterior.attrs["n_switched"] = n_switched(order)
    out.posterior = posterior
    if hasattr(out, "sample_stats"):
        out.sample_stats = out.sample_stats.assign(component_order=order_da)
    else:
        out.add_groups({"sample_stats": xr.Dataset({"component_order": order_da})})
    return out
