r"""The conjugate prior shared by the EM MAP estimate and the PyMC posterior.

For K components in d dimensions, with hyperparameters named as in scikit-learn's
``BayesianGaussianMixture``:

.. math::

    \text{weights} &\sim \operatorname{Dirichlet}(\alpha) \\
    \Sigma_k &\sim \operatorname{InvWishart}(\nu, \Psi) \\
    \mu_k \mid \Sigma_k &\sim \mathcal N(m_0, \Sigma_k / \kappa)

with :math:`\alpha` = ``weight_concentration``, :math:`m_0` = ``mean``, :math:`\kappa` =
``mean_precision``, :math:`\nu` = ``degrees_of_freedom`` and :math:`\Psi` = ``scale``. The inverse
Wishart density is

.. math::

    p(\Sigma) = \frac{|\Psi|^{\nu/2}}{2^{\nu d/2}\Gamma_d(\nu/2)}
        |\Sigma|^{-(\nu+d+1)/2} \exp\{-\tfrac12 \operatorname{tr}(\Psi\Sigma^{-1})\}.

The other covariance types use the matching conjugate priors:

* ``tied``: one :math:`\Sigma \sim \operatorname{InvWishart}(\nu, \Psi)` shared by all
  components, and :math:`\mu_k \mid \Sigma \sim \mathcal N(m_0, \Sigma/\kappa)` for each k.
* ``diag``: each variance
  :math:`\sigma^2_{kj} \sim \operatorname{InvGamma}(\nu/2, \psi_j/2)` (shape, scale) and
  :math:`\mu_{kj} \mid \sigma^2_{kj} \sim \mathcal N(m_{0j}, \sigma^2_{kj}/\kappa)`;
  ``scale`` is a (d,) vector.
* ``spherical``: :math:`\sigma^2_k \sim \operatorname{InvGamma}(\nu/2, s/2)` and
  :math:`\mu_k \mid \sigma^2_k \sim \mathcal N(m_0, \sigma^2_k I/\kappa)`; ``scale`` is a scalar.
* ``tied_diag``: one variance per feature shared by all components,
  :math:`\sigma^2_j \sim \operatorname{InvGamma}(\nu/2, \psi_j/2)`, and
  :math:`\mu_{kj} \mid \sigma^2_j \sim \mathcal N(m_{0j}, \sigma^2_j/\kappa)` for each k;
  ``scale`` is a (d,) vector, as for ``diag``.
* ``tied_spherical``: one variance for everything,
  :math:`\sigma^2 \sim \operatorname{InvGamma}(\nu/2, s/2)`, and
  :math:`\mu_k \mid \sigma^2 \sim \mathcal N(m_0, \sigma^2 I/\kappa)` for each k; ``scale`` is a
  scalar, as for ``spherical``.

The shared types have one inverse-gamma per shared variance (not one per component), so
the prior on the covariance counts once however many components there are, as the
inverse-Wishart of ``tied`` does.

In one dimension every type is the same model, since
:math:`\operatorname{InvWishart}_1(\nu, \psi) = \operatorname{InvGamma}(\nu/2, \psi/2)`.

Densities are over the covariances themselves (no change of variables), which is what both EM
and ``find_MAP`` maximise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import gammaln, multigammaln

from latentmix.params import (
    MixtureParams,
    check_covariance_type,
    covariances_shape,
    full_covariances,
    variances,
)

_LOG_2PI = np.log(2 * np.pi)


@dataclass(frozen=True, eq=False)
class ConjugatePrior:
    r"""Dirichlet prior on the weights, conjugate Normal-inverse-Wishart on the components.

    Parameters
    ----------
    weight_concentration : float or array-like of shape (K,)
        Dirichlet concentration :math:`\alpha`; a scalar is used for every component.
        1 is flat. EM MAP needs every value >= 1 (otherwise the density is unbounded at the
        edge of the simplex and there is no mode).
    mean : array-like of shape (d,)
        Prior mean of the component means.
    mean_precision : float
        :math:`\kappa` > 0: how many observations the prior mean is worth.
    degrees_of_freedom : float
        :math:`\nu`; must exceed d - 1 for ``full`` and ``tied``, and 0 otherwise.
    scale : float or array-like
        :math:`\Psi`: (d, d) positive definite for ``full`` and ``tied``, (d,) positive for
        ``diag`` and ``tied_diag``, a positive scalar for ``spherical`` and ``tied_spherical``.

    Examples
    --------
    >>> import numpy as np
    >>> from latentmix import ConjugatePrior
    >>> prior = ConjugatePrior(1.0, np.zeros(2), 0.01, 4.0, np.eye(2))
    """

    weight_concentration: float | np.ndarray
    mean: np.ndarray
    mean_precision: float
    degrees_of_freedom: float
    scale: float | np.ndarray

    def __post_init__(self):
        conc = _finite_array("weight_concentration", self.weight_concentration)
        if conc.ndim > 1 or np.any(conc <= 0):
            raise ValueError(
                "weight_concentration must be a positive scalar or a 1-D array of positive "
                f"values; got {self.weight_concentration!r}."
            )
        mean = _finite_array("mean", self.mean)
        if mean.ndim != 1:
            raise ValueError(f"mean must be a 1-D array of length d; got shape {mean.shape}.")
        kappa = float(_finite_array("mean_precision", self.mean_precision))
        if kappa <= 0:
            raise ValueError(f"mean_precision must be positive; got {kappa!r}.")
        dof = float(_finite_array("degrees_of_freedom", self.degrees_of_freedom))
        if dof <= 0:
            raise ValueError(f"degrees_of_freedom must be positive; got {dof!r}.")
        scale = _finite_array("scale", self.scale)
        if scale.ndim == 2:
            if scale.shape != (mean.size, mean.size):
                raise ValueError(
                    f"scale must be a symmetric ({mean.size}, {mean.size}) matrix to match "
                    f"mean; got shape {scale.shape}."
                )
            if not np.allclose(scale, scale.T):
                i, j = np.unravel_index(np.abs(scale - scale.T).argmax(), scale.shape)
                raise ValueError(
                    f"scale must be symmetric, and it is not: scale[{i}, {j}] = "
                    f"{scale[i, j]:.6g} but scale[{j}, {i}] = {scale[j, i]:.6g}."
                )
            if not _positive_definite(scale):
                raise ValueError(
                    "scale must be positive definite; its smallest eigenvalue is "
                    f"{np.linalg.eigvalsh(scale).min():.3g}, against a largest of "
                    f"{np.linalg.eigvalsh(scale).max():.3g}."
                )
        elif np.any(scale <= 0) or scale.ndim > 2:
            raise ValueError(f"scale must be positive; got {self.scale!r}.")
        for name, value in [
            ("weight_concentration", conc),
            ("mean", mean),
            ("mean_precision", kappa),
            ("degrees_of_freedom", dof),
            ("scale", scale),
        ]:
            object.__setattr__(self, name, value)

    @classmethod
    def default(cls, X, n_components: int, covariance_type: str = "full") -> ConjugatePrior:
        """Data-scaled hyperparameters after Fraley & Raftery (2007).

        As R mclust's ``defaultPrior``: ``mean`` the data mean, ``mean_precision`` 0.01,
        ``degrees_of_freedom`` d + 2, and ``scale`` the sample covariance divided by
        :math:`K^{2/d}`; ``weight_concentration`` 1 (flat). For ``diag`` and ``tied_diag`` the
        scale is the diagonal of that matrix, for ``spherical`` and ``tied_spherical`` its mean
        diagonal value. (mclust's ``defaultPrior`` uses the mean diagonal value for its
        diagonal models VVI and EEI too; a (d,) vector keeps each feature's own scale.)

        Parameters
        ----------
        X : array-like of shape (n, d) or (n,)
        n_components : int
        covariance_type : str
            One of :data:`latentmix.params.COVARIANCE_TYPES`.

        Returns
        -------
        ConjugatePrior
        """
        from latentmix.validation import check_data

        X = check_data(X, n_components=n_components)
        return cls.from_moments(
            X.mean(axis=0),
            np.cov(X, rowvar=False),
            n_components,
            covariance_type,
            n_samples=X.shape[0],
        )

    #: The hyperparameter names, in the constructor's order.
    HYPERPARAMETERS = (
        "weight_concentration",
        "mean",
        "mean_precision",
        "degrees_of_freedom",
        "scale",
    )

    def to_dict(self) -> dict:
        """The hyperparameters as plain lists and floats (JSON-ready; see :meth:`read`)."""
        return {name: np.asarray(getattr(self, name)).tolist() for name in self.HYPERPARAMETERS}

    @classmethod
    def from_dict(cls, values: dict) -> ConjugatePrior:
        """A prior from a mapping with exactly the five hyperparameter names."""
        names = set(values)
        missing = [n for n in cls.HYPERPARAMETERS if n not in names]
        unknown = sorted(names - set(cls.HYPERPARAMETERS))
        if missing or unknown:
            raise ValueError(
                "a prior needs exactly the keys "
                + ", ".join(cls.HYPERPARAMETERS)
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
                + "."
            )
        return cls(**{n: values[n] for n in cls.HYPERPARAMETERS})

    @classmethod
    def read(cls, path) -> ConjugatePrior:
        """A prior from a JSON or TOML file.

        The file holds the five hyperparameters at its top level or under a ``prior`` key,
        so the ``estimates.json`` of a report can be edited and passed back
        (``latentmix report DATA -k K --prior FILE``).

        Parameters
        ----------
        path : str or path-like
            ``.json`` or ``.toml``; the extension says how to parse it, so any other (a
            ``.yaml`` file, say) is refused rather than read as JSON.

        Returns
        -------
        ConjugatePrior
        """
        import json
        import tomllib

        path = Path(path)
        if path.suffix.lower() not in (".json", ".toml"):
            raise ValueError(
                f"{path}: a prior file must be .json or .toml (read by its extension); got "
                + (repr(path.suffix) if path.suffix else "no extension")
                + "."
            )
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ValueError(f"cannot read the prior file {path}: {err.strerror}.") from None
        try:
            values = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
            raise ValueError(f"{path} is not valid {path.suffix[1:] or 'JSON'}: {err}") from None
        if isinstance(values, dict) and isinstance(values.get("prior"), dict):
            values = values["prior"]
        if not isinstance(values, dict):
            raise ValueError(f"{path} must hold an object of hyperparameters.")
        try:
            return cls.from_dict(values)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from None

    @classmethod
    def from_moments(
        cls,
        mean,
        covariance,
        n_components: int,
        covariance_type: str = "full",
        *,
        n_samples: int | None = None,
    ) -> ConjugatePrior:
        """:meth:`default` from the data's mean and sample covariance alone.

        For data that are never held whole (a dask array or memmap): the default prior
        depends on the data only through these two moments.

        Parameters
        ----------
        mean : array-like of shape (d,)
        covariance : array-like of shape (d, d)
            Sample covariance (divisor n - 1, as :func:`numpy.cov`).
        n_components : int
        covariance_type : str
            One of :data:`latentmix.params.COVARIANCE_TYPES`.
        n_samples : int, optional
            The rows the moments came from; only to give the right advice when the
            covariance is singular because there are no more rows than columns.

        Returns
        -------
        ConjugatePrior

        Raises
        ------
        ValueError
            The covariance is singular to working precision: its smallest eigenvalue is at
            most d x machine epsilon x its largest, so that round-off, not the data, would
            decide whether a prior exists.
        """
        check_covariance_type(covariance_type)
        mean = np.atleast_1d(np.asarray(mean, dtype=float))
        d = mean.shape[0]
        cov = np.atleast_2d(np.asarray(covariance, dtype=float)) / n_components ** (2.0 / d)
        if cov.shape != (d, d):
            raise ValueError(
                f"covariance must have shape ({d}, {d}) to match the mean; got {cov.shape}."
            )
        if not np.all(np.isfinite(cov)) or not _positive_definite(cov):
            if n_samples is not None and n_samples <= d:
                raise ValueError(
                    f"the data have {n_samples} rows for {d} columns, so their covariance "
                    f"has rank at most {n_samples - 1} and no data-scaled prior exists (it "
                    f"needs more than {d} rows); use more rows or fewer columns, or give a "
                    "prior with your own scale (a ConjugatePrior; --prior FILE)."
                )
            raise ValueError(
                "the data covariance is singular (a constant column or collinear columns), "
                "so no data-scaled prior exists; drop the redundant columns or give a "
                "prior with your own scale (a ConjugatePrior; --prior FILE)."
            )
        scale = {
            "full": cov,
            "tied": cov,
            "diag": np.diag(cov).copy(),
            "spherical": float(np.trace(cov) / d),
            "tied_diag": np.diag(cov).copy(),
            "tied_spherical": float(np.trace(cov) / d),
        }[covariance_type]
        return cls(1.0, mean, 0.01, d + 2.0, scale)

    def check(self, n_features: int, n_components: int, covariance_type: str) -> None:
        """Raise a ValueError unless the prior fits this data width, K and covariance type."""
        check_covariance_type(covariance_type)
        if self.mean.size != n_features:
            raise ValueError(
                f"the prior mean has length {self.mean.size} but the data have "
                f"{n_features} features."
            )
        if self.weight_concentration.ndim == 1 and self.weight_concentration.size != n_components:
            raise ValueError(
                f"weight_concentration has {self.weight_concentration.size} values but "
                f"n_components is {n_components}."
            )
        expected = scale_shape(covariance_type, n_features)
        if self.scale.shape != expected:
            raise ValueError(
                f"a {covariance_type!r} prior needs scale of shape {expected}; got "
                f"{self.scale.shape}. ConjugatePrior.default(X, K, {covariance_type!r}) "
                "builds one."
            )
        if covariance_type in ("full", "tied") and self.degrees_of_freedom <= n_features - 1:
            raise ValueError(
                f"degrees_of_freedom must exceed d - 1 = {n_features - 1} for an inverse-"
                f"Wishart prior; got {self.degrees_of_freedom}."
            )

    def concentration(self, n_components: int) -> np.ndarray:
        """The Dirichlet concentration as a (K,) array."""
        return np.broadcast_to(self.weight_concentration, (n_components,)).astype(float)

    def __repr__(self) -> str:
        def fmt(v):
            return np.array2string(np.asarray(v), precision=4, separator=", ")

        return (
            f"ConjugatePrior(weight_concentration={fmt(self.weight_concentration)}, "
            f"mean={fmt(self.mean)}, mean_precision={self.mean_precision:g}, "
            f"degrees_of_freedom={self.degrees_of_freedom:g}, scale={fmt(self.scale)})"
        )


def scale_shape(covariance_type: str, n_features: int) -> tuple:
    """The shape of a prior's ``scale`` for a covariance type: (d, d), (d,) or ()."""
    d = n_features
    return {
        "full": (d, d),
        "tied": (d, d),
        "diag": (d,),
        "spherical": (),
        "tied_diag": (d,),
        "tied_spherical": (),
    }[check_covariance_type(covariance_type)]


def _positive_definite(matrix) -> bool:
    """Whether a symmetric matrix is positive definite to working precision.

    Its smallest eigenvalue must exceed d x machine epsilon x its largest: below that, the
    sign of the smallest is round-off (an exact ``> 0`` test would let chance decide).
    """
    eigenvalues = np.linalg.eigvalsh(matrix)
    d = eigenvalues.size
    return bool(
        eigenvalues.max() > 0 and eigenvalues.min() > d * np.finfo(float).eps * eigenvalues.max()
    )


def _finite_array(name, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; got {value!r}.") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return arr


# --- log densities, every normalising constant kept ----------------------------------------


def log_dirichlet(weights, concentration) -> float:
    """Log-density of a Dirichlet at ``weights`` (K,)."""
    concentration = np.asarray(concentration, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a zero weight under concentration 1 contributes 0, not 0 * -inf
        log_w = np.log(weights)
        terms = np.where(concentration == 1.0, 0.0, (concentration - 1.0) * log_w)
    return float(gammaln(concentration.sum()) - gammaln(concentration).sum() + terms.sum())


def log_invwishart(covariances, degrees_of_freedom, scale) -> np.ndarray:
    """Log-density of InvWishart(dof, scale) at each of ``covariances`` (..., d, d)."""
    covariances = np.asarray(covariances, dtype=float)
    d = scale.shape[0]
    chol = np.linalg.cholesky(covariances)
    log_det = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    # tr(Psi Sigma^{-1}) = ||L^{-1} L_Psi||_F^2 with Sigma = L L^T; numpy's batched solve
    # (not scipy's per-matrix one, whose BLAS calls are slow for tiny matrices).
    scale_chol = np.linalg.cholesky(scale)
    trace = (np.linalg.solve(chol, scale_chol) ** 2).sum((-2, -1))
    log_det_scale = 2 * np.log(np.diag(scale_chol)).sum()
    nu = degrees_of_freedom
    return (
        0.5 * nu * log_det_scale
        - 0.5 * nu * d * np.log(2.0)
        - multigammaln(0.5 * nu, d)
        - 0.5 * (nu + d + 1) * log_det
        - 0.5 * trace
    )


def log_invgamma(x, shape, scale) -> np.ndarray:
    """Log-density of InvGamma(shape, scale) at ``x`` (elementwise)."""
    x = np.asarray(x, dtype=float)
    return shape * np.log(scale) - gammaln(shape) - (shape + 1) * np.log(x) - scale / x


def _log_normal_full(x, mean, covariances) -> np.ndarray:
    """Log N(x_k; mean, covariances_k) for x (K, d), covariances (K, d, d)."""
    d = x.shape[-1]
    chol = np.linalg.cholesky(covariances)
    z = np.linalg.solve(chol, (x - mean)[..., None])[..., 0]
    log_det = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    return -0.5 * (d * _LOG_2PI + log_det + (z**2).sum(-1))


def log_prior(params: MixtureParams, prior: ConjugatePrior) -> float:
    """Log prior density of mixture parameters, with every normalising constant.

    Parameters
    ----------
    params : MixtureParams
        The point at which to evaluate; ``params.covariance_type`` picks the prior's form.
    prior : ConjugatePrior

    Returns
    -------
    float
        Minus infinity if a covariance is not positive definite or a weight is zero where
        the concentration exceeds one.
    """
    K, d = params.means.shape
    covariance_type = params.covariance_type
    prior.check(d, K, covariance_type)
    kappa, nu, m0 = prior.mean_precision, prior.degrees_of_freedom, prior.mean
    weights = np.asarray(params.weights, dtype=float)
    covariances = np.asarray(params.covariances, dtype=float)
    total = log_dirichlet(weights, prior.concentration(K))
    try:
        if covariance_type in ("full", "tied"):
            stack = covariances if covariance_type == "full" else covariances[None]
            total += log_invwishart(stack, nu, prior.scale).sum()
            full = params.full_covariances()
            total += _log_normal_full(params.means, m0, full / kappa).sum()
        else:
            if np.any(covariances <= 0):
                return -np.inf
            # One inverse-gamma per stored variance: per component for diag/spherical, once
            # for the shared types. The scale broadcasts over the stored shape.
            total += log_invgamma(covariances, 0.5 * nu, 0.5 * prior.scale).sum()
            var = variances(covariances, covariance_type, K, d) / kappa
            total += (-0.5 * (_LOG_2PI + np.log(var) + (params.means - m0) ** 2 / var)).sum()
    except np.linalg.LinAlgError:
        return -np.inf
    return float(total)


# --- draws from the prior -------------------------------------------------------------------


def sample_prior(
    prior: ConjugatePrior, n_components: int, covariance_type: str, random_state=None, size=None
) -> MixtureParams:
    r"""Draw one mixture, or ``size`` mixtures, from the prior.

    Covariances first (inverse-Wishart, or inverse-gamma per stored variance), then each
    mean from :math:`\mathcal N(m_0, \Sigma_k/\kappa)`, then the weights from the Dirichlet.

    Parameters
    ----------
    prior : ConjugatePrior
    n_components : int
    covariance_type : str
        One of :data:`latentmix.params.COVARIANCE_TYPES`; the prior's scale must fit it.
    random_state : None, int or numpy.random.Generator
    size : int or None
        None: one mixture. An int S: S mixtures in one call (1000 draws in 25 ms, against
        1.2 s one at a time), every array with a leading axis of S; not the same draws as
        S calls.

    Returns
    -------
    MixtureParams
        Shapes of ``covariance_type``, with a leading (S,) axis when ``size`` is given.
    """
    from scipy.stats import invwishart

    rng = np.random.default_rng(random_state)
    K, d = n_components, prior.mean.size
    prior.check(d, K, covariance_type)
    S = 1 if size is None else int(size)
    nu = prior.degrees_of_freedom
    if covariance_type in ("full", "tied"):
        per = K if covariance_type == "full" else 1
        draws = invwishart(df=nu, scale=prior.scale).rvs(size=S * per, random_state=rng)
        covariances = np.reshape(draws, (S, per, d, d))
        if covariance_type == "tied":
            covariances = covariances[:, 0]
    else:
        shape = covariances_shape(covariance_type, K, d)
        # InvGamma(a, b) = b / Gamma(a, 1)
        scale = np.broadcast_to(0.5 * prior.scale, shape)
        covariances = scale / rng.gamma(0.5 * nu, size=(S, *shape))
    full = full_covariances(covariances, covariance_type, K, d)  # (S, K, d, d)
    chol = np.linalg.cholesky(full / prior.mean_precision)
    means = prior.mean + np.einsum("skij,skj->ski", chol, rng.standard_normal((S, K, d)))
    weights = rng.dirichlet(prior.concentration(K), size=S)
    arrays = (weights, means, np.asarray(covariances, dtype=float))
    if size is None:
        arrays = tuple(a[0] for a in arrays)
    return MixtureParams(*arrays, covariance_type)
