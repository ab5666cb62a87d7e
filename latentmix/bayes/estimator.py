"""PyMCGaussianMixture: the posterior of the mixture that EMGaussianMixture fits by MAP."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import _check_feature_names, _get_feature_names

from latentmix.bayes.diagnostics import check_run_size, diagnose
from latentmix.bayes.relabel import RELABELLINGS, relabel
from latentmix.bayes.sample import (
    SAMPLERS,
    as_initial_point,
    quiet_compile,
    sample_model,
    sampler_seed,
)
from latentmix.bayes.spec import (
    COMPONENT,
    FEATURE,
    OBSERVATION,
    covariance_dims,
    params_from_point,
    resolve_prior,
)
from latentmix.params import PARAMETER_NAMES, MixtureParams, check_covariance_type, check_params
from latentmix.threads import single_threaded_blas
from latentmix.validation import (
    check_data,
    check_missing,
    check_n_components,
    check_sample_weight,
)

__all__ = ["PyMCGaussianMixture"]

# L-BFGS-B run to the limit of double precision: the EM MAP must be reproduced to 1e-4.
_MAP_OPTIONS = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 20_000, "maxcor": 30}


class PyMCGaussianMixture(BaseEstimator):
    r"""The full posterior of a Gaussian mixture under the conjugate prior, by NUTS.

    A scikit-learn estimator as far as its settings go: ``__init__`` stores them, and it
    clones and takes ``get_params``/``set_params``. The sampler's settings (``draws``,
    ``tune``, ``chains``, ...) are arguments of :meth:`fit`, not parameters.

    The model and prior are exactly those of :class:`~latentmix.EMGaussianMixture` with a
    prior (see :mod:`latentmix.priors` and :mod:`latentmix.bayes.model`): the mode of this
    posterior density (over the covariances themselves, no Jacobian) is the EM MAP estimate.

    Parameters
    ----------
    n_components : int
        K.
    covariance_type : {"full", "tied", "diag", "spherical", "tied_diag", "tied_spherical"}
    prior : "default" or ConjugatePrior
        ``"default"`` is the prior ``EMGaussianMixture(prior="default")`` builds from the
        same data and weights (``ConjugatePrior.default(X, K, covariance_type)`` for
        complete unweighted data), built at fit time. ``None`` is refused: the mixture
        likelihood alone has no proper posterior.
    missing : {"error", "ignore"}
        ``"error"`` (the default): a NaN cell is refused, the message naming the first.
        ``"ignore"``: NaN cells are missing at random; each row contributes the marginal
        density of its observed coordinates, as in ``EMGaussianMixture(missing="ignore")``,
        and :meth:`predict_missing` draws the missing cells from the posterior predictive.
        A row with every cell missing is an error.
    cache : bool
        True (the default): nutpie reuses a sampler compiled for a model of the same
        structure (K, d, covariance type, weighted or not, missingness layout), in this
        process or an earlier one (the disk cache, :func:`latentmix.bayes.cache.cache_dir`),
        with this fit's data, weights and prior swapped in (:mod:`latentmix.bayes.cache`);
        ``idata_.posterior.attrs["compile_source"]`` says which: ``"compiled"``,
        ``"memory"`` or ``"disk"``. False compiles afresh and keeps nothing (``"off"``).

    Attributes
    ----------
    prior_ : ConjugatePrior
        The prior used.
    model_ : pymc.Model
        The model sampled.
    reference_ : MixtureParams
        The estimate the draws were relabelled against (the EM MAP unless given).
    idata_ : arviz.InferenceData
        Groups ``posterior`` (``weights`` (chain, draw, component), ``means`` (chain, draw,
        component, feature), ``covariances`` (chain, draw, *dims of the type*), relabelled),
        ``sample_stats`` (the sampler's, plus ``component_order``), ``observed_data`` (``x``
        (observation, feature)) and ``reference`` (``weights``, ``means``, ``covariances``
        of the reference without chain/draw; attrs ``source`` = ``"em_map"`` or ``"user"``
        and, for the EM MAP, ``objective``, ``log_likelihood``, ``log_prior``).
        ``posterior.attrs`` holds ``relabelling``, ``n_relabelled``, ``sampler``,
        ``n_starts`` and ``chain_start`` (per chain, the index in :meth:`fit`'s ``starts``
        of the point it started near; 0 is the reference when no starts were given) and the
        seconds each step took: ``compile_seconds``, ``sample_seconds``, ``relabel_seconds``.
    diagnostics_ : Diagnostics
        R-hat, ESS, divergences, E-BFMI and the relabelled-draw count of the run, with
        ``problems`` (empty when healthy); see :mod:`latentmix.bayes.diagnostics`.
        ``diagnostics_.to_dict()`` is the run's one diagnostics record.
    posterior_mean_ : MixtureParams
        Posterior means of the relabelled draws.
    n_features_in_ : int
    n_missing_ : int
        Missing (NaN) cells in the data of the fit (0 unless ``missing="ignore"``).
    feature_names_in_ : ndarray of shape (d,) of str
        The column names when ``X`` was a pandas DataFrame with string column names; they
        are the ``feature`` coordinates of the posterior (unless ``feature_names`` is
        given) and :meth:`predict_missing` checks that new data have the same columns.
        Absent otherwise.

    Examples
    --------
    Construction stores the arguments; ``fit(X, random_state=0)`` compiles the model and
    samples it (about a minute), after which ``diagnostics_.max_r_hat`` should be below 1.01.
    The model itself is cheap to build and look at:

    >>> from latentmix import PyMCGaussianMixture
    >>> from latentmix.datasets import load
    >>> X = load("faithful").data
    >>> gm = PyMCGaussianMixture(2)
    >>> gm
    PyMCGaussianMixture(n_components=2)
    >>> model = gm.build_model(X)
    >>> [rv.name for rv in model.free_RVs]
    ['weights', 'covariances', 'means']
    >>> model.coords["feature"]
    ('x1', 'x2')
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        prior="default",
        missing: str = "error",
        cache: bool = True,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.prior = prior
        self.missing = missing
        self.cache = cache

    def _check(self, X, sample_weight=None):
        K = check_n_components(self.n_components)
        covariance_type = check_covariance_type(self.covariance_type)
        X = check_data(X, n_components=K, missing=check_missing(self.missing))
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        prior = resolve_prior(X, K, covariance_type, self.prior, sample_weight)
        return X, K, covariance_type, prior, sample_weight

    def build_model(self, X, feature_names=None, *, sample_weight=None):
        """The PyMC model for data ``X`` (see :func:`latentmix.bayes.model.build_model`).

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, d), or (n,)
        feature_names : sequence of str, optional
            The ``feature`` coordinates; a DataFrame's column names if not given.
        sample_weight : array-like of shape (n,), optional
            Observation weights (see :meth:`fit`).

        Returns
        -------
        pymc.Model
        """
        from latentmix.bayes.model import build_model

        feature_names = _feature_names(X, feature_names)
        X, K, covariance_type, prior, sample_weight = self._check(X, sample_weight)
        return build_model(
            X,
            K,
            covariance_type,
            prior,
            feature_names=feature_names,
            sample_weight=sample_weight,
            missing=self.missing,
        )

    def find_map(
        self, X, start: MixtureParams | None = None, *, sample_weight=None
    ) -> MixtureParams:
        """The posterior mode by ``pymc.find_MAP`` (L-BFGS-B, no Jacobian).

        This is the EM MAP estimate reached by a different road: a check on both.

        Parameters
        ----------
        X : array-like of shape (n, d) or (n,)
        start : MixtureParams, optional
            Starting point (for example the EM MLE); the prior's mode of each variable if
            not given. The optimiser climbs to the nearest mode, so start in the basin you
            mean: the mixture posterior has K! relabelled copies of every mode and may have
            other local modes.
        sample_weight : array-like of shape (n,), optional
            Observation weights (see :meth:`fit`).

        Returns
        -------
        MixtureParams
        """
        import pymc as pm

        from latentmix.bayes.model import build_model

        X, K, covariance_type, prior, sample_weight = self._check(X, sample_weight)
        model = build_model(
            X, K, covariance_type, prior, sample_weight=sample_weight, missing=self.missing
        )
        overrides = None
        if start is not None:
            start = check_params(
                start,
                n_components=K,
                n_features=X.shape[1],
                covariance_type=covariance_type,
                what="start",
            )
            overrides = as_initial_point(start)
        with single_threaded_blas(), quiet_compile(), model:
            point = pm.find_MAP(
                start=overrides, progressbar=False, maxeval=50_000, options=_MAP_OPTIONS
            )
        return params_from_point(point, covariance_type)

    def fit(
        self,
        X,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        random_state=None,
        sampler: str = "nutpie",
        reference: MixtureParams | None = None,
        *,
        relabelling: str = "assignment",
        feature_names=None,
        sample_weight=None,
        monitor=None,
        starts=None,
    ):
        """Sample the posterior, relabel the draws to the reference, diagnose the run.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, d), or (n,)
            A DataFrame's string column names become ``feature_names_in_``.
        draws, tune, chains : int
            Draws kept per chain (>= 100), tuning steps per chain, chains (>= 2): fewer
            cannot be diagnosed.
        random_state : None, int or numpy.random.Generator
            Seeds the EM reference fit and the sampler. An int seeds both with itself; a
            Generator seeds the EM fit and then gives the sampler an int seed.
        sampler : {"nutpie", "pymc"}
            nutpie (numba backend) by default; "pymc" uses ``pymc.sample``.
        reference : MixtureParams, optional
            The component order to relabel into. The EM MAP under the same prior
            (``EMGaussianMixture(prior=self.prior_)``) if not given.
        relabelling : {"assignment", "stephens"}
            See :func:`latentmix.relabel`.
        feature_names : sequence of str, optional
            Coordinates of the ``feature`` dim; ``feature_names_in_`` (a DataFrame's
            columns) if not given, else ``x1``, ``x2``, ...
        sample_weight : array-like of shape (n,), optional
            Observation weights: each row's log-likelihood term is multiplied by its weight
            (the prior is not), so integer weights give the posterior of the data with rows
            repeated. Finite, nonnegative, not all zero. The EM reference is fitted with
            the same weights; they are kept in ``idata_.constant_data["sample_weight"]``.
        monitor : callable, optional
            ``monitor(done, total, seconds)``: called as nutpie samples (see
            :func:`latentmix.bayes.sample.sample_model`), for progress lines.
        starts : list of MixtureParams, optional
            Where the chains start, best first: chain c near ``starts[c % len(starts)]``
            (for example the distinct optima EM's restarts reached, as the report passes
            them). Each is first put in the reference's component order
            (:func:`latentmix.matching.align`, the same mixture), so that the relabelling
            has little to undo. The reference alone if not given. nutpie only: the
            ``"pymc"`` sampler starts every chain at the first.

        Returns
        -------
        self

        Warns
        -----
        SamplingWarning
            When the relabelled draws show divergences, R-hat > 1.01, low ESS or low
            E-BFMI; the same sentences are in ``diagnostics_.problems``.
        UserWarning
            When several ``starts`` were given but every chain started at the first (the
            ``"pymc"`` sampler, or per-chain seeds nutpie no longer derives as
            :func:`latentmix.bayes.cache.chain_seeds` does).

        Notes
        -----
        Every chain starts near its start (jittered by about one posterior sd, so that
        nutpie's first mass matrix, set from the gradient, is not set at a zero gradient).
        Mixture posteriors have K! relabelled copies of each mode and often minor modes. With
        one start (the default) every chain is in the best EM optimum, and R-hat tells whether
        chains mix within that mode, not that no other mode exists. With several starts,
        chains that stay in different optima give a large R-hat: the posterior has several
        modes that NUTS does not cross between, not a failure to converge within one. Which
        chain started where is reproducible: chain c's start and jitter follow from the
        sampler's seed (with ``random_state=None`` and several starts, one is drawn here).
        """
        _check_feature_names(self, X, reset=True)  # sets or clears feature_names_in_
        feature_names = _feature_names(X, feature_names)
        X, K, covariance_type, prior, sample_weight = self._check(X, sample_weight)
        check_run_size(chains, draws)
        if isinstance(tune, bool) or not isinstance(tune, int | np.integer) or tune < 0:
            raise ValueError(f"tune must be a whole number >= 0; got {tune!r}.")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}.")
        if relabelling not in RELABELLINGS:
            raise ValueError(
                f"relabelling must be one of {', '.join(RELABELLINGS)}; got {relabelling!r}."
            )
        from latentmix.bayes.model import build_model, model_data, model_structure

        d = X.shape[1]
        if reference is None:
            reference, ref_attrs = _em_map(
                X, K, covariance_type, prior, random_state, sample_weight, self.missing
            )
        else:
            reference = check_params(
                reference,
                n_components=K,
                n_features=d,
                covariance_type=covariance_type,
                what="reference",
            )
            ref_attrs = {"source": "user"}

        starts = _check_starts(starts, reference)
        # The int seed sample_model would draw from a Generator, drawn here (the same draw)
        # so that the chains' starts can be told apart by the seeds nutpie derives from it.
        seed = sampler_seed(random_state)
        initial_point = as_initial_point(starts[0])
        if len(starts) > 1:
            from latentmix.bayes.cache import Starts

            if seed is None:  # nutpie's own seed could not be told apart
                seed = int(np.random.default_rng().integers(0, 2**31 - 1))
            points = [as_initial_point(p) for p in starts]
            initial_point = Starts(points, seed=seed, chains=int(chains))

        model = build_model(
            X,
            K,
            covariance_type,
            prior,
            feature_names=feature_names,
            sample_weight=sample_weight,
            missing=self.missing,
        )
        idata = sample_model(
            model,
            draws=int(draws),
            tune=int(tune),
            chains=int(chains),
            random_state=seed,
            sampler=sampler,
            initial_point=initial_point,
            structure=model_structure(X, K, covariance_type, sample_weight),
            data=model_data(X, K, covariance_type, prior, sample_weight),
            cache=bool(self.cache),
            monitor=monitor,
        )
        start = time.perf_counter()
        idata = relabel(idata, reference, relabelling=relabelling, X=X)
        idata.posterior.attrs["relabel_seconds"] = time.perf_counter() - start
        idata.posterior.attrs["sampler"] = sampler
        idata.posterior.attrs["n_starts"] = len(starts)
        idata.posterior.attrs["chain_start"] = _chain_start(initial_point, int(chains))
        _add_groups(idata, model, X, reference, ref_attrs, sample_weight)

        self.prior_ = prior
        self.model_ = model
        self.reference_ = reference
        self.idata_ = idata
        self.n_features_in_ = d
        self.n_missing_ = int(np.isnan(X).sum())
        self.posterior_mean_ = params_from_point(
            {
                name: idata.posterior[name].mean(("chain", "draw")).values
                for name in PARAMETER_NAMES
            },
            covariance_type,
        )
        self.diagnostics_ = diagnose(idata, warn=True, stacklevel=3)
        return self

    def predict_missing(self, X=None, rows=None, *, random_state=None):
        """Posterior predictive draws of the missing cells of rows of ``X``.

        One draw of each row's missing cells per posterior draw, given its observed cells
        (see :mod:`latentmix.bayes.predictive`): the distribution of a missing value with
        the uncertainty about the parameters, beside the EM imputation
        (``EMGaussianMixture.impute(X, return_std=True)``, conditional mean and sd at the
        MAP).

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, d), optional
            NaN marks a missing cell; the data of the fit if not given. A DataFrame must
            have the columns of the fit, in its order.
        rows : sequence of int, optional
            Rows to draw for; every row with a missing cell if not given.
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        MissingDraws
            ``rows`` (r,), ``draws`` (S, r, d) completed rows (chains x draws flattened),
            ``missing`` (r, d) where the cells were drawn.
        """
        from sklearn.utils.validation import check_is_fitted

        from latentmix.bayes.predictive import predict_missing

        check_is_fitted(self, "idata_")
        if X is None:
            X = self.idata_.observed_data["x"].values
        else:
            _check_feature_names(self, X, reset=False)
            X = check_data(X, n_features=self.n_features_in_, missing="ignore")
        return predict_missing(self.idata_, X, rows, random_state=random_state)


