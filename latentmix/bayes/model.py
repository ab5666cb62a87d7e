r"""The PyMC model of the Gaussian mixture and its conjugate prior.

The model is the one EM fits, term for term (see :mod:`latentmix.priors` for the prior):

.. math::

    \log p(X, \theta) = \sum_i \log \sum_k w_k \mathcal N(x_i \mid \mu_k, \Sigma_k)
        + \log p(\theta),

with the labels :math:`z_i` summed out by a log-sum-exp over components, computed for all
components at once (no Python list of K distributions). Without the Jacobian of the
transforms, its log-density is exactly ``log_likelihood + log_prior`` of
:mod:`latentmix.em.estep` and :mod:`latentmix.priors`, so its mode is the EM MAP estimate.

Real data, as EM takes them: observation weights :math:`c_i` multiply row i's
term (``sample_weight``; the prior is not weighted), and with ``missing="ignore"`` a row
with NaN cells contributes the marginal density of its observed coordinates :math:`o_i`,

.. math::

    \sum_i c_i \log \sum_k w_k \mathcal N(x_{i,o_i} \mid \mu_{k,o_i}, \Sigma_{k,o_io_i}),

the observed-data likelihood of :mod:`latentmix.em.missing`, computed per missingness pattern
(:func:`latentmix.em.missing.missingness_patterns`): one batched factorisation per pattern
and component, gathered to the rows by their pattern index, or a mask for the diagonal
types. The missing cells are summed out, never sampled.

Variables and dims
------------------
=================  ==============================================  =======================
variable           dims                                            distribution
=================  ==============================================  =======================
``weights``        (component,)                                    Dirichlet
``covariances``    full (component, feature, feature_bis);         InverseWishart
                   tied (feature, feature_bis)                     InverseWishart
                   diag (component, feature)                       InverseGamma
                   spherical (component,)                          InverseGamma
                   tied_diag (feature,)                            InverseGamma
                   tied_spherical () (one shared variance)         InverseGamma
``means``          (component, feature)                            (Mv)Normal given
                                                                   covariances
``x``              (observation, feature)                          the mixture, observed
=================  ==============================================  =======================

Coordinates: ``component`` is 0..K-1, ``feature`` and ``feature_bis`` are the feature names
(``x1``, ``x2``, ... unless given), ``observation`` is 0..n-1.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from latentmix.bayes.distributions import InverseWishart, cholesky_and_inverse
from latentmix.bayes.likelihood import diagonal_variances, mixture_loglik
from latentmix.bayes.sample import as_initial_point
from latentmix.bayes.spec import (
    COMPONENT,
    FEATURE,
    FEATURE_BIS,
    OBSERVATION,
    covariance_dims,
    params_from_point,
    resolve_prior,
)
from latentmix.params import (
    MixtureParams,
    check_covariance_type,
    covariances_shape,
)
from latentmix.validation import check_data, check_n_components, check_sample_weight

__all__ = [
    "COMPONENT",
    "DATA_NAMES",
    "FEATURE",
    "FEATURE_BIS",
    "OBSERVATION",
    "ModelStructure",
    "build_model",
    "covariance_dims",
    "model_data",
    "model_structure",
    "params_from_point",
    "params_to_point",
    "resolve_prior",
]

_LOG_2PI = float(np.log(2 * np.pi))


_SIGNATURES = {
    "full": "(k),(k,d),(k,d,d)->(d)",
    "tied": "(k),(k,d),(d,d)->(d)",
    "diag": "(k),(k,d),(k,d)->(d)",
    "spherical": "(k),(k,d),(k)->(d)",
    "tied_diag": "(k),(k,d),(d)->(d)",
    "tied_spherical": "(k),(k,d),()->(d)",
}


# --- missing cells: the marginal density of each row's observed coordinates ------------------


class MissingLayout(NamedTuple):
    """Where the missing cells are, as constants of the graph.

    Attributes
    ----------
    patterns : ndarray of bool, shape (P, d)
        The distinct observed masks (:func:`latentmix.em.missing.missingness_patterns`).
    pattern_index : ndarray of int, shape (n,)
        The pattern of each row.
    """

    patterns: np.ndarray
    pattern_index: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(n, d) float: 1 for an observed cell, 0 for a missing one."""
        return self.patterns[self.pattern_index].astype(float)


