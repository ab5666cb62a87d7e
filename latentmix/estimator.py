"""``EMGaussianMixture``: a scikit-learn style estimator over the pure functions in ``em/``.

It validates its settings and the data, runs :func:`latentmix.em.fit.fit_em` with one
:class:`~latentmix.em.fit.EMOptions`, and keeps the result as fitted attributes; prediction
and scores use :mod:`latentmix.em.estep`, the uncertainty methods
:mod:`latentmix.em.information` and :mod:`latentmix.em.intervals`. Nothing in ``em/`` imports
this module.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import _check_feature_names

from latentmix.em import chunked, intervals, missing, spurious
from latentmix.em.estep import e_step
from latentmix.em.fit import ConvergenceWarning, EMOptions, fit_em
from latentmix.em.information import observed_information
from latentmix.em.init import INIT_METHODS
from latentmix.em.overflow import far_e_step
from latentmix.em.spurious import SpuriousSolutionWarning, spurious_components, warning_message
from latentmix.params import (
    MixtureParams,
    check_covariance_type,
    check_params,
    n_parameters,
    sample_mixture,
)
from latentmix.priors import ConjugatePrior
from latentmix.validation import (
    check_data,
    check_missing,
    check_n_components,
    check_random_state,
    check_sample_weight,
    check_scale,
)


class EMGaussianMixture(DensityMixin, BaseEstimator):
    r"""Gaussian mixture fitted by EM: maximum likelihood or maximum a posteriori.

    A scikit-learn estimator: it clones, takes ``get_params``/``set_params``, and works in a
    ``Pipeline``, ``GridSearchCV`` (scored by :meth:`score`, the mean log-likelihood, or by
    BIC through :func:`bic_scorer`) and ``cross_val_score``.

    Parameters
    ----------
    n_components : int
        Number of components K (>= 1).
    covariance_type : {"full", "tied", "diag", "spherical"}
        How the covariances are parameterised (scikit-learn's names and shapes).
    prior : None, "default" or ConjugatePrior
        None fits the MLE. ``"default"`` fits the MAP under
        ``ConjugatePrior.default(X, n_components, covariance_type)``, built at fit time; a
        :class:`~latentmix.ConjugatePrior` fits the MAP under that prior (its
        ``weight_concentration`` must be >= 1 for a mode to exist).
    n_init : int
        Number of EM runs taken to convergence; the best objective is kept. ``5 * n_init``
        candidate starts get 5 iterations each, and round j continues the best not yet
        continued among the first 5 j, setting aside any that collapse (short runs rank
        starts well; see :func:`latentmix.em.fit.fit_em`). With ``n_init=1`` the best of five
        screened starts that does not collapse is run to convergence; for a fixed seed, more
        restarts never give a lower objective. The default 10 finds the best known optimum
        on the classic data sets (galaxies K = 3..6, acidity K = 2, 3) for every seed tried.
    init : {"k-means++", "random"} or MixtureParams
        How seed rows are drawn (k-means++ or uniformly at random; the starts alternate
        between a partition around the seeds and components of random spread at the seeds,
        see :mod:`latentmix.em.init`), or one fixed starting point (one run, no screening):
        it must be a valid mixture (weights positive and summing to 1, covariances positive
        definite; :func:`latentmix.params.check_params`).
    tol : float
        Relative tolerance: a run stops when an iteration changes the objective by less
        than ``tol * |objective|``. The default 1e-10 makes the estimate precise to about
        1e-5 relative, enough to compare it with an optimiser's mode; 0 never stops early.
    max_iter : int
        Most EM iterations per run; a :class:`~latentmix.em.fit.ConvergenceWarning` is
        raised if the best run reaches it.
    reg_covar : float
        Added to the diagonal of every covariance after each M-step. Default 0 (the exact
        MLE / MAP); set it to scikit-learn's value to reproduce scikit-learn's fits.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seeds the starts (see :func:`latentmix.validation.check_random_state`).
    keep_trajectory : bool
        Keep, for the best run, the parameters and responsibilities at every iteration in
        ``trajectory_``.
    scheduler : None, str or dask.distributed.Client
        Where the work on a dask array runs: None uses dask's default (an active
        ``dask.distributed.Client`` if there is one, else threads); ``"threads"``,
        ``"synchronous"`` or ``"processes"`` pick that dask scheduler; ``"local"`` starts a
        ``LocalCluster`` for the fit; an address (``"tcp://host:8786"``) connects to that
        cluster; or pass a ``Client``. Not used for in-memory data or memmaps.
    missing : {"error", "ignore"}
        What a NaN cell means. ``"error"`` (default): data with NaN are refused, naming the
        first such cell. ``"ignore"``: NaN cells are missing at random and the fit
        maximises the observed-data likelihood, the marginal density of each row's observed
        cells (:mod:`latentmix.em.missing`); :meth:`score_samples`, :meth:`predict_proba`
        and :meth:`predict` then use the marginal densities too, and :meth:`impute` fills
        the cells in. A row with every cell missing is an error. In-memory data or memmaps
        only.

    Notes
    -----
    Data of any float or integer dtype are accepted and EM runs in float64, so every
    fitted attribute and output is float64 (float32 input too): the objective is checked
    never to fall between iterations, and in float32 round-off in the log-sum-exp over
    hundreds of rows is larger than the last iterations' gains, so that check, the
    convergence test at ``tol`` and the observed information would be decided by
    round-off. A sparse matrix is a ``TypeError`` (pass ``X.toarray()``); complex data are
    an error, not cast to their real part.

    ``fit`` also takes a dask array or a NumPy memmap (``np.load(path, mmap_mode="r")``):
    the data are then read block by block, never whole, and the result equals the fit of the
    same rows in memory to round-off (:mod:`latentmix.em.chunked`). Starting points are drawn
    from at most 100 000 sampled rows whatever holds the data.

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
    means_ : ndarray of shape (K, d)
    covariances_ : ndarray
        (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
    params_ : MixtureParams
        The three above with the covariance type.
    prior_ : ConjugatePrior or None
        The prior used (``"default"`` resolved), None for MLE.
    log_likelihood_ : float
        Total data log-likelihood at the estimate.
    log_prior_ : float or None
        Log prior density at the estimate (every normalising constant kept); None for the
        MLE, which has no prior.
    objective_ : float
        What EM maximised at the estimate: ``log_likelihood_`` (MLE) or
        ``log_likelihood_ + log_prior_`` (MAP).
    objective_history_ : ndarray of shape (n_iter_ + 1,)
        The objective of the best run at its start (index 0) and after every iteration;
        never decreasing.
    converged_ : bool
    n_iter_ : int
        EM iterations of the best run.
    restarts_ : list of dict
        One per continued candidate, in round order, including any that collapsed after
        screening (flagged ``degenerate``), so there can be more than ``n_init``:
        ``objective_history`` (ndarray, including the screening iterations), ``objective``
        (float, NaN if degenerate), ``converged``, ``n_iter``, ``degenerate`` (bool),
        ``message`` (why it was degenerate) and ``params`` (MixtureParams: where the run
        stopped; the report starts posterior chains at the distinct optima among them).
    spurious_components_ : ndarray of int
        Components (0-based) that look like a spurious local maximiser: few effective
        points and a generalised variance tiny against the data's
        (:func:`latentmix.em.spurious.spurious_components`); ``fit`` then warns
        :class:`~latentmix.em.spurious.SpuriousSolutionWarning`. Empty for a sound estimate.
    best_restart_ : int
        Index of the best run in ``restarts_``.
    trajectory_ : list of (MixtureParams, ndarray of shape (n, K)) or None
        With ``keep_trajectory=True``: parameters and responsibilities of the best run at
        its start and after every iteration.
    n_missing_ : int
        Missing (NaN) cells in the data of the fit (0 unless ``missing="ignore"``).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (d,) of str
        The column names when ``X`` was a pandas DataFrame with string column names (then
        prediction checks that the same columns come in the same order); absent otherwise.

    Examples
    --------
    >>> from latentmix import EMGaussianMixture
    >>> from latentmix.datasets import load
    >>> X = load("faithful").data
    >>> gm = EMGaussianMixture(2, random_state=0).fit(X)
    >>> gm.weights_.round(3)
    array([0.356, 0.644])
    >>> gm.means_.round(2)
    array([[ 2.04, 54.48],
           [ 4.29, 79.97]])
    >>> round(gm.log_likelihood_, 2), gm.converged_
    (-1130.26, True)
    """

    def __init__(
        self,
        n_components: int,
        *,
        covariance_type: str = "full",
        prior=None,
        n_init: int = 10,
        init="k-means++",
        tol: float = 1e-10,
        max_iter: int = 1000,
        reg_covar: float = 0.0,
        random_state=None,
        keep_trajectory: bool = False,
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
        self.reg_covar = reg_covar
        self.random_state = random_state
        self.keep_trajectory = keep_trajectory
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
        _check_feature_names(self, X, reset=True)  # sets or clears feature_names_in_
        if chunked.is_dask_array(X) and (how_missing == "ignore" or sample_weight is not None):
            raise ValueError(
                "missing='ignore' and sample_weight need the data in memory or in a NumPy "
                "memmap; compute the dask array first (X.compute())."
            )
        if chunked.is_blocked_data(X) and how_missing == "error":
            X = chunked.check_blocked_data(X, n_components=K)
            self._check_blocked_scale(X)
        else:
            X = check_data(X, n_components=K, missing=how_missing)
            check_scale(X, getattr(self, "feature_names_in_", None))
        weights = None if sample_weight is None else check_sample_weight(sample_weight, len(X))
        incomplete = how_missing == "ignore" and bool(np.isnan(X).any())
        d = X.shape[1]
        n_init = self.n_init
        if isinstance(n_init, bool) or not isinstance(n_init, int | np.integer) or n_init < 1:
            raise ValueError(f"n_init must be a whole number >= 1; got {n_init!r}.")
        max_iter = self.max_iter
        if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer):
            raise ValueError(f"max_iter must be a whole number >= 0; got {max_iter!r}.")
        if max_iter < 0:
            raise ValueError(f"max_iter must be a whole number >= 0; got {max_iter!r}.")
        for name in ("tol", "reg_covar"):
            value = getattr(self, name)
            if not isinstance(value, int | float | np.number) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0; got {value!r}.")
        init = self.init
        if isinstance(init, MixtureParams):
            init = check_params(
                init, n_components=K, n_features=d, covariance_type=covariance_type, what="init"
            )
        elif init not in INIT_METHODS:
            raise ValueError(
                f"init must be one of {', '.join(INIT_METHODS)} or a MixtureParams; got {init!r}."
            )
        prior = self.prior
        if X.shape[0] == 1 and not isinstance(prior, ConjugatePrior):
            # Said up front: otherwise every start "collapses", which hides the reason.
            raise ValueError(
                "X has 1 sample (n_samples = 1); the MLE and the default prior (scaled by the "
                "data's spread) need at least 2: add data or pass a ConjugatePrior of your own."
            )
        if isinstance(prior, str):
            if prior != "default":
                raise ValueError(
                    f"prior must be None (MLE), 'default' or a ConjugatePrior; got {prior!r}."
                )
            if incomplete or weights is not None:
                prior = missing.default_prior(X, K, covariance_type, weights)
            elif chunked.is_blocked_data(X):
                prior = chunked.default_prior(X, K, covariance_type, self.scheduler)
            else:
                prior = ConjugatePrior.default(X, K, covariance_type)
        elif prior is not None and not isinstance(prior, ConjugatePrior):
            raise ValueError(
                f"prior must be None (MLE), 'default' or a ConjugatePrior; got {prior!r}."
            )
        if prior is not None:
            prior.check(d, K, covariance_type)
        self.n_missing_ = int(np.isnan(X).sum()) if incomplete else 0
        return X, K, covariance_type, init, prior

    def _check_blocked_scale(self, X):
        # The extreme-scale check on the rows starts are drawn from (all rows when there are
        # few; a memmap reads only those): cheap where no cluster has to be reached first. A
        # dask array bound for a cluster ("local", an address, a Client) is not checked here.
        local = self.scheduler is None or self.scheduler in ("threads", "synchronous", "processes")
        if isinstance(X, np.memmap) or local:
            scheduler = None if isinstance(X, np.memmap) else self.scheduler
            sample = chunked.init_rows(X, np.random.default_rng(0), scheduler=scheduler)
            finite = sample[np.isfinite(sample).all(axis=1)]  # NaN rows: named by the fit
            if len(finite):
                check_scale(finite)

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture to ``X``.

        Parameters
        ----------
        X : array-like, pandas DataFrame, NumPy memmap or dask array of shape (n, d) or (n,)
            A 1-D array is one feature. A memmap or dask array is read block by block.
            Any float or integer dtype; computed in float64. NaN cells are refused unless
            ``missing="ignore"``.
        y : ignored
        sample_weight : array-like of shape (n,), optional
            Observation weights, >= 0, finite, not all zero: each row's log-likelihood term
            is multiplied by its weight (the prior is not), so integer weights give the fit
            of the data with rows repeated. ``prior="default"`` is then built from the
            weighted mean and covariance (:func:`latentmix.em.missing.default_prior`).
            Starting points are drawn from the rows whatever their weights.

        Returns
        -------
        self
        """
        X, K, covariance_type, init, prior = self._check_settings(X, sample_weight)
        data = X
        if self.n_missing_ or sample_weight is not None:
            # Grouped by missingness pattern once for every E-step of every restart.
            weights = None if sample_weight is None else check_sample_weight(sample_weight, len(X))
            data = missing.observed_data(X, weights)
        options = EMOptions(
            prior=prior,
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            reg_covar=float(self.reg_covar),
            scheduler=self.scheduler,
            keep_trajectory=self.keep_trajectory,
        )
        result = fit_em(
            data,
            K,
            covariance_type,
            options,
            init=init,
            n_init=int(self.n_init),
            random_state=check_random_state(self.random_state),
        )
        best = result.best
        self.params_ = best.params
        self.weights_, self.means_, self.covariances_ = best.params[:3]
        self.prior_ = prior
        self.log_likelihood_ = float(best.log_likelihood)
        self.log_prior_ = None if best.log_prior is None else float(best.log_prior)
        self.objective_ = float(best.objective)
        self.objective_history_ = best.objective_history
        self.converged_ = bool(best.converged)
        self.n_iter_ = int(best.n_iter)
        self.restarts_ = [
            {
                "objective_history": run.objective_history,
                "objective": float("nan") if run.degenerate else float(run.objective),
                "converged": bool(run.converged),
                "n_iter": int(run.n_iter),
                "degenerate": bool(run.degenerate),
                "message": run.message,
                "params": run.params,
            }
            for run in result.runs
        ]
        self.best_restart_ = next(i for i, run in enumerate(result.runs) if run is best)
        self.trajectory_ = best.trajectory
        self.n_features_in_ = X.shape[1]
        self._check_spurious(X, sample_weight)
        # max_iter=0 asks for the start itself: nothing to warn about (as scikit-learn).
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                f"EM reached max_iter={self.max_iter} before the objective settled within "
                f"tol={self.tol:g} (last change "
                f"{_last_change(self.objective_history_):.3g}); raise max_iter or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _check_spurious(self, X, sample_weight):
        # A spurious local maximiser is an estimate of a few points, not of a cluster: said,
        # never silent (latentmix.em.spurious has the rule and its source).
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, len(X))
        if chunked.is_blocked_data(X) and sample_weight is None:
            with chunked.dask_scheduler(self.scheduler) as where:
                _, feature_variance = chunked.data_moments(X, scheduler=where)
        else:
            feature_variance = spurious.data_variances(X, sample_weight)
        n = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        flagged = spurious_components(self.params_, feature_variance=feature_variance, n_samples=n)
        self.spurious_components_ = flagged
        if flagged.size:
            warnings.warn(
                warning_message(
                    self.params_, flagged, n, feature_variance, is_map=self.prior_ is not None
                ),
                SpuriousSolutionWarning,
                stacklevel=3,
            )

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each row, shape (n,)."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    # --- using the fit ----------------------------------------------------------------------

    def _check_fitted(self):
        # NotFittedError is a ValueError and an AttributeError: both kinds of caller hold.
        if not hasattr(self, "params_"):
            # scikit-learn's words (check_is_fitted), which its users and tests know.
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _validate(self, X):
        self._check_fitted()
        return check_new_data(self, X)

    def _e_step(self, X):
        """Log responsibilities and row log-likelihoods; marginal ones for rows with NaN.

        Complete rows so far from every component that their squared distances overflow
        (NaN from the ordinary E-step, or responsibilities that no longer sum to one) are
        done again by
        :func:`latentmix.em.overflow.far_e_step`: log-likelihood ``-inf``, responsibilities
        those of the limit, never NaN.
        """
        incomplete = np.isnan(X).any(axis=1)
        # Overflow in the ordinary E-step is expected for far rows, which are redone below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if incomplete.any():
                log_resp, sample_ll = missing.e_step(X, self.params_)
            else:
                log_resp, sample_ll = e_step(X, self.params_)
        with np.errstate(invalid="ignore"):
            total = np.exp(log_resp).sum(axis=1)  # NaN or far from 1: lost to overflow
        far = ~incomplete & ~(np.isfinite(sample_ll) & (np.abs(total - 1) < 1e-6))
        if far.any():
            log_resp, sample_ll = log_resp.copy(), sample_ll.copy()
            log_resp[far], sample_ll[far] = far_e_step(X[far], self.params_)
        return log_resp, sample_ll

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities: probability of each component for each row, shape (n, K).

        With ``missing="ignore"``, a row with missing cells gets the responsibilities of
        its observed cells (the marginal densities).
        """
        return np.exp(self._e_step(self._validate(X))[0])

    def predict(self, X) -> np.ndarray:
        """Most probable component of each row, shape (n,) (marginal for missing cells)."""
        return np.argmax(self._e_step(self._validate(X))[0], axis=1)

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood of each row under the fitted mixture, shape (n,).

        With ``missing="ignore"``, the log marginal density of each row's observed cells.
        """
        return self._e_step(self._validate(X))[1]

    def impute(self, X, return_std: bool = False):
        r"""Fill in missing cells with their conditional expectation under the fit.

        Parameters
        ----------
        X : array-like of shape (n, d)
            NaN marks a missing cell (``missing="ignore"`` must be set); every row needs an
            observed cell.
        return_std : bool
            Also return the conditional standard deviation of every cell.

        Returns
        -------
        X_imputed : ndarray of shape (n, d)
            Observed cells as given; each missing cell replaced by
            :math:`E[x_{ij} \mid x_{i,o}] = \sum_k r_{ik} \hat x_{ik,j}` (the mixture of the
            components' conditional means, weighted by the marginal responsibilities).
        std : ndarray of shape (n, d)
            With ``return_std``: the conditional sd of each missing cell, 0 for observed
            cells. It is the spread at the estimate, without parameter uncertainty.
        """
        if self.missing != "ignore":
            raise ValueError(
                "impute needs missing='ignore' (then NaN cells are missing values); set it "
                "with set_params(missing='ignore')."
            )
        return missing.impute(self._validate(X), self.params_, return_std=return_std)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per row (as scikit-learn's ``score``)."""
        return float(self.score_samples(X).mean())

    def sample(self, n_samples: int = 1, random_state=None):
        """Draw from the fitted mixture.

        Parameters
        ----------
        n_samples : int
        random_state : None, int, numpy Generator or RandomState
            None uses the estimator's ``random_state``, as scikit-learn does.

        Returns
        -------
        X : ndarray of shape (n_samples, d)
        labels : ndarray of shape (n_samples,)
        """
        self._check_fitted()
        whole = isinstance(n_samples, int | np.integer) and not isinstance(n_samples, bool)
        if not whole or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': n_samples must be a whole number >= 1; got "
                f"{n_samples!r}."
            )
        # As scikit-learn's GaussianMixture.sample: the estimator's own random_state unless
        # one is given (an unseeded draw made scikit-learn's own test_sample irreproducible).
        seed = self.random_state if random_state is None else random_state
        return sample_mixture(self.params_, int(n_samples), check_random_state(seed))

    def n_parameters(self) -> int:
        """Number of free parameters: K - 1 weights, K d means, and the covariances."""
        self._check_fitted()
        return n_parameters(self.n_components, self.n_features_in_, self.covariance_type)

    def bic(self, X) -> float:
        r"""Bayesian information criterion, :math:`-2 \log L + p \log n`; lower is better.

        scikit-learn's sign convention (mclust reports the negative). For a MAP fit the
        log-likelihood is evaluated at the MAP estimate.
        """
        X = self._validate(X)
        ll = self._e_step(X)[1].sum()
        return float(-2 * ll + self.n_parameters() * np.log(X.shape[0]))

    def aic(self, X) -> float:
        r"""Akaike information criterion, :math:`-2 \log L + 2p`; lower is better."""
        X = self._validate(X)
        ll = self._e_step(X)[1].sum()
        return float(-2 * ll + 2 * self.n_parameters())

    def icl(self, X) -> float:
        r"""Integrated completed likelihood criterion; lower is better, like :meth:`bic`.

        :math:`\text{ICL} = \text{BIC} + 2\,\text{EN}` with the classification entropy
        :math:`\text{EN} = -\sum_i \log t_{i \hat z_i} \ge 0`, where :math:`t_{ik}` are the
        responsibilities and :math:`\hat z_i` the most probable component (Biernacki,
        Celeux & Govaert 2000). It is minus mclust's ``icl``, which uses the same
        hard-assignment entropy with the opposite sign convention.
        """
        X = self._validate(X)
        log_resp, sample_ll = self._e_step(X)
        entropy = -log_resp.max(axis=1).sum()
        bic = -2 * sample_ll.sum() + self.n_parameters() * np.log(X.shape[0])
        return float(bic + 2 * entropy)

    # --- uncertainty (latentmix.em.information, latentmix.em.intervals) --------------------

    def observed_information(self, X, information: str = "exact") -> np.ndarray:
        """Observed information at the estimate in the unconstrained parameterisation.

        The curvature of the log-likelihood (MLE) or log-posterior (MAP); ``information`` is
        ``"exact"`` or ``"opg"``, see :func:`latentmix.em.information.observed_information`.
        Shape (p, p).
        """
        X = self._validate(X)
        return observed_information(X, self.params_, self.prior_, information)

    def standard_errors(
        self, X, *, level: float = 0.95, information: str = "exact", sample_weight=None
    ):
        """Standard errors and Wald intervals of every parameter (delta method).

        ``X`` (and ``sample_weight``) are the data the estimate was fitted on; with missing
        cells or weights the curvature is that of the observed-data objective. For a MAP
        fit the curvature is that of the log-posterior. Returns
        :class:`~latentmix.em.intervals.Intervals`; see
        :func:`latentmix.em.intervals.standard_errors`.
        """
        self._check_fitted()
        return intervals.standard_errors(
            self.params_,
            self._validate(X),
            prior=self.prior_,
            level=level,
            information=information,
            sample_weight=sample_weight,
        )

    def bootstrap(
        self,
        X,
        *,
        resample: str = "nonparametric",
        n_boot: int = 200,
        level: float = 0.95,
        random_state=None,
        sample_weight=None,
    ):
        """Bootstrap percentile intervals, each refit relabelled to this estimate.

        ``resample`` is ``"nonparametric"`` (resample rows), ``"parametric"`` (simulate
        from the fit) or ``"weighted"`` (random observation weights: the weighted-likelihood
        bootstrap, mclust's ``wlbs``). Each replicate is one EM run started at this
        estimate, under the same prior. Returns :class:`~latentmix.em.intervals.Intervals`;
        see :func:`latentmix.em.intervals.bootstrap`.
        """
        self._check_fitted()
        return intervals.bootstrap(
            self.params_,
            self._validate(X),
            prior=self.prior_,
            resample=resample,
            n_boot=n_boot,
            level=level,
            random_state=random_state,
            sample_weight=sample_weight,
        )

    def laplace(
        self,
        X,
        *,
        level: float = 0.95,
        n_draws: int = 4000,
        random_state=None,
        sample_weight=None,
    ):
        """Laplace approximation to the posterior around this MAP estimate (needs a prior).

        Returns :class:`~latentmix.em.intervals.Intervals` with the draws; see
        :func:`latentmix.em.intervals.laplace`.
        """
        self._check_fitted()
        return intervals.laplace(
            self.params_,
            self._validate(X),
            prior=self.prior_,
            level=level,
            n_draws=n_draws,
            random_state=random_state,
            sample_weight=sample_weight,
        )