def _check_starts(starts, reference: MixtureParams) -> list:
    """The chains' starts as MixtureParams in the reference's component order, best first."""
    from latentmix.matching import align

    if starts is None:
        return [reference]
    if isinstance(starts, MixtureParams) or not len(starts):
        raise ValueError("starts must be a non-empty list of MixtureParams.")
    K, d = reference.means.shape
    return [
        align(
            check_params(
                start,
                n_components=K,
                n_features=d,
                covariance_type=reference.covariance_type,
                what=f"starts[{i}]",
            ),
            reference,
        )
        for i, start in enumerate(starts)
    ]


def _chain_start(initial_point, chains: int) -> list[int]:
    """Per chain, the index of the start it began near (0 unless told otherwise)."""
    import warnings

    started = getattr(initial_point, "chain_start", {})
    n_points = len(getattr(initial_point, "points", [initial_point]))
    if n_points > 1 and not started:
        warnings.warn(
            f"every chain started near the first of the {n_points} starts: nutpie's per-chain "
            "seeds were not the ones latentmix.bayes.cache.chain_seeds derives (another nutpie "
            "version?); sampler='pymc' starts chain c at start c.",
            UserWarning,
            stacklevel=3,
        )
    return [int(started.get(c, 0)) for c in range(chains)]


