"""The parameters of a Gaussian mixture, shared by every estimator in the package.

Covariances are stored in scikit-learn's shapes, chosen by ``covariance_type``:

============  =================  ==========================================
type          ``covariances``    meaning (mclust name)
============  =================  ==========================================
``full``      (K, d, d)          one general covariance per component (VVV)
``tied``      (d, d)             one general covariance for all (EEE)
``diag``      (K, d)             per-component variances (VVI)
``spherical`` (K,)               one variance per component (VII)
============  =================  ==========================================
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


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
    covariance_type : {"full", "tied", "diag", "spherical"}
        How the covariances are parameterised.
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
            self.covariances if self.covariance_type == "tied" else self.covariances[order]
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


def covariances_shape(covariance_type: str, n_components: int, n_features: int) -> tuple:
    """The array shape of ``covariances`` for a covariance type."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[check_covariance_type(covariance_type)]


def full_covariances(
    covariances, covariance_type: str, n_components: int, n_features: int
) -> np.ndarray:
    """Expand covariances of any type to a (K, d, d) stack.

    Parameters
    ----------
    covariances : ndarray
        In the shape of ``covariance_type``.
    covariance_type : str
        One of ``full``, ``tied``, ``diag``, ``spherical``.
    n_components, n_features : int
        K and d (``tied`` does not carry K, ``spherical`` does not carry d).

    Returns
    -------
    ndarray of shape (K, d, d)
    """
    covariances = np.asarray(covariances, dtype=float)
    check_covariance_type(covariance_type)
    if covariance_type == "full":
        return covariances.copy()
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (n_components, n_features, n_features)).copy()
    eye = np.eye(n_features)
    if covariance_type == "diag":
        return covariances[:, :, None] * eye
    return covariances[:, None, None] * eye


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