def missing_layout(X) -> MissingLayout | None:
    """The :class:`MissingLayout` of data with NaN cells; None for complete data."""
    from latentmix.em.missing import missingness_patterns

    if not np.isnan(X).any():
        return None
    return MissingLayout(*missingness_patterns(X))


def _marginal_logp_matrix(X, means, covariances, covariance_type, layout: MissingLayout):
    r"""Component log-densities of the observed coordinates, full and tied: (n, K).

    Per pattern :math:`o`, :math:`\Sigma^{(o)} = D_o \Sigma D_o + (I - D_o)` with
    :math:`D_o = \operatorname{diag}(o)`: the observed block of :math:`\Sigma`, the identity
    on the missing coordinates and no coupling between the two. Its Cholesky factor keeps
    that form, so with the missing coordinates of :math:`x - \mu` set to zero the
    d-dimensional density is :math:`\mathcal N(x_o \mid \mu_o, \Sigma_{oo})` up to the
    :math:`2\pi` constant of the missing coordinates. One batched factorisation per pattern
    and component (P x K), gathered to the rows by their pattern: no per-row factorisation
    and no Python loop over patterns.
    """
    o = layout.patterns.astype(float)  # (P, d)
    d = o.shape[1]
    keep = pt.as_tensor(o[:, :, None] * o[:, None, :])  # (P, d, d)
    fill = pt.as_tensor((1.0 - o)[:, :, None] * np.eye(d))  # (P, d, d)
    stack = covariances if covariance_type == "full" else covariances[None]  # (K or 1, d, d)
    per_pattern = stack[None] * keep[:, None] + fill[:, None]  # (P, K or 1, d, d)
    P, Kc = o.shape[0], stack.shape[0]
    chol, chol_inv = cholesky_and_inverse(per_pattern.reshape((P * Kc, d, d)))
    chol_inv = chol_inv.reshape((P, Kc, d, d))
    log_det = pt.log(pt.diagonal(chol, axis1=-2, axis2=-1)).sum(-1).reshape((P, Kc))
    index = pt.as_tensor(layout.pattern_index)
    mask = pt.as_tensor(layout.mask)
    diff = (X[:, None, :] - means[None, :, :]) * mask[:, None, :]  # (n, K, d)
    z = (diff[:, :, None, :] * chol_inv[index]).sum(-1)  # (n, K, d)
    n_observed = layout.mask.sum(axis=1)[:, None]
    return -0.5 * (n_observed * _LOG_2PI + (z**2).sum(-1)) - log_det[index]


def _marginal_logp_diagonal(X, means, covariances, covariance_type, layout: MissingLayout):
    """Component log-densities of the observed coordinates, the diagonal types: (n, K).

    The observed coordinates are independent given the component, so the marginal density
    is the complete one with the missing coordinates' terms masked out.
    """
    mask = pt.as_tensor(layout.mask)  # (n, d)
    var = diagonal_variances(covariances, covariance_type)  # broadcastable to (K, d)
    log_var = pt.broadcast_to(pt.log(var), means.shape)  # (K, d)
    diff = X[:, None, :] - means[None, :, :]  # (n, K, d)
    maha = (mask[:, None, :] * diff**2 / var[None]).sum(-1)  # (n, K)
    n_observed = layout.mask.sum(axis=1)[:, None]
    return -0.5 * (n_observed * _LOG_2PI + maha + pt.dot(mask, log_var.T))


def _core_ndim(covariance_type: str) -> int:
    """Dimensions of one parameter set's ``covariances`` (3 for full ... 0 for tied_spherical)."""
    return len(covariances_shape(covariance_type, 1, 1))


def _drop_batch_dims(param, core_ndim):
    extra = param.type.ndim - core_ndim
    if extra == 0:
        return param
    if not all(param.type.broadcastable[:extra]):
        raise NotImplementedError("the mixture density takes one parameter set at a time.")
    return param.squeeze(axis=tuple(range(extra)))


