r"""Label switching: permute each posterior draw's components to match a reference.

The mixture posterior is invariant to relabelling the components, so different chains (and
sometimes one chain) visit the K! copies of each mode in different orders. Averages and
diagnostics per component are meaningless until every draw uses one order.

Two methods:

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
``posterior.attrs["relabel_method"]``, ``posterior.attrs["relabel_n_permuted"]`` (draws whose
order changed) and ``sample_stats["component_order"]`` (chain, draw, component): position k
of a relabelled draw holds the sampler's component ``component_order[k]``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import linear_sum_assignment

from latentmix.bayes.spec import COMPONENT
from latentmix.em.estep import e_step
from latentmix.params import MixtureParams, check_covariance_type, full_covariances

__all__ = ["RELABEL_METHODS", "relabel"]

RELABEL_METHODS = ("assignment", "stephens")

# Above this many (draw, observation, component) probabilities Stephens' method would hold
# gigabytes; the caller is told to thin or use the assignment method.
_STEPHENS_MAX_CELLS = 50_000_000


def relabel(idata, reference: MixtureParams, method: str = "assignment", X=None, max_iter=100):
    """Permute the components of every posterior draw into the reference order.

    Parameters
    ----------
    idata : arviz.InferenceData
        With ``posterior`` variables ``weights`` (chain, draw, component), ``means``
        (chain, draw, component, feature) and ``covariances`` (the covariance type's dims).
    reference : MixtureParams
        The estimate whose component order the draws take (the EM MAP in
        :class:`~latentmix.PyMCGaussianMixture`). Its ``covariance_type`` is the model's.
    method : {"assignment", "stephens"}
        See the module docstring.
    X : array-like of shape (n, d), optional
        Data for ``"stephens"``; ``idata.observed_data["x"]`` if not given.
    max_iter : int
        Most iterations of Stephens' algorithm.

    Returns
    -------
    arviz.InferenceData
        A copy; every posterior variable with a ``component`` dim is permuted, and the record
        described in the module docstring is added.
    """
    if method not in RELABEL_METHODS:
        raise ValueError(f"method must be one of {', '.join(RELABEL_METHODS)}; got {method!r}.")
    if not isinstance(reference, MixtureParams):
        raise ValueError(
            f"reference must be a MixtureParams (for example EMGaussianMixture(...).params_); "
            f"got {type(reference).__name__}."
        )
    if not hasattr(idata, "posterior"):
        raise ValueError("idata has no posterior group to relabel.")
    draws = _posterior_params(idata.posterior, reference)
    n_chains, n_draws = idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]
    order = _assignment_orders(draws, reference)
    if method == "stephens":
        if X is None:
            if not hasattr(idata, "observed_data") or "x" not in idata.observed_data:
                raise ValueError(
                    "Stephens' relabelling needs the data: pass X, or an idata with "
                    "observed_data['x']."
                )
            X = idata.observed_data["x"].values
        order = _stephens_orders(np.asarray(X, dtype=float), draws, order, max_iter)
    return _apply_orders(idata, order.reshape(n_chains, n_draws, -1), method)


# --- draws as flat arrays -------------------------------------------------------------------


def _posterior_params(posterior, reference: MixtureParams) -> MixtureParams:
    """The draws as one MixtureParams with a leading (S,) axis on every array."""
    kind = check_covariance_type(reference.covariance_type)
    K, d = reference.n_components, reference.n_features
    arrays = []
    for name in ("weights", "means", "covariances"):
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
    return MixtureParams(weights, means, covariances, kind)


def _full_stack(draws: MixtureParams) -> np.ndarray:
    """Covariances of every draw as (S, K, d, d)."""
    S, K, d = draws.means.shape
    kind = draws.covariance_type
    if kind == "tied":
        return np.broadcast_to(draws.covariances[:, None], (S, K, d, d))
    if kind == "full":
        return draws.covariances
    eye = np.eye(d)
    variances = draws.covariances if kind == "diag" else draws.covariances[..., None]
    return np.broadcast_to(variances, (S, K, d))[..., None] * eye


# --- the assignment method ------------------------------------------------------------------


def kl_cost(draws: MixtureParams, reference: MixtureParams) -> np.ndarray:
    """KL divergence from each draw's component j to reference component k.

    Parameters
    ----------
    draws : MixtureParams
        Arrays with a leading draw axis S.
    reference : MixtureParams

    Returns
    -------
    ndarray of shape (S, K, K)
        ``cost[s, j, k]`` = KL(N(mu_j^(s), Sigma_j^(s)) || N(mu_ref_k, Sigma_ref_k)).
    """
    K, d = reference.n_components, reference.n_features
    ref_cov = full_covariances(reference.covariances, reference.covariance_type, K, d)
    ref_chol = np.linalg.cholesky(ref_cov)  # (K, d, d)
    # Inverse Cholesky factors of the K reference covariances (small triangular solves).
    ref_chol_inv = np.stack([solve_triangular(c, np.eye(d), lower=True) for c in ref_chol])
    ref_log_det = 2 * np.log(np.diagonal(ref_chol, axis1=-2, axis2=-1)).sum(-1)  # (K,)

    cov = _full_stack(draws)  # (S, K, d, d)
    chol = np.linalg.cholesky(cov)
    log_det = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)  # (S, K)
    # tr(Sigma_ref_k^{-1} Sigma_j) = || L_ref_k^{-1} L_j ||_F^2
    a = np.einsum("kab,sjbc->sjkac", ref_chol_inv, chol)
    trace = (a**2).sum(axis=(-2, -1))  # (S, K_j, K_k)
    diff = draws.means[:, :, None, :] - reference.means[None, None, :, :]  # (S, j, k, d)
    z = np.einsum("kab,sjkb->sjka", ref_chol_inv, diff)
    maha = (z**2).sum(-1)
    return 0.5 * (trace + maha - d + ref_log_det[None, None, :] - log_det[:, :, None])


def _solve_orders(cost: np.ndarray) -> np.ndarray:
    """For each (K, K) cost[s][j, k], the order with order[k] = j of the optimal matching."""
    S, K, _ = cost.shape
    order = np.empty((S, K), dtype=int)
    for s in range(S):
        rows, cols = linear_sum_assignment(cost[s])
        order[s, cols] = rows
    return order


def _assignment_orders(draws: MixtureParams, reference: MixtureParams) -> np.ndarray:
    return _solve_orders(kl_cost(draws, reference))


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
            "None, 10))) or use method='assignment'."
        )
    probs = np.empty((S, n, K))
    for s in range(S):
        params = MixtureParams(
            draws.weights[s], draws.means[s], draws.covariances[s], draws.covariance_type
        )
        probs[s] = np.exp(e_step(X, params)[0])
    tiny = np.finfo(float).tiny
    for _ in range(max_iter):
        aligned = np.take_along_axis(probs, order[:, None, :], axis=2)
        log_q = np.log(np.maximum(aligned.mean(axis=0), tiny))  # (n, K)
        # sum_i p_ij log p_ij does not depend on the matching; only -sum_i p_ij log Q_ik does.
        cost = -np.einsum("sij,ik->sjk", probs, log_q)
        new_order = _solve_orders(cost)
        if np.array_equal(new_order, order):
            break
        order = new_order
    return order


# --- applying the orders --------------------------------------------------------------------


def _apply_orders(idata, order: np.ndarray, method: str):
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
    posterior.attrs["relabel_method"] = method
    posterior.attrs["relabel_n_permuted"] = int((order != identity).any(axis=-1).sum())
    out.posterior = posterior
    if hasattr(out, "sample_stats"):
        out.sample_stats = out.sample_stats.assign(component_order=order_da)
    else:
        out.add_groups({"sample_stats": xr.Dataset({"component_order": order_da})})
    return out