def _feature_names(X, feature_names):
    """``feature_names`` if given, else a DataFrame's string column names, else None."""
    if feature_names is not None:
        return feature_names
    names = _get_feature_names(X)
    return None if names is None else [str(name) for name in names]


def _em_map(X, K, covariance_type, prior, random_state, sample_weight, missing):
    from latentmix.estimator import EMGaussianMixture

    em = EMGaussianMixture(
        K,
        covariance_type=covariance_type,
        prior=prior,
        random_state=random_state,
        missing=missing,
    ).fit(X, sample_weight=sample_weight)
    attrs = {
        "source": "em_map",
        "objective": float(em.objective_),
        "log_likelihood": float(em.log_likelihood_),
        "log_prior": float(em.log_prior_),
    }
    return em.params_, attrs


def _add_groups(
    idata, model, X, reference: MixtureParams, ref_attrs: dict, sample_weight=None
) -> None:
    import xarray as xr

    coords = {name: np.asarray(values) for name, values in model.coords.items()}
    observed = xr.Dataset(
        {"x": ((OBSERVATION, FEATURE), X)},
        coords={OBSERVATION: coords[OBSERVATION], FEATURE: coords[FEATURE]},
    )
    cov_dims = covariance_dims(reference.covariance_type)
    ref = xr.Dataset(
        {
            "weights": ((COMPONENT,), reference.weights),
            "means": ((COMPONENT, FEATURE), reference.means),
            "covariances": (cov_dims, reference.covariances),
        },
        coords={name: coords[name] for name in {COMPONENT, FEATURE, *cov_dims} if name in coords},
        attrs=ref_attrs,
    )
    # Ours, not the sampler's: it keeps NaN in missing cells (the model holds them as 0).
    if hasattr(idata, "observed_data"):
        idata.observed_data = observed
        idata.add_groups({"reference": ref})
    else:
        idata.add_groups({"reference": ref, "observed_data": observed})
    if sample_weight is not None:
        weights = xr.Dataset(
            {"sample_weight": ((OBSERVATION,), sample_weight)},
            coords={OBSERVATION: coords[OBSERVATION]},
        )
        if hasattr(idata, "constant_data"):
            idata.constant_data = idata.constant_data.assign(weights)
        else:
            idata.add_groups({"constant_data": weights})