def mixture_logp(
    value,
    weights,
    means,
    covariances,
    *,
    covariance_type: str,
    sample_weight=None,
    layout: MissingLayout | None = None,
):
    r"""Symbolic weighted log-density of each row's observed coordinates under the mixture.

    Row i gives :math:`c_i \log \sum_k w_k \mathcal N(x_{i,o_i} \mid \mu_{k,o_i},
    \Sigma_{k,o_io_i})`, :math:`o_i` its observed coordinates (all of them for complete data).

    Parameters
    ----------
    value : TensorVariable of shape (n, d)
        The data, with missing cells filled by any finite number (they are masked).
    weights : TensorVariable of shape (K,)
    means : TensorVariable of shape (K, d)
    covariances : TensorVariable in the shape of ``covariance_type``
    covariance_type : str
    sample_weight : ndarray or TensorVariable of shape (n,), optional
        The observation weights :math:`c_i` (1 if not given); in :func:`build_model` the
        ``sample_weight`` data container.
    layout : MissingLayout, optional
        Where the missing cells are (:func:`missing_layout`); None for complete data.

    Returns
    -------
    TensorVariable of shape (n,)
    """
    # The random-variable Op prepends length-one batch dims to the parameters; drop them.
    core_ndim = _core_ndim(covariance_type)
    weights, means, covariances = (
        _drop_batch_dims(p, k) for p, k in [(weights, 1), (means, 2), (covariances, core_ndim)]
    )
    if layout is None:
        logp = mixture_loglik(value, weights, means, covariances, covariance_type)
        return logp if sample_weight is None else logp * pt.as_tensor(sample_weight)
    if covariance_type in ("full", "tied"):
        comp = _marginal_logp_matrix(value, means, covariances, covariance_type, layout)
    else:
        comp = _marginal_logp_diagonal(value, means, covariances, covariance_type, layout)
    logp = pm.math.logsumexp(pt.log(weights)[None, :] + comp, axis=-1, keepdims=False)
    if sample_weight is not None:
        logp = logp * pt.as_tensor(sample_weight)
    return logp


def _mixture_random(weights, means, covariances, rng, size, *, covariance_type):
    from latentmix.params import sample_mixture

    core_ndim = _core_ndim(covariance_type)
    arrays = []
    for value, ndim in [(weights, 1), (means, 2), (covariances, core_ndim)]:
        value = np.asarray(value, dtype=float)
        # The Op prepends length-one batch dims (as for the log-density).
        if value.ndim > ndim and all(n == 1 for n in value.shape[: value.ndim - ndim]):
            value = value.reshape(value.shape[value.ndim - ndim :])
        if value.ndim != ndim:
            raise NotImplementedError("draws from the mixture take one parameter set at a time.")
        arrays.append(value)
    weights, means, covariances = arrays
    params = MixtureParams(weights / weights.sum(), means, covariances, covariance_type)
    size = tuple(size) if size is not None else ()
    X, _ = sample_mixture(params, int(np.prod(size)), rng)
    return X.reshape((*size, means.shape[1]))


# --- what varies between data sets of one structure -----------------------------------------

#: The data containers of :func:`build_model`, in order; ``sample_weight`` only when weighted.
DATA_NAMES = (
    "x_data",
    "sample_weight",
    "weight_concentration",
    "prior_mean",
    "mean_precision",
    "degrees_of_freedom",
    "prior_scale",
)


class ModelStructure(NamedTuple):
    """What fixes the graph of :func:`build_model`: one compiled sampler per structure.

    Attributes
    ----------
    n_components, n_features : int
    covariance_type : str
    weighted : bool
        Whether observation weights are given.
    missing_key : str
        ``""`` for complete data; otherwise a digest of the missingness layout (patterns
        and each row's pattern), which is compiled into the graph.
    """

    n_components: int
    n_features: int
    covariance_type: str
    weighted: bool
    missing_key: str