def check_new_data(estimator, X) -> np.ndarray:
    """``X`` checked for a fitted estimator: the fit's feature names, columns and ``missing``.

    Parameters
    ----------
    estimator : fitted EMGaussianMixture or VBGaussianMixture
    X : array-like of shape (n, d)

    Returns
    -------
    ndarray of shape (n, d), float64
    """
    _check_feature_names(estimator, X, reset=False)
    one_d = np.ndim(X) == 1
    X = check_data(X, missing=check_missing(estimator.missing))
    if X.shape[1] != estimator.n_features_in_:
        # scikit-learn's wording, which its estimator checks and users know.
        hint = (
            " A 1-D array is one feature. Reshape your data with X.reshape(1, -1) if it "
            "is one sample."
            if one_d
            else ""
        )
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input; pass data with the same columns."
            + hint
        )
    return X


def bic_scorer(estimator, X, y=None) -> float:
    """Minus the BIC of a fitted estimator on ``X``: a scorer for scikit-learn's model selection.

    Scorers are maximised, the BIC minimised, hence the sign:
    ``GridSearchCV(EMGaussianMixture(2), {"n_components": [1, 2, 3]}, scoring=bic_scorer)``
    keeps the number of components with the lowest BIC on the held-out folds.

    Parameters
    ----------
    estimator : fitted EMGaussianMixture (or a Pipeline ending in one)
    X : array-like of shape (n, d)
    y : ignored

    Returns
    -------
    float
        ``-estimator.bic(X)``; greater is better.
    """
    if hasattr(estimator, "steps"):
        # A Pipeline: transform through every step but the last, then ask the mixture.
        X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return -estimator.bic(X)


def _last_change(history):
    return float(history[-1] - history[-2]) if len(history) > 1 else float("nan")
