"""The parameters of a Gaussian mixture, shared by every estimator in the package.

Covariances are stored in scikit-learn's shapes, chosen by ``covariance_type``:

==================  =================  ==========================================
type                ``covariances``    meaning (mclust name)
==================  =================  ==========================================
``full``            (K, d, d)          one general covariance per component (VVV)
``tied``            (d, d)             one general covariance for all (EEE)
``diag``            (K, d)             per-component variances (VVI)
``spherical``       (K,)               one variance per component (VII)
``tied_diag``       (d,)               one diagonal covariance for all (EEI)
``tied_spherical``  ()                 one variance for all, a 0-d array (EII)
==================  =================  ==========================================

The last three are *shared* (:data:`SHARED_TYPES`: one covariance for every component, so
reordering components leaves it alone); the last four are *diagonal* (:data:`DIAGONAL_TYPES`:
:func:`variances` gives them as a (..., K, d) stack of per-feature variances).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical", "tied_diag", "tied_spherical")

#: The types whose one covariance is shared by every component (no component axis).
SHARED_TYPES = ("tied", "tied_diag", "tied_spherical")

#: The types whose covariances are diagonal matrices, stored as variances.
DIAGONAL_TYPES = ("diag", "spherical", "tied_diag", "tied_spherical")

#: R mclust's model name of each type for d > 1 (volume, shape, orientation: V varies across
#: components, E is equal, I is the identity). In one dimension see :func:`mclust_name`.
MCLUST_NAMES = {
    "full": "VVV",
    "tied": "EEE",
    "diag": "VVI",
    "spherical": "VII",
    "tied_diag": "EEI",
    "tied_spherical": "EII",
}

#: The three parameter groups, in the order of :class:`MixtureParams`; the same names are the
#: posterior's variables, the report's tables and the keys of ``estimates.json``.
PARAMETER_NAMES = ("weights", "means", "covariances")


class MixtureParams(NamedTuple):
    """Weights, means and covariances of a K-component mixture in d dimensions.

    Attributes
    ----------
    weights : ndarray of shape (K,)
        Mixing proportions, positive and summing to one.
    means : ndarray of shape (K, d)
        Component means.
    covariances : ndarray
        Shape depends on ``covariance_type`` (see the module docstring).
    covariance_type : str
        How the covariances are parameterised, one of :data:`COVARIANCE_TYPES`.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str = "full"

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self.means.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features d."""
        return self.means.shape[1]

    def full_covariances(self) -> np.ndarray:
        """Covariances as a (K, d, d) stack whatever the type."""
        return full_covariances(
            self.covariances, self.covariance_type, self.n_components, self.n_features
        )

    def permute(self, order) -> MixtureParams:
        """Reorder the components: component ``k`` of the result is ``order[k]`` of ``self``."""
        order = np.asarray(order)
        covariances = (
            self.covariances if self.covariance_type in SHARED_TYPES else self.covariances[order]
        )
        return MixtureParams(
            self.weights[order], self.means[order], covariances, self.covariance_type
        )


def check_covariance_type(covariance_type: str) -> str:
    """Return ``covariance_type`` or raise a ValueError listing the valid ones."""
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {', '.join(COVARIANCE_TYPES)}; "
            f"got {covariance_type!r}."
        )
    return covariance_type


def mclust_name(covariance_type: str, n_features: int) -> str:
    """R mclust's model name: :data:`MCLUST_NAMES`, or in one dimension ``V`` or ``E``.

    In one dimension every type is one variance per component (``V``: full, diag,
    spherical) or one variance for all (``E``: tied, tied_diag, tied_spherical).
    """
    check_covariance_type(covariance_type)
    if n_features == 1:
        return "E" if covariance_type in SHARED_TYPES else "V"
    return MCLUST_NAMES[covariance_type]


def covariances_shape(covariance_type: str, n_components: int, n_features: int) -> tuple:
    """The array shape of ``covariances`` for a covariance type."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
        "tied_diag": (n_features,),
        "tied_spherical": (),
    }[check_covariance_type(covariance_type)]


def variances(covariances, covariance_type: str, n_components: int, n_features: int):
    """Per-feature variances of a diagonal type as a (..., K, d) stack.

    Parameters
    ----------
    covariances : ndarray
        ``diag`` (..., K, d), ``spherical`` (..., K), ``tied_diag`` (..., d) or
        ``tied_spherical`` (...), with any leading axes.
    covariance_type : str
        One of :data:`DIAGONAL_TYPES`.
    n_components, n_features : int

    Returns
    -------
    ndarray of shape (..., K, d)
        A new array.
    """
    covariances = np.asarray(covariances, dtype=float)
    if check_covariance_type(covariance_type) not in DIAGONAL_TYPES:
        raise ValueError(
            f"variances() takes a diagonal covariance type ({', '.join(DIAGONAL_TYPES)}); got "
            f"{covariance_type!r}; use full_covariances() instead."
        )
    K, d = n_components, n_features
    expand = {
        "diag": lambda c: c,
        "spherical": lambda c: c[..., None],
        "tied_diag": lambda c: c[..., None, :],
        "tied_spherical": lambda c: c[..., None, None],
    }[covariance_type]
    shared = expand(covariances)
    return np.broadcast_to(shared, (*shared.shape[:-2], K, d)).copy()