def model_structure(X, n_components: int, covariance_type: str, sample_weight=None):
    """The :class:`ModelStructure` of checked data ``X`` (n, d) (NaN marks a missing cell)."""
    import hashlib

    layout = missing_layout(X)
    key = ""
    if layout is not None:
        digest = hashlib.sha256(np.ascontiguousarray(layout.patterns).tobytes())
        digest.update(np.ascontiguousarray(layout.pattern_index, dtype=np.int64).tobytes())
        key = digest.hexdigest()[:32]
    return ModelStructure(
        int(n_components), int(X.shape[1]), str(covariance_type), sample_weight is not None, key
    )


def model_data(X, n_components: int, covariance_type: str, prior, sample_weight=None) -> dict:
    """The values of the data containers of :func:`build_model` for one data set.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Checked data; NaN cells become 0 (they are masked out of the density).
    n_components : int
    covariance_type : str
    prior : ConjugatePrior
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    dict
        Name (:data:`DATA_NAMES`) -> float ndarray: ``x_data`` (n, d), ``sample_weight`` (n,)
        when weighted, ``weight_concentration`` (K,), ``prior_mean`` (d,),
        ``mean_precision`` (), ``degrees_of_freedom`` (), ``prior_scale`` (the scale's shape).
    """
    values = {"x_data": np.where(np.isnan(X), 0.0, np.asarray(X, dtype=float))}
    if sample_weight is not None:
        values["sample_weight"] = np.asarray(sample_weight, dtype=float)
    values["weight_concentration"] = prior.concentration(n_components)
    values["prior_mean"] = np.asarray(prior.mean, dtype=float)
    values["mean_precision"] = np.asarray(prior.mean_precision, dtype=float)
    values["degrees_of_freedom"] = np.asarray(prior.degrees_of_freedom, dtype=float)
    values["prior_scale"] = np.asarray(prior.scale, dtype=float)
    return values


def _data_shape(name: str, value: np.ndarray) -> tuple:
    """Static shape of a container: every size but the number of rows n is fixed."""
    if name in ("x_data", "sample_weight"):
        return (None, *value.shape[1:])
    return value.shape


# --- the model ------------------------------------------------------------------------------


