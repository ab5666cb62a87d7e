r"""The mixture log-likelihood as a PyTensor Op; its gradient from the E-step (Fisher).

PyTensor's own gradient of the log-sum-exp over components walks the graph backwards through
``(K, n, d)`` temporaries: at n = 1e5, d = K = 3 it cost 54 ms per evaluation against 3 ms
for an EM iteration (``benchmarks/bench_gradient.py``). The score of a mixture needs no such
walk. By Fisher's identity it is the expected complete-data score under the responsibilities
:math:`r_{ik}`, so one pass over the rows that computes the E-step and the weighted sums EM
computes gives it. With the whitened residuals :math:`z_{ik} = L_k^{-1}(x_i - \mu_k)`
(:math:`\Sigma_k = L_k L_k^\top`) and upstream row weights :math:`g_i`:

.. math::

    N_k = \sum_i g_i r_{ik}, \qquad
    \bar z_k = \sum_i g_i r_{ik} z_{ik}, \qquad
    S_k = \sum_i g_i r_{ik} z_{ik} z_{ik}^\top,

    \frac{\partial \ell}{\partial w_k} = \frac{N_k}{w_k}, \qquad
    \frac{\partial \ell}{\partial \mu_k} = L_k^{-\top} \bar z_k, \qquad
    \frac{\partial \ell}{\partial \Sigma_k} = \tfrac12 L_k^{-\top} (S_k - N_k I) L_k^{-1}.

The covariance gradient is the symmetric one, which is what every symmetric perturbation of
:math:`\Sigma_k` sees (the transforms PyMC puts in front always produce symmetric matrices).
The other covariance types enter as the full ``(K, d, d)`` stack they stand for
(:func:`full_covariances`); PyTensor maps the gradient back to their parameters.

:class:`MixtureLogLik` gives the rows' log-densities; its gradient is :class:`MixtureScore`.
Both run one numba pass over the rows in blocks (:mod:`latentmix.bayes.kernels`; no
temporaries beyond one block's ``(K, d, 512)`` residuals), called from nutpie's numba code and
from Python (``perform``, for PyTensor's other backends) alike. A covariance that is not positive
definite gives :math:`-\infty` rows and NaN gradients, which the samplers treat as a
rejected point.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.graph.traversal import ancestors
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key
from pytensor.tensor.rewriting.basic import register_specialize

from latentmix.bayes import kernels
from latentmix.bayes.distributions import cholesky_and_inverse
from latentmix.bayes.kernels import mixture_rows, mixture_score

_LOG_2PI = float(np.log(2 * np.pi))

__all__ = [
    "MixtureLogLik",
    "MixtureScore",
    "diagonal_variances",
    "full_covariances",
    "mixture_loglik",
    "reference_rows",
]

#: PyTensor's numba cache keys the kernels by their source and this module's, so an edited
#: kernel is never served from an older build.
_CACHE_KEY = (
    "latentmix-mixture-"
    + hashlib.sha256(
        Path(__file__).read_bytes() + Path(kernels.__file__).read_bytes()
    ).hexdigest()[:16]
)


class MixtureScore(Op):
    """The score of ``sum_i g_i log p(x_i)`` and the rows ``log p(x_i)``, in one pass.

    Inputs X (n, d), weights (K,), means (K, d), covariances (K, d, d), g (n,); outputs the
    gradients by weights, means and covariances, and the rows (n,).
    """

    __props__ = ()

    def make_node(self, X, weights, means, covariances, row_grad):
        """The node: float64 inputs, outputs typed like weights, means, covariances, rows."""
        inputs = [pt.as_tensor(v, dtype="float64") for v in (X, weights, means, covariances)]
        inputs.append(pt.as_tensor(row_grad, dtype="float64"))
        rows = pt.vector(dtype="float64", shape=(inputs[0].type.shape[0],))
        return Apply(self, inputs, [inputs[1].type(), inputs[2].type(), inputs[3].type(), rows])

    def perform(self, node, inputs, output_storage):
        """The numba kernel called from Python (PyTensor's C and Python backends)."""
        X, w, mu, cov, g = (np.ascontiguousarray(v) for v in inputs)
        for storage, value in zip(output_storage, mixture_score(X, w, mu, cov, g), strict=True):
            storage[0] = value

    def infer_shape(self, fgraph, node, shapes):
        """Gradients shaped like their parameters; n rows."""
        return [shapes[1], shapes[2], shapes[3], (shapes[0][0],)]


class MixtureLogLik(Op):
    """Row log-densities of the mixture: inputs X (n, d), weights, means, (K, d, d) covariances.

    Its gradient is :class:`MixtureScore` (Fisher's identity); the data input gets none (it
    is observed). Where a graph holds both, :func:`_share_rows` takes the rows from the
    score's pass, so value and gradient cost one pass over the data.
    """

    __props__ = ()

    def make_node(self, X, weights, means, covariances):
        """The node: float64 inputs of ranks 2, 1, 2, 3; one output of n rows."""
        inputs = [pt.as_tensor(v, dtype="float64") for v in (X, weights, means, covariances)]
        if [v.type.ndim for v in inputs] != [2, 1, 2, 3]:
            raise ValueError(
                "MixtureLogLik takes X (n, d), weights (K,), means (K, d) and a (K, d, d) stack."
            )
        rows = pt.vector(dtype="float64", shape=(inputs[0].type.shape[0],))
        return Apply(self, inputs, [rows])

    def perform(self, node, inputs, output_storage):
        """The numba kernel called from Python (PyTensor's C and Python backends)."""
        X, w, mu, cov = (np.ascontiguousarray(v) for v in inputs)
        output_storage[0][0] = mixture_rows(X, w, mu, cov)

    def infer_shape(self, fgraph, node, shapes):
        """N rows."""
        return [(shapes[0][0],)]

    def L_op(self, inputs, outputs, output_grads):
        """Fisher's identity: :class:`MixtureScore` weighted by the rows' upstream gradients."""
        g_w, g_means, g_cov, _ = MixtureScore()(*inputs, output_grads[0])
        return [grad_not_implemented(self, 0, inputs[0]), g_w, g_means, g_cov]


@node_rewriter([MixtureLogLik])
def _share_rows(fgraph, node):
    """The rows of a :class:`MixtureLogLik` from a :class:`MixtureScore` of the same inputs."""
    rows = node.outputs[0]
    for client, _ in fgraph.clients[node.inputs[0]]:
        if not isinstance(getattr(client, "op", None), MixtureScore):
            continue
        if client.inputs[:4] != node.inputs:
            continue
        if rows in ancestors([client.inputs[4]]):  # the score's weights depend on the rows
            continue
        return [client.outputs[3]]
    return None


# After the gradient exists and common subexpressions are merged (specialize runs after
# canonicalize and stabilize in every compiling mode).
register_specialize(_share_rows)


@register_funcify_and_cache_key(MixtureLogLik)
def _numba_loglik(op, node, **kwargs):
    @numba.njit
    def loglik(X, weights, means, covariances):
        return mixture_rows(
            np.ascontiguousarray(X), weights, np.ascontiguousarray(means), covariances
        )

    return loglik, f"{_CACHE_KEY}-loglik"


@register_funcify_and_cache_key(MixtureScore)
def _numba_score(op, node, **kwargs):
    @numba.njit
    def score(X, weights, means, covariances, row_grad):
        return mixture_score(
            np.ascontiguousarray(X),
            weights,
            np.ascontiguousarray(means),
            covariances,
            np.ascontiguousarray(row_grad),
        )

    return score, f"{_CACHE_KEY}-score"


def full_covariances(covariances, covariance_type: str, means):
    """The ``(K, d, d)`` stack a covariance parameter of any type stands for (symbolic).

    ``means`` (K, d) gives the shape.
    """
    if covariance_type == "full":
        return covariances
    n_components, n_features = means.shape[0], means.shape[1]
    if covariance_type == "tied":
        return pt.broadcast_to(covariances, (n_components, n_features, n_features))
    variances = pt.broadcast_to(
        diagonal_variances(covariances, covariance_type), (n_components, n_features)
    )
    return variances[:, None, :] * pt.eye(n_features)[None]


def diagonal_variances(covariances, covariance_type: str):
    """Symbolic variances of a diagonal type, broadcastable against (K, d)."""
    return {
        "diag": lambda c: c,
        "spherical": lambda c: c[:, None],
        "tied_diag": lambda c: c[None, :],
        "tied_spherical": lambda c: c[None, None],
    }[covariance_type](covariances)


def mixture_loglik(X, weights, means, covariances, covariance_type: str):
    """Symbolic row log-densities (n,) of the mixture, by :class:`MixtureLogLik`.

    Parameters
    ----------
    X : TensorVariable of shape (n, d)
    weights : TensorVariable of shape (K,)
    means : TensorVariable of shape (K, d)
    covariances : TensorVariable in the shape of ``covariance_type``
    covariance_type : str

    Returns
    -------
    TensorVariable of shape (n,)
    """
    stack = full_covariances(covariances, covariance_type, means)
    return MixtureLogLik()(X, weights, means, stack)


# --- the reference: the same rows as PyTensor's own graph -----------------------------------
# PyTensor derives this one's gradient by walking the graph backwards; the tests hold the Op
# to it and benchmarks/bench_gradient.py times the two against each other.


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


_REFERENCE_COMPONENT_LOGP = {
    "full": _component_logp_full,
    "tied": _component_logp_tied,
    "diag": _component_logp_diag,
    "spherical": _component_logp_spherical,
    "tied_diag": _component_logp_tied_diag,
    "tied_spherical": _component_logp_tied_spherical,
}


def reference_rows(X, weights, means, covariances, covariance_type: str):
    """The row log-densities of :func:`mixture_loglik` as a plain PyTensor graph: (n,)."""
    comp = _REFERENCE_COMPONENT_LOGP[covariance_type](X, means, covariances)
    return pt.logsumexp(pt.log(weights)[None, :] + comp, axis=-1)