def full_covariances(
    covariances, covariance_type: str, n_components: int, n_features: int
) -> np.ndarray:
    """Expand covariances of any type to (..., K, d, d) stacks.

    Leading axes (draws, say) are kept: ``tied`` covariances of shape (..., d, d), ``diag``
    of shape (..., K, d), ``spherical`` of shape (..., K), ``tied_diag`` of shape (..., d) and
    ``tied_spherical`` of shape (...) all become (..., K, d, d).

    Parameters
    ----------
    covariances : ndarray
        In the shape of ``covariance_type``, with any leading axes.
    covariance_type : str
        One of :data:`COVARIANCE_TYPES`.
    n_components, n_features : int
        K and d (the shared types do not carry K, the spherical ones do not carry d).

    Returns
    -------
    ndarray of shape (..., K, d, d)
        A new array (never a view of ``covariances``).
    """
    covariances = np.asarray(covariances, dtype=float)
    check_covariance_type(covariance_type)
    K, d = n_components, n_features
    if covariance_type == "full":
        return covariances.copy()
    if covariance_type == "tied":
        lead = covariances.shape[:-2]
        return np.broadcast_to(covariances[..., None, :, :], (*lead, K, d, d)).copy()
    return variances(covariances, covariance_type, K, d)[..., None] * np.eye(d)


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of a mixture: K - 1 weights, K d means and the covariances."""
    K, d = n_components, n_features
    cov = {
        "full": K * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": K * d,
        "spherical": K,
        "tied_diag": d,
        "tied_spherical": 1,
    }[check_covariance_type(covariance_type)]
    return K - 1 + K * d + cov


def check_params(
    params,
    *,
    n_components: int | None = None,
    n_features: int | None = None,
    covariance_type: str | None = None,
    what: str = "params",
) -> MixtureParams:
    """Return ``params`` with float arrays, or raise a ValueError naming ``what`` and the fix.

    Checks the type, the covariance type, the shapes, finiteness, that the weights are
    positive and sum to one, and that every covariance is positive definite.

    Parameters
    ----------
    params : MixtureParams
    n_components, n_features : int, optional
        K and d the parameters must have (default: their own).
    covariance_type : str, optional
        The covariance type they must have (default: their own).
    what : str
        How the error messages name the parameters (``"init"``, ``"reference"`` ...).

    Returns
    -------
    MixtureParams
    """
    if not isinstance(params, MixtureParams):
        raise ValueError(
            f"{what} must be a MixtureParams (for example EMGaussianMixture(...).params_); got "
            f"{type(params).__name__}."
        )
    covariance_type = check_covariance_type(covariance_type or params.covariance_type)
    if params.covariance_type != covariance_type:
        raise ValueError(
            f"{what} has covariance_type {params.covariance_type!r} but the model is "
            f"{covariance_type!r}."
        )
    arrays = [np.asarray(a, dtype=float) for a in params[:3]]
    if arrays[1].ndim != 2:
        raise ValueError(f"{what}.means must be 2-D (K, d); got shape {arrays[1].shape}.")
    K = arrays[1].shape[0] if n_components is None else n_components
    d = arrays[1].shape[1] if n_features is None else n_features
    expected = ((K,), (K, d), covariances_shape(covariance_type, K, d))
    for name, value, shape in zip(PARAMETER_NAMES, arrays, expected, strict=True):
        if value.shape != shape:
            raise ValueError(f"{what}.{name} has shape {value.shape}; expected {shape}.")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{what}.{name} has NaN or infinite entries; pass finite values.")
    weights, means, covariances = arrays
    if np.any(weights <= 0) or abs(weights.sum() - 1.0) > 1e-8:
        raise ValueError(
            f"{what}.weights must be positive and sum to 1; got {weights} (sum "
            f"{weights.sum():.10g}). Divide by their sum if they are proportions."
        )
    full = full_covariances(covariances, covariance_type, K, d)
    shared = covariance_type in SHARED_TYPES
    for k, cov in enumerate(full[:1] if shared else full):
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            which = "the shared covariance" if shared else f"component {k}"
            raise ValueError(
                f"{what}.covariances of {which} is not positive definite; every "
                "covariance must be symmetric with positive eigenvalues."
            ) from None
    return MixtureParams(weights, means, covariances, covariance_type)


def sample_mixture(params: MixtureParams, n_samples: int, random_state=None):
    """Draw data from a mixture.

    Parameters
    ----------
    params : MixtureParams
    n_samples : int
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n_samples, d)
    labels : ndarray of shape (n_samples,)
        The component each row was drawn from.
    """
    rng = np.random.default_rng(random_state)
    labels = rng.choice(params.n_components, size=n_samples, p=params.weights)
    chol = np.linalg.cholesky(params.full_covariances())
    z = rng.standard_normal((n_samples, params.n_features))
    X = params.means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    return X, labels