def build_model(
    X,
    n_components: int,
    covariance_type: str = "full",
    prior="default",
    feature_names=None,
    *,
    sample_weight=None,
    missing: str = "error",
) -> pm.Model:
    """The PyMC model of a K-component Gaussian mixture under the conjugate prior.

    Parameters
    ----------
    X : array-like of shape (n, d) or (n,)
        The data (a 1-D array is one feature).
    n_components : int
        K.
    covariance_type : {"full", "tied", "diag", "spherical", "tied_diag", "tied_spherical"}
    prior : "default" or ConjugatePrior
        ``"default"`` is the prior :class:`~latentmix.EMGaussianMixture` builds from the same
        data and weights (:func:`latentmix.bayes.spec.resolve_prior`). ``None`` is an error:
        the unpenalised likelihood has no proper posterior.
    feature_names : sequence of str, optional
        Coordinates of the ``feature`` dims; ``x1``, ``x2``, ... by default.
    sample_weight : array-like of shape (n,), optional
        Observation weights: row i's log-likelihood term is multiplied by its weight (the
        prior is not), so integer weights are rows repeated. Finite, nonnegative, not all
        zero.
    missing : {"error", "ignore"}
        ``"error"``: a NaN cell is refused. ``"ignore"``: NaN cells are missing at random
        and each row contributes the marginal mixture density of its observed coordinates
        (rows with every cell missing are refused).

    Returns
    -------
    pymc.Model
        Free variables ``weights``, ``means``, ``covariances`` and the observed ``x``, with
        the dims in the module docstring. ``model.compile_logp(jacobian=False)`` is the EM
        objective (observed-data log-likelihood + log-prior, weighted as EM weights it).

    Notes
    -----
    The data, the observation weights and the prior's hyperparameters are data containers
    (``pm.Data``, named in :data:`DATA_NAMES`; values from :func:`model_data`), so a sampler
    compiled for one data set serves every data set of the same :func:`model_structure`
    with the containers' values swapped (nutpie's ``with_data``). The places of the missing
    cells are constants of the graph (part of the structure). The observed ``x`` is the
    ``x_data`` container: the data with missing cells set to 0 (masked out of the density,
    so the value never matters). Its random draws are complete rows.
    """
    n_components = check_n_components(n_components)
    check_covariance_type(covariance_type)
    X = check_data(X, n_components=n_components, missing=missing)
    n, d = X.shape
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, n)
    prior = resolve_prior(X, n_components, covariance_type, prior, sample_weight)
    layout = missing_layout(X)
    if feature_names is None:
        feature_names = [f"x{j + 1}" for j in range(d)]
    feature_names = [str(f) for f in feature_names]
    if len(feature_names) != d:
        raise ValueError(f"feature_names has {len(feature_names)} names but X has {d} columns.")
    coords = {
        COMPONENT: np.arange(n_components),
        FEATURE: feature_names,
        FEATURE_BIS: feature_names,
        OBSERVATION: np.arange(n),
    }
    values = model_data(X, n_components, covariance_type, prior, sample_weight)
    with pm.Model(coords=coords) as model:
        # Everything that varies between data sets of one structure is a data container, so
        # one compiled sampler serves them all (latentmix.bayes.cache).
        data = {
            name: pm.Data(name, value, shape=_data_shape(name, value))
            for name, value in values.items()
        }
        alpha, m0 = data["weight_concentration"], data["prior_mean"]
        kappa, nu = data["mean_precision"], data["degrees_of_freedom"]
        weights = pm.Dirichlet("weights", a=alpha, dims=COMPONENT)
        if covariance_type in ("full", "tied"):
            covariances = InverseWishart(
                "covariances",
                nu=nu,
                # Symmetrised: a new array, since nutpie passes containers read-only and the
                # numba Cholesky writes into its input's copy only for computed arrays.
                scale=0.5 * (data["prior_scale"] + data["prior_scale"].T),
                dims=covariance_dims(covariance_type),
            )
            means = pm.MvNormal("means", mu=m0, cov=covariances / kappa, dims=(COMPONENT, FEATURE))
        else:
            # One inverse-gamma per variance, shared or not (the dims say which).
            covariances = pm.InverseGamma(
                "covariances",
                alpha=0.5 * nu,
                beta=0.5 * data["prior_scale"],
                dims=covariance_dims(covariance_type),
            )
            variances = diagonal_variances(covariances, covariance_type)
            means = pm.Normal(
                "means", mu=m0, sigma=pt.sqrt(variances / kappa), dims=(COMPONENT, FEATURE)
            )
        pm.CustomDist(
            "x",
            weights,
            means,
            covariances,
            logp=partial(
                mixture_logp,
                covariance_type=covariance_type,
                sample_weight=data.get("sample_weight"),
                layout=layout,
            ),
            random=partial(_mixture_random, covariance_type=covariance_type),
            signature=_SIGNATURES[covariance_type],
            # NaN would make PyMC impute the cells as free variables; they are summed out
            # (x_data holds them as 0).
            observed=data["x_data"],
            dims=(OBSERVATION, FEATURE),
        )
    return model


# --- moving between MixtureParams and model points ---------------------------------------


def params_to_point(model: pm.Model, params: MixtureParams) -> dict:
    """The point (transformed value names) of ``model`` at ``params``.

    Parameters
    ----------
    model : pymc.Model
        From :func:`build_model`, with the same K, d and covariance type as ``params``.
    params : MixtureParams

    Returns
    -------
    dict
        Value-variable name -> ndarray, as ``model.compile_logp()`` expects.
    """
    point = {}
    for name, value in as_initial_point(params).items():
        rv = model[name]
        expected = tuple(rv.shape.eval())
        if value.shape != expected:
            raise ValueError(
                f"{name} has shape {value.shape} but the model's {name} has shape {expected}."
            )
        transform = model.rvs_to_transforms[rv]
        value_var = model.rvs_to_values[rv]
        if transform is None:
            point[value_var.name] = value
        else:
            point[value_var.name] = transform.forward(pt.as_tensor(value), *rv.owner.inputs).eval()
    return point
