r"""The PyMC model of the Gaussian mixture and its conjugate prior.

The model is the one EM fits, term for term (see :mod:`latentmix.priors` for the prior):

.. math::

    \log p(X, \theta) = \sum_i \log \sum_k w_k \mathcal N(x_i \mid \mu_k, \Sigma_k)
        + \log p(\theta),

with the labels :math:`z_i` summed out by a log-sum-exp over components, computed for all
components at once (no Python list of K distributions). Without the Jacobian of the
transforms, its log-density is exactly ``log_likelihood + log_prior`` of
:mod:`latentmix.em.estep` and :mod:`latentmix.priors`, so its mode is the EM MAP estimate.

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

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from latentmix.bayes.distributions import InverseWishart, cholesky_and_inverse
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
    "FEATURE",
    "FEATURE_BIS",
    "OBSERVATION",
    "build_model",
    "covariance_dims",
    "params_from_point",
    "params_to_point",
    "resolve_prior",
]

_LOG_2PI = float(np.log(2 * np.pi))


# --- the mixture log-likelihood, one function per covariance type -------------------------


def _component_logp_full(X, means, covariances):
    d = X.shape[-1]
    # L and L^{-1} (K, d, d). The n-long products below are broadcast multiply-and-sum
    # rather than batched linear algebra: they fuse into one loop in every backend and never
    # reach a multi-threaded BLAS with tiny matrices.
    chol, chol_inv = cholesky_and_inverse(covariances)
    diff = X[None, :, :] - means[:, None, :]  # (K, n, d)
    z = (diff[:, :, None, :] * chol_inv[:, None, :, :]).sum(-1)  # L^{-1}(x - mu): (K, n, d)
    maha = (z**2).sum(-1)  # (K, n)
    log_det = pt.log(pt.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)  # (K,)
    return (-0.5 * (d * _LOG_2PI + maha) - log_det[:, None]).T


def _component_logp_tied(X, means, covariances):
    d = X.shape[-1]
    chol, chol_inv = cholesky_and_inverse(covariances)  # (d, d)
    diff = X[:, None, :] - means[None, :, :]  # (n, K, d)
    z = (diff[:, :, None, :] * chol_inv[None, None, :, :]).sum(-1)  # (n, K, d)
    maha = (z**2).sum(-1)  # (n, K)
    log_det = pt.log(pt.diagonal(chol)).sum()
    return -0.5 * (d * _LOG_2PI + maha) - log_det


def _component_logp_diag(X, means, covariances):
    d = X.shape[-1]
    diff = X[:, None, :] - means[None, :, :]  # (n, K, d)
    maha = (diff**2 / covariances[None, :, :]).sum(-1)
    log_det = 0.5 * pt.log(covariances).sum(-1)  # (K,)
    return -0.5 * (d * _LOG_2PI + maha) - log_det[None, :]


def _component_logp_spherical(X, means, covariances):
    d = X.shape[-1]
    sq = ((X[:, None, :] - means[None, :, :]) ** 2).sum(-1)  # (n, K)
    return -0.5 * (d * _LOG_2PI + sq / covariances[None, :]) - 0.5 * d * pt.log(covariances)


def _component_logp_tied_diag(X, means, covariances):
    # One (d,) diagonal for all: scale the data once, then squared distances.
    d = X.shape[-1]
    scale = pt.sqrt(covariances)
    diff = (X / scale)[:, None, :] - (means / scale)[None, :, :]  # (n, K, d)
    log_det = 0.5 * pt.log(covariances).sum()
    return -0.5 * (d * _LOG_2PI + (diff**2).sum(-1)) - log_det


def _component_logp_tied_spherical(X, means, covariances):
    d = X.shape[-1]
    sq = ((X[:, None, :] - means[None, :, :]) ** 2).sum(-1)  # (n, K)
    return -0.5 * (d * _LOG_2PI + sq / covariances) - 0.5 * d * pt.log(covariances)


_COMPONENT_LOGP = {
    "full": _component_logp_full,
    "tied": _component_logp_tied,
    "diag": _component_logp_diag,
    "spherical": _component_logp_spherical,
    "tied_diag": _component_logp_tied_diag,
    "tied_spherical": _component_logp_tied_spherical,
}

_SIGNATURES = {
    "full": "(k),(k,d),(k,d,d)->(d)",
    "tied": "(k),(k,d),(d,d)->(d)",
    "diag": "(k),(k,d),(k,d)->(d)",
    "spherical": "(k),(k,d),(k)->(d)",
    "tied_diag": "(k),(k,d),(d)->(d)",
    "tied_spherical": "(k),(k,d),()->(d)",
}


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


def mixture_logp(value, weights, means, covariances, *, covariance_type: str, sample_weight=None):
    r"""Symbolic :math:`c_i \log \sum_k w_k \mathcal N(x_i \mid \mu_k, \Sigma_k)` per row.

    Parameters
    ----------
    value : TensorVariable of shape (n, d)
    weights : TensorVariable of shape (K,)
    means : TensorVariable of shape (K, d)
    covariances : TensorVariable in the shape of ``covariance_type``
    covariance_type : str
    sample_weight : ndarray of shape (n,), optional
        The observation weights :math:`c_i` (1 if not given), a constant of the graph.

    Returns
    -------
    TensorVariable of shape (n,)
    """
    # The random-variable Op prepends length-one batch dims to the parameters; drop them.
    core_ndim = _core_ndim(covariance_type)
    weights, means, covariances = (
        _drop_batch_dims(p, k) for p, k in [(weights, 1), (means, 2), (covariances, core_ndim)]
    )
    comp = _COMPONENT_LOGP[covariance_type](value, means, covariances)
    logp = pm.math.logsumexp(pt.log(weights)[None, :] + comp, axis=-1, keepdims=False)
    if sample_weight is not None:
        logp = logp * pt.as_tensor(np.asarray(sample_weight, dtype=float))
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


# --- the model ------------------------------------------------------------------------------


def _variances(covariances, covariance_type: str):
    """Symbolic variances of a diagonal type, broadcastable against (K, d)."""
    return {
        "diag": lambda c: c,
        "spherical": lambda c: c[:, None],
        "tied_diag": lambda c: c[None, :],
        "tied_spherical": lambda c: c[None, None],
    }[covariance_type](covariances)


def build_model(
    X,
    n_components: int,
    covariance_type: str = "full",
    prior="default",
    feature_names=None,
    *,
    sample_weight=None,
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
        ``"default"`` is ``ConjugatePrior.default(X, K, covariance_type)``. ``None`` is an
        error: the unpenalised likelihood has no proper posterior.
    feature_names : sequence of str, optional
        Coordinates of the ``feature`` dims; ``x1``, ``x2``, ... by default.
    sample_weight : array-like of shape (n,), optional
        Observation weights: row i's log-likelihood term is multiplied by its weight (the
        prior is not), so integer weights are rows repeated. Finite, nonnegative, not all
        zero.

    Returns
    -------
    pymc.Model
        Free variables ``weights``, ``means``, ``covariances`` and the observed ``x``, with
        the dims in the module docstring. ``model.compile_logp(jacobian=False)`` is the EM
        objective (log-likelihood + log-prior, weighted as EM weights it).
    """
    n_components = check_n_components(n_components)
    check_covariance_type(covariance_type)
    X = check_data(X, n_components=n_components)
    prior = resolve_prior(X, n_components, covariance_type, prior)
    n, d = X.shape
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, n)
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
    alpha = prior.concentration(n_components)
    kappa, nu, m0 = prior.mean_precision, prior.degrees_of_freedom, prior.mean
    with pm.Model(coords=coords) as model:
        weights = pm.Dirichlet("weights", a=alpha, dims=COMPONENT)
        if covariance_type in ("full", "tied"):
            covariances = InverseWishart(
                "covariances", nu=nu, scale=prior.scale, dims=covariance_dims(covariance_type)
            )
            means = pm.MvNormal("means", mu=m0, cov=covariances / kappa, dims=(COMPONENT, FEATURE))
        else:
            # One inverse-gamma per variance, shared or not (the dims say which).
            covariances = pm.InverseGamma(
                "covariances",
                alpha=0.5 * nu,
                beta=0.5 * np.asarray(prior.scale),
                dims=covariance_dims(covariance_type),
            )
            variances = _variances(covariances, covariance_type)
            means = pm.Normal(
                "means", mu=m0, sigma=pt.sqrt(variances / kappa), dims=(COMPONENT, FEATURE)
            )
        pm.CustomDist(
            "x",
            weights,
            means,
            covariances,
            logp=partial(
                mixture_logp, covariance_type=covariance_type, sample_weight=sample_weight
            ),
            random=partial(_mixture_random, covariance_type=covariance_type),
            signature=_SIGNATURES[covariance_type],
            observed=X,
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
