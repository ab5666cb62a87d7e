r"""An inverse-Wishart distribution for PyMC, and the transform that lets NUTS sample it.

PyMC ships no inverse-Wishart. :class:`InverseWishart` supplies the three things a PyMC
distribution needs:

* the log-density over the covariance matrix itself, with every normalising constant,

  .. math::

      \log p(\Sigma \mid \nu, \Psi) = \tfrac\nu2 \log|\Psi| - \tfrac{\nu d}{2}\log 2
          - \log\Gamma_d(\tfrac\nu2) - \tfrac{\nu + d + 1}{2}\log|\Sigma|
          - \tfrac12 \operatorname{tr}(\Psi \Sigma^{-1}),

  computed from Cholesky factors: with :math:`\Sigma = L L^\top` and
  :math:`\Psi = L_\Psi L_\Psi^\top`, :math:`\operatorname{tr}(\Psi\Sigma^{-1}) =
  \lVert L^{-1} L_\Psi \rVert_F^2` (a triangular solve, no inverse);
* random draws by the Bartlett decomposition;
* a default transform, :class:`CholeskyCovariance`, from the :math:`d(d+1)/2` unconstrained
  reals onto positive-definite matrices, with its log-Jacobian. PyMC adds the Jacobian when
  sampling and leaves it out in ``find_MAP`` and ``compile_logp(jacobian=False)``, so the
  mode found there is the mode of the density over :math:`\Sigma`, the one EM maximises.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pymc.distributions.continuous import Continuous
from pymc.distributions.dist_math import check_parameters, multigammaln
from pymc.distributions.shape_utils import rv_size_is_none
from pymc.distributions.transforms import _default_transform
from pymc.logprob.transforms import Transform
from pytensor.tensor.random.op import RandomVariable

__all__ = [
    "CholeskyCovariance",
    "InverseWishart",
    "cholesky_and_inverse",
    "cholesky_covariance",
    "invwishart_rvs",
]


# --- random draws ---------------------------------------------------------------------------


def invwishart_rvs(rng: np.random.Generator, nu: float, scale, size=()) -> np.ndarray:
    r"""Draws from InvWishart(nu, scale) by the Bartlett decomposition.

    If :math:`A` is lower triangular with :math:`A_{jj}^2 \sim \chi^2_{\nu - j}` (j from 0)
    and standard normal entries below the diagonal, and :math:`\Psi = L L^\top`, then
    :math:`W = L^{-\top} A A^\top L^{-1} \sim \operatorname{Wishart}(\nu, \Psi^{-1})` and
    :math:`\Sigma = W^{-1} = M M^\top` with :math:`M^\top = A^{-1} L^\top`.

    Parameters
    ----------
    rng : numpy.random.Generator
    nu : float
        Degrees of freedom, > d - 1.
    scale : ndarray of shape (d, d)
        Positive-definite scale matrix :math:`\Psi`.
    size : tuple of int
        Batch shape of the draws.

    Returns
    -------
    ndarray of shape (*size, d, d)
    """
    scale = np.asarray(scale, dtype=float)
    d = scale.shape[-1]
    size = tuple(int(s) for s in np.atleast_1d(size)) if np.size(size) else ()
    n = int(np.prod(size))
    chol_scale = np.linalg.cholesky(scale)
    A = np.zeros((n, d, d))
    A[:, np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(nu - np.arange(d), size=(n, d)))
    rows, cols = np.tril_indices(d, -1)
    A[:, rows, cols] = rng.standard_normal((n, rows.size))
    # M^T = A^{-1} L^T by forward substitution, vectorised over the draws: d row updates
    # instead of n tiny LAPACK calls.
    Mt = np.empty((n, d, d))
    for i in range(d):
        acc = np.broadcast_to(chol_scale.T[i], (n, d)).copy()
        for j in range(i):
            acc -= A[:, i, j, None] * Mt[:, j, :]
        Mt[:, i, :] = acc / A[:, i, i, None]
    return np.einsum("nki,nkj->nij", Mt, Mt).reshape((*size, d, d))


class InverseWishartRV(RandomVariable):
    """The random-variable Op behind :class:`InverseWishart`."""

    name = "inverse_wishart"
    signature = "(),(n,n)->(n,n)"
    dtype = "floatX"
    _print_name = ("InverseWishart", "\\operatorname{InverseWishart}")

    @classmethod
    def rng_fn(cls, rng, nu, scale, size):
        nu = np.asarray(nu)
        scale = np.asarray(scale)
        batch = np.broadcast_shapes(nu.shape, scale.shape[:-2])
        if size is None:
            size = batch
        size = tuple(size)
        if not batch:
            return invwishart_rvs(rng, float(nu), scale, size)
        d = scale.shape[-1]
        nu = np.broadcast_to(nu, size)
        scale = np.broadcast_to(scale, (*size, d, d))
        out = np.empty((*size, d, d))
        for idx in np.ndindex(*size):
            out[idx] = invwishart_rvs(rng, float(nu[idx]), scale[idx])
        return out


inverse_wishart = InverseWishartRV()


# --- the transform --------------------------------------------------------------------------


class CholeskyCovariance(Transform):
    r"""Unconstrained reals onto positive-definite matrices through the Cholesky factor.

    The unconstrained vector :math:`y` of length :math:`d(d+1)/2` fills the lower triangle
    of :math:`L` row by row (``numpy.tril_indices`` order), with :math:`L_{jj} = e^{y_{jj}}`;
    then :math:`\Sigma = L L^\top`. The map from :math:`y` to the lower triangle of
    :math:`\Sigma` has

    .. math::

        \log\lvert J \rvert = d \log 2 + \sum_{j=1}^{d} (d - j + 2) \log L_{jj},

    :math:`d\log 2 + \sum_j (d - j + 1)\log L_{jj}` from :math:`L \mapsto LL^\top` and
    :math:`\sum_j \log L_{jj}` from the exponential on the diagonal.
    """

    name = "cholesky_cov"
    ndim_supp = 2

    def __init__(self, n_features: int):
        self.n_features = d = int(n_features)
        rows, cols = np.tril_indices(d)
        m = rows.size
        # Constant 0/1 matrices so that packing and unpacking are matrix products, which
        # batch over leading dimensions in every backend.
        self._unpack = np.zeros((m, d * d))
        self._unpack[np.arange(m), rows * d + cols] = 1.0
        self._is_diag = (rows == cols).astype(float)
        # Exponent of log L_jj in the log-Jacobian, j counted from 1.
        self._jac_power = np.where(rows == cols, d - rows + 1.0, 0.0)

    def _lower(self, value):
        is_diag = pt.as_tensor(self._is_diag)
        entries = pt.switch(is_diag > 0, pt.exp(value), value)
        flat = pt.dot(entries, pt.as_tensor(self._unpack))
        return flat.reshape((*value.shape[:-1], self.n_features, self.n_features))

    def backward(self, value, *inputs):
        """Unconstrained (..., d(d+1)/2) to positive-definite (..., d, d)."""
        L = self._lower(value)
        return L @ pt.swapaxes(L, -1, -2)

    def forward(self, value, *inputs):
        """Positive-definite (..., d, d) to unconstrained (..., d(d+1)/2)."""
        d = self.n_features
        L = pt.linalg.cholesky(value, lower=True)
        flat = L.reshape((*value.shape[:-2], d * d))
        packed = pt.dot(flat, pt.as_tensor(self._unpack.T))
        is_diag = pt.as_tensor(self._is_diag) > 0
        return pt.switch(is_diag, pt.log(pt.switch(is_diag, packed, 1.0)), packed)

    def log_jac_det(self, value, *inputs):
        """Log-Jacobian of :meth:`backward` at the unconstrained ``value``, shape (...)."""
        # log L_jj is the diagonal entry of value itself.
        return self.n_features * np.log(2.0) + pt.dot(value, pt.as_tensor(self._jac_power))

    def __eq__(self, other):
        return isinstance(other, CholeskyCovariance) and other.n_features == self.n_features

    def __hash__(self):
        return hash((type(self), self.n_features))


def cholesky_covariance(n_features: int) -> CholeskyCovariance:
    """The :class:`CholeskyCovariance` transform for d x d matrices."""
    return CholeskyCovariance(n_features)


# --- the distribution -----------------------------------------------------------------------


def cholesky_and_inverse(covariances):
    r"""Lower Cholesky factors :math:`L` of ``covariances`` (..., d, d) and :math:`L^{-1}`.

    The inverse-Wishart and the mixture likelihood build these through this one function,
    so that the graph optimiser merges them: one factorisation and one triangular solve per
    covariance for both terms.
    """
    d = covariances.type.shape[-1]
    chol = pt.linalg.cholesky(covariances, lower=True)
    eye = pt.broadcast_to(pt.eye(d), chol.shape)
    chol_inv = pt.linalg.solve_triangular(chol, eye, lower=True, b_ndim=2)
    return chol, chol_inv


def invwishart_logp(value, nu, scale):
    r"""Symbolic inverse-Wishart log-density, batched over the leading dimensions of ``value``.

    Parameters
    ----------
    value : TensorVariable of shape (..., d, d)
    nu : TensorVariable, scalar
    scale : TensorVariable of shape (..., d, d)

    Returns
    -------
    TensorVariable of shape (...)
        Minus infinity (with a failed check) where ``value`` is not positive definite.
    """
    d = value.type.shape[-1]
    if d is None:
        raise ValueError(
            "the inverse-Wishart needs a static matrix size; pass a scale with a known shape."
        )
    chol, chol_inv = cholesky_and_inverse(value)
    chol_scale = pt.linalg.cholesky(scale, lower=True)
    log_det = 2.0 * pt.log(pt.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    log_det_scale = 2.0 * pt.log(pt.diagonal(chol_scale, axis1=-2, axis2=-1)).sum(-1)
    # tr(Psi Sigma^{-1}) = || L^{-1} L_Psi ||_F^2, as a broadcast product (d is small).
    z = (chol_inv[..., :, :, None] * chol_scale[..., None, :, :]).sum(-2)
    trace = (z**2).sum(axis=(-2, -1))
    logp = (
        0.5 * nu * log_det_scale
        - 0.5 * nu * d * np.log(2.0)
        - multigammaln(0.5 * nu, d)
        - 0.5 * (nu + d + 1.0) * log_det
        - 0.5 * trace
    )
    # A failed Cholesky gives NaN: the value is outside the support.
    logp = pt.switch(pt.isnan(logp), -np.inf, logp)
    return check_parameters(logp, nu > d - 1, msg="nu > d - 1")


class InverseWishart(Continuous):
    r"""Inverse-Wishart distribution over d x d positive-definite matrices.

    .. math::

        p(\Sigma \mid \nu, \Psi) = \frac{|\Psi|^{\nu/2}}{2^{\nu d/2}\Gamma_d(\nu/2)}
            |\Sigma|^{-(\nu+d+1)/2} \exp\{-\tfrac12 \operatorname{tr}(\Psi\Sigma^{-1})\}

    ========  =================================================
    Support   :math:`\Sigma` positive definite, d x d
    Mean      :math:`\Psi / (\nu - d - 1)` for :math:`\nu > d + 1`
    Mode      :math:`\Psi / (\nu + d + 1)`
    ========  =================================================

    The same parameterisation as ``scipy.stats.invwishart(df=nu, scale=Psi)``. The default
    transform is :class:`CholeskyCovariance`.

    Parameters
    ----------
    nu : tensor_like of float
        Degrees of freedom, > d - 1.
    scale : tensor_like of float, shape (d, d)
        Positive-definite scale matrix :math:`\Psi`, with a static shape.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from latentmix.bayes.distributions import InverseWishart
    >>> with pm.Model():
    ...     cov = InverseWishart("cov", nu=5.0, scale=np.eye(2), shape=(3, 2, 2))
    """

    rv_op = inverse_wishart

    @classmethod
    def dist(cls, nu, scale, **kwargs):
        """The distribution outside a model (see the class docstring)."""
        nu = pt.as_tensor_variable(nu, dtype="floatX")
        scale = pt.as_tensor_variable(scale, dtype="floatX")
        if scale.type.ndim < 2 or scale.type.shape[-1] is None:
            raise ValueError(
                "InverseWishart needs scale as a (d, d) array with a known size d; got "
                f"a tensor of type {scale.type}."
            )
        return super().dist([nu, scale], **kwargs)

    def support_point(rv, size, nu, scale):
        """The mode, Psi / (nu + d + 1): the starting point for samplers and optimisers."""
        d = scale.type.shape[-1]
        mode = scale / (nu + d + 1.0)
        if not rv_size_is_none(size):
            mode = pt.broadcast_to(mode, pt.concatenate([size, [d, d]]))
        return mode

    def logp(value, nu, scale):
        """Log-density; see :func:`invwishart_logp`."""
        return invwishart_logp(value, nu, scale)


@_default_transform.register(InverseWishartRV)
def _inverse_wishart_transform(op, rv):
    return CholeskyCovariance(rv.type.shape[-1])
