"""``VBGaussianMixture``: a scikit-learn estimator over the pure functions of ``latentmix.vb``.

It checks its settings and the data, runs :func:`latentmix.vb.fit.fit_vb`, and keeps the
variational posterior and its summaries as fitted attributes; prediction and scores use the
variational predictive (:mod:`latentmix.vb.predictive`), draws go out as an
``arviz.InferenceData`` named as the NUTS posterior (:mod:`latentmix.bayes.spec`).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import _check_feature_names

from latentmix.bayes.spec import (
    COMPONENT,
    FEATURE,
    FEATURE_BIS,
    covariance_dims,
    resolve_prior,
)
from latentmix.em import chunked
from latentmix.em.fit import ConvergenceWarning
from latentmix.em.init import INIT_METHODS
from latentmix.estimator import check_new_data
from latentmix.params import MixtureParams, check_covariance_type, check_params
from latentmix.validation import (
    check_data,
    check_missing,
    check_n_components,
    check_random_state,
    check_sample_weight,
)
from latentmix.vb.fit import VBOptions, fit_vb
from latentmix.vb.intervals import align_posterior, vb_intervals
from latentmix.vb.missing import incomplete_data
from latentmix.vb.predictive import log_predictive, sample_posterior_arrays
from latentmix.vb.updates import posterior_mean, posterior_mode


class VBGaussianMixture(DensityMixin, BaseEstimator):
    r"""Gaussian mixture by mean-field variational Bayes under the MAP's conjugate prior.

    Coordinate ascent on :math:`q(z)\,q(\text{weights})\,q(\text{means}, \text{covariances})`
    for the model of :mod:`latentmix.priors` (the prior of ``EMGaussianMixture``'s MAP and
    of ``PyMCGaussianMixture``'s posterior). Every update is closed form
    (:mod:`latentmix.vb.updates`); the ELBO is computed with every constant and recorded at
    each iteration. A scikit-learn estimator: it clones, takes ``get_params``/``set_params``
    and works in a ``Pipeline`` or ``GridSearchCV`` (scored by :meth:`score`, the mean
    predictive log-density).

    Parameters
    ----------
    n_components : int
        K (>= 1).
    covariance_type : {"full", "tied", "diag", "spherical", "tied_diag", "tied_spherical"}
    prior : "default" or ConjugatePrior
        ``"default"`` is ``ConjugatePrior.default(X, n_components, covariance_type)`` built
        at fit time. VB needs a proper prior (None is refused); any positive
        ``weight_concentration`` works, values below 1 included (a small concentration
        lets superfluous components empty, scikit-learn's route to choosing K).
    n_init : int
        Runs taken to convergence; the highest ELBO is kept. Starts are screened as EM's
        (:func:`latentmix.vb.fit.fit_vb`).
    init : {"k-means++", "random"}, MixtureParams or ndarray of shape (n, K)
        How EM's starting points are seeded, one starting mixture (q(z) is then its EM
        responsibilities), or the starting responsibilities themselves (rows sum to 1).
        A fixed start means one run.
    tol : float
        A run stops when an iteration raises the ELBO by less than ``tol * |ELBO|``.
    max_iter : int
        Most iterations per run (screening included); a
        :class:`~latentmix.em.fit.ConvergenceWarning` if the best run reaches it.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
    scheduler : None, str or dask.distributed.Client
        Where the work on a dask array runs, as ``EMGaussianMixture``'s (None: dask's
        default; ``"threads"``, ``"synchronous"``, ``"processes"``, ``"local"``, an address
        or a Client). Not used for in-memory data or memmaps.
    missing : {"error", "ignore"}
        ``"error"`` (default): a NaN cell is an error naming the first one. ``"ignore"``:
        NaN cells are missing at random and latent under q (:mod:`latentmix.vb.missing`:
        q(z) q(x_m | z) q(theta)); the predictive of a row with missing cells is that of
        its observed cells. A row with every cell missing is an error. The data must then
        be in memory (or a memmap, read whole).

    Attributes
    ----------
    posterior_ : VBPosterior
        The variational parameters: ``weight_concentration`` (K,), ``mean`` (K, d),
        ``mean_precision`` (K,), ``degrees_of_freedom`` ((K,) or () for the shared types),
        ``scale`` (the covariances' shape); see :class:`latentmix.vb.updates.VBPosterior`.
    weight_concentration_, mean_precision_, degrees_of_freedom_, scale_ : ndarray
        The same, one attribute each (scikit-learn's names where it has them).
    weights_, means_, covariances_ : ndarray
        The means of q: :math:`E[\pi]`, :math:`E[\mu]`, :math:`E[\Sigma]` (see
        :func:`latentmix.vb.updates.posterior_mean`). scikit-learn's
        ``BayesianGaussianMixture.covariances_`` is :math:`\Psi'/\nu'` instead.
    params_ : MixtureParams
        The three above.
    prior_ : ConjugatePrior
    elbo_ : float
        The ELBO of the best run (a lower bound on :math:`\log p(X)`, every constant kept).
    elbo_history_ : ndarray of shape (n_iter_ + 1,)
        The ELBO of the best run at its start and after each iteration; never decreasing.
    converged_ : bool
    n_iter_ : int
    restarts_ : list of dict
        One per continued run: ``elbo``, ``elbo_history``, ``converged``, ``n_iter``.
    best_restart_ : int
    n_missing_ : int
        Missing (NaN) cells in the data of the fit (0 unless ``missing="ignore"``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When fitted on a pandas DataFrame with string column names.

    Examples
    --------
    >>> from latentmix.datasets import load
    >>> from latentmix.vb import VBGaussianMixture
    >>> X = load("faithful").data
    >>> vb = VBGaussianMixture(2, random_state=0, n_init=2).fit(X)
    >>> vb.weights_.round(3)
    array([0.357, 0.643])
    >>> vb.means_.round(2)
    array([[ 2.04, 54.49],
           [ 4.29, 79.97]])
    """

    def __init__(
        self,
        n_components: int,
        *,
        covariance_type: str = "full",
        prior="default",
        n_init: int = 10,
        init="k-means++",
        tol: float = 1e-10,
        max_iter: int = 1000,
        random_state=None,
        scheduler=None,
        missing: str = "error",
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.prior = prior
        self.n_init = n_init
        self.init = init
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.scheduler = scheduler
        self.missing = missing

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN cells are an error with their row and column unless missing="ignore".
        tags.input_tags.allow_nan = self.missing == "ignore"
        tags.input_tags.sparse = False
        tags.target_tags.required = False
        return tags

    # --- fitting ----------------------------------------------------------------------------

    def _check_settings(self, X, sample_weight=None):
        K = check_n_components(self.n_components)
        covariance_type = check_covariance_type(self.covariance_type)
        how_missing = check_missing(self.missing)
        _check_feature_names(self, X, reset=True)
        if chunked.is_dask_array(X) and how_missing == "ignore":
            raise ValueError(
                "missing='ignore' needs the data in memory or in a NumPy memmap; compute the "
                "dask array (X.compute()) first."
            )
        if chunked.is_blocked_data(X) and how_missing == "error":
            # Read block by block; finiteness is checked by the first pass.
            X = chunked.check_blocked_data(X, n_components=K)
            if sample_weight is not None and chunked.is_dask_array(X):
                raise ValueError(
                    "sample_weight needs the data in memory or in a NumPy memmap; compute the "
                    "dask array (X.compute()) or save it as .npy and pass np.load(path, "
                    "mmap_mode='r')."
                )
        else:
            X = check_data(X, n_components=K, missing=how_missing)
        n, d = X.shape
        weights = None if sample_weight is None else check_sample_weight(sample_weight, n)
        for name in ("n_init", "max_iter"):
            value = getattr(self, name)
            low = 1 if name == "n_init" else 0
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"{name} must be a whole number >= {low}; got {value!r}.")
        if not isinstance(self.tol, int | float | np.number) or not self.tol >= 0:
            raise ValueError(f"tol must be a number >= 0; got {self.tol!r}.")
        init = self.init
        if isinstance(init, MixtureParams):
            init = check_params(
                init, n_components=K, n_features=d, covariance_type=covariance_type, what="init"
            )
        elif isinstance(init, str):
            if init not in INIT_METHODS:
                raise ValueError(
                    f"init must be one of {', '.join(INIT_METHODS)}, a MixtureParams or "
                    f"responsibilities of shape (n, K); got {init!r}."
                )
        else:
            init = _check_responsibilities(init, n, K)
        if n == 1 and isinstance(self.prior, str):
            raise ValueError(
                "X has 1 sample (n_samples = 1); the default prior (scaled by the data's "
                "spread) needs at least 2: add data or pass a ConjugatePrior of your own."
            )
        default = isinstance(self.prior, str) and self.prior == "default"
        if chunked.is_blocked_data(X) and weights is None and default:
            # From one blocked pass: a memmap or dask array is never read whole.
            prior = chunked.default_prior(X, K, covariance_type, self.scheduler)
        else:
            prior = resolve_prior(X, K, covariance_type, self.prior, weights)
        return X, K, covariance_type, init, prior, weights

    def fit(self, X, y=None, sample_weight=None):
        """Fit q to ``X``.

        Parameters
        ----------
        X : array-like, pandas DataFrame, NumPy memmap or dask array of shape (n, d) or (n,)
            A 1-D array is one feature; computed in float64. A memmap or dask array is
            read block by block, never whole.
        y : ignored
        sample_weight : array-like of shape (n,), optional
            Nonnegative observation weights: each row's terms in the ELBO (its likelihood
            and its q(z_i)) count ``w_i`` times, the prior once; integer weights give the
            fit of the rows repeated (from the same start). ``prior="default"`` is then
            built from the weighted moments, as ``EMGaussianMixture``'s.

        Returns
        -------
        self
        """
        X, K, covariance_type, init, prior, weights = self._check_settings(X, sample_weight)
        n_missing = int(np.isnan(X).sum()) if self.missing == "ignore" else 0
        data = incomplete_data(X) if n_missing else X
        options = VBOptions(
            prior, covariance_type, float(self.tol), int(self.max_iter), scheduler=self.scheduler
        )
        result = fit_vb(
            data,
            K,
            options,
            init=init,
            n_init=int(self.n_init),
            random_state=check_random_state(self.random_state),
            sample_weight=weights,
        )
        best = result.best
        post = best.posterior
        self.posterior_ = post
        self.weight_concentration_ = post.weight_concentration
        self.mean_precision_ = post.mean_precision
        self.degrees_of_freedom_ = post.degrees_of_freedom
        self.scale_ = post.scale
        self.params_ = posterior_mean(post)
        self.weights_, self.means_, self.covariances_ = self.params_[:3]
        self.prior_ = prior
        self.elbo_ = float(best.elbo)
        self.elbo_history_ = best.elbo_history
        self.converged_ = bool(best.converged)
        self.n_iter_ = int(best.n_iter)
        self.restarts_ = [
            {
                "elbo": float(run.elbo),
                "elbo_history": run.elbo_history,
                "converged": bool(run.converged),
                "n_iter": int(run.n_iter),
            }
            for run in result.runs
        ]
        self.best_restart_ = next(i for i, run in enumerate(result.runs) if run is best)
        self.n_missing_ = n_missing
        self.n_features_in_ = X.shape[1]
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                f"VB reached max_iter={self.max_iter} before the ELBO settled within "
                f"tol={self.tol:g}; raise max_iter or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each row, shape (n,)."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    # --- using the fit ----------------------------------------------------------------------

    def _check_fitted(self):
        if not hasattr(self, "posterior_"):
            raise NotFittedError(
                "this VBGaussianMixture is not fitted yet; call fit(X) before using it."
            )

    def _validate(self, X):
        self._check_fitted()
        return check_new_data(self, X)

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each component for each row under the predictive, shape (n, K)."""
        weighted, log_p = log_predictive(self._validate(X), self.posterior_)
        return np.exp(weighted - log_p[:, None])

    def predict(self, X) -> np.ndarray:
        """Most probable component of each row under the predictive, shape (n,)."""
        return np.argmax(log_predictive(self._validate(X), self.posterior_)[0], axis=1)

    def score_samples(self, X) -> np.ndarray:
        """Log predictive density of each row (a mixture of Student t), shape (n,)."""
        return log_predictive(self._validate(X), self.posterior_)[1]

    def score(self, X, y=None) -> float:
        """Mean log predictive density per row."""
        return float(self.score_samples(X).mean())

    def posterior_mode(self) -> MixtureParams:
        """The mixture at the mode of q(theta); see :func:`latentmix.vb.updates.posterior_mode`."""
        self._check_fitted()
        return posterior_mode(self.posterior_)

    def intervals(
        self, *, level: float = 0.95, n_draws: int = 4000, random_state=None, reference=None
    ):
        """Intervals of every natural-scale parameter from q, ``source`` ``"vb"``.

        Parameters
        ----------
        level : float
        n_draws : int
        random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        reference : MixtureParams, optional
            Put q's components in this mixture's order first (the MAP's, a truth's), by the
            package's one matching rule, so the entries line up with another source's.

        Returns
        -------
        latentmix.em.intervals.Intervals
            See :func:`latentmix.vb.intervals.vb_intervals`.
        """
        self._check_fitted()
        post = self.posterior_
        if reference is not None:
            post = align_posterior(post, reference)
        return vb_intervals(post, level=level, n_draws=n_draws, random_state=random_state)

    def sample_posterior(self, n_draws: int = 1000, random_state=None):
        """Draws of the weights, means and covariances from q as an ``arviz.InferenceData``.

        The posterior group has the variables and dims of ``PyMCGaussianMixture``'s
        (``weights`` (component,), ``means`` (component, feature), ``covariances`` in
        :func:`latentmix.bayes.spec.covariance_dims`), with one chain of ``n_draws`` draws
        and the components numbered as in this fit. ``posterior.attrs["source"]`` is
        ``"vb"``.

        Parameters
        ----------
        n_draws : int
        random_state : None, int, numpy.random.Generator or numpy.random.RandomState

        Returns
        -------
        arviz.InferenceData
        """
        import arviz as az

        self._check_fitted()
        if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 1:
            raise ValueError(f"n_draws must be a whole number >= 1; got {n_draws!r}.")
        weights, means, covariances = sample_posterior_arrays(
            self.posterior_, int(n_draws), random_state
        )
        K, d = self.means_.shape
        names = (
            [str(c) for c in self.feature_names_in_]
            if hasattr(self, "feature_names_in_")
            else [f"x{j + 1}" for j in range(d)]
        )
        cov_dims = list(covariance_dims(self.covariance_type))
        idata = az.from_dict(
            posterior={
                "weights": weights[None],
                "means": means[None],
                "covariances": covariances[None],
            },
            dims={"weights": [COMPONENT], "means": [COMPONENT, FEATURE], "covariances": cov_dims},
            coords={COMPONENT: np.arange(K), FEATURE: names, FEATURE_BIS: names},
        )
        idata.posterior.attrs["source"] = "vb"
        return idata


def _check_responsibilities(resp, n, K) -> np.ndarray:
    try:
        resp = np.asarray(resp, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            "init must be 'k-means++', 'random', a MixtureParams or an (n, K) array of "
            f"responsibilities; got {type(resp).__name__}."
        ) from None
    if resp.shape != (n, K):
        raise ValueError(
            f"init responsibilities must have shape (n_samples, n_components) = ({n}, {K}); "
            f"got {resp.shape}."
        )
    if not np.all(np.isfinite(resp)) or np.any(resp < 0):
        raise ValueError("init responsibilities must be finite and nonnegative.")
    worst = np.abs(resp.sum(axis=1) - 1).max()
    if worst > 1e-8:
        raise ValueError(
            f"init responsibilities must sum to 1 in every row; one row is off by {worst:.3g}. "
            "Divide each row by its sum."
        )
    return resp
