"""The comparison itself: check the inputs, put everything in the MAP's order, fill the parts.

:func:`compare` matches the MLE and the truth to the MAP's components
(:func:`latentmix.matching.match_components`, the sampler's own rule), computes the
pointwise log-likelihood of every draw once (:mod:`~latentmix.comparison.draws`) and hands it to
the tables, the predictive comparison and the membership comparison.
"""

from __future__ import annotations

import numpy as np

from latentmix.comparison.draws import attach_log_likelihood, draw_log_likelihood, posterior_draws
from latentmix.comparison.intervals import (
    agreement,
    approximate_intervals,
    derived_intervals,
    with_intervals,
)
from latentmix.comparison.membership import membership
from latentmix.comparison.order import check_order, component_order, reorder_posterior
from latentmix.comparison.predictive import (
    IN_MEMORY_BYTES,
    held_out_rows,
    loo_by_blocks,
    loo_in_memory,
    predictive,
    relative_efficiency,
)
from latentmix.comparison.results import Comparison
from latentmix.comparison.tables import parameter_tables
from latentmix.matching import match_components
from latentmix.params import MixtureParams, check_covariance_type, check_params


def compare(
    X,
    idata,
    map_estimate,
    *,
    mle=None,
    truth=None,
    feature_names=None,
    X_test=None,
    level: float = 0.95,
    n_disagree: int = 10,
    prior=None,
    laplace_draws: int = 4000,
    random_state=0,
    sample_weight=None,
    order: str = "map",
    posterior_rows=None,
) -> Comparison:
    """Compare the EM MLE and MAP with the posterior of the same mixture.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The data the estimates were fitted to.
    idata : arviz.InferenceData or PyMCGaussianMixture
        Posterior with variables ``weights`` (chain, draw, K), ``means`` (chain, draw, K, d)
        and ``covariances`` (chain, draw, *shape of the covariance type*), components already
        in the order of ``map_estimate``. A fitted estimator's ``idata_`` is used. A
        ``log_likelihood`` group is added in place (variable ``x``, dims chain, draw,
        ``observation``) if the idata has none.
    map_estimate : MixtureParams or fitted EMGaussianMixture
        The EM MAP (anything with a ``params_`` attribute gives its ``params_``).
    mle : MixtureParams or fitted EMGaussianMixture, optional
        The EM MLE; matched to the MAP's component order.
    truth : MixtureParams, optional
        Known generating parameters (synthetic data); matched to the MAP's order.
    feature_names : sequence of str, optional
        For labels; default ``x1, x2, ...``.
    X_test : ndarray of shape (m, d), optional
        Held-out data for the predictive comparison.
    level : float
        Probability of the equal-tailed posterior interval and of the Wald and Laplace
        intervals beside it.
    n_disagree : int
        How many points of largest membership disagreement to keep in ``membership.top``.
    prior : ConjugatePrior, optional
        The prior of the MAP, for its Laplace approximation; by default a fitted estimator's
        ``prior_``. Without a prior there are no Laplace intervals.
    laplace_draws : int
        Draws from the Laplace approximation (its intervals are quantiles of them).
    random_state : None, int or numpy.random.Generator
        Seed of the Laplace draws; fixed by default so that a comparison is reproducible.
    sample_weight : ndarray of shape (n,), optional
        Observation weights of the fits: the Wald and Laplace intervals then come from the
        weighted objective. PSIS-LOO and the predictive densities stay per row and
        unweighted: leaving one weighted row out is not leaving out every copy of a repeated
        row, so a weighted LOO would be a quantity of its own.
    order : {"map", "mean", "weight"}
        The order of the components (:mod:`latentmix.comparison.order`): as the MAP has them
        (default), by the MAP's first mean coordinate, or by its weights, largest first. Any
        other than ``"map"`` permutes the MAP and, in place, the posterior draws of
        ``idata``, so that figures and files made from it afterwards agree with the tables.
    posterior_rows : ndarray of int, shape (m,), optional
        The rows of ``X`` the posterior was sampled on, when not all (a subsample of large
        data; the estimates are still fitted to every row). The other rows are held out from
        the posterior: their term of its predictive comparison is their exact log predictive
        density (Pareto k 0: no importance sampling), the rows it saw keep PSIS-LOO, and
        ``idata`` gets no ``log_likelihood`` group.

    Returns
    -------
    Comparison

    Examples
    --------
    A posterior of two well-separated components, faked by jittering the truth:

    >>> import arviz as az
    >>> import numpy as np
    >>> from latentmix import MixtureParams, compare
    >>> from latentmix.params import sample_mixture
    >>> truth = MixtureParams(np.array([0.5, 0.5]), np.array([[-3.0], [3.0]]),
    ...                       np.array([[[1.0]], [[1.0]]]))
    >>> X, _ = sample_mixture(truth, 200, random_state=0)
    >>> rng = np.random.default_rng(1)
    >>> idata = az.from_dict(posterior={
    ...     "weights": rng.dirichlet([100, 100], size=(2, 100)),
    ...     "means": truth.means + 0.1 * rng.standard_normal((2, 100, 2, 1)),
    ...     "covariances": np.exp(0.1 * rng.standard_normal((2, 100, 2, 1, 1)))})
    >>> result = compare(X, idata, truth)
    >>> [e.label for e in result.tables["means"].entries]
    ['means[1, x1]', 'means[2, x1]']
    >>> result.tables["means"].n_outside
    {'mle': 0, 'map': 0}
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}.")
    idata = getattr(idata, "idata_", idata)
    if prior is None:
        prior = getattr(map_estimate, "prior_", None)
    map_params = _as_params(map_estimate, "map_estimate")
    permutation = component_order(map_params, check_order(order))
    map_params = map_params.permute(permutation)
    covariance_type = check_covariance_type(map_params.covariance_type)
    X = np.asarray(X, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    K, d = map_params.means.shape
    if X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} features but the MAP estimate has {d}.")
    names = (
        tuple(feature_names) if feature_names is not None else tuple(f"x{j + 1}" for j in range(d))
    )
    if len(names) != d:
        raise ValueError(f"feature_names has {len(names)} names for {d} features.")

    reorder_posterior(idata, permutation)  # nothing to do for the MAP's own order
    draws = posterior_draws(idata, covariance_type)
    if draws.means.shape[-2:] != (K, d):
        raise ValueError(
            f"the posterior has means of shape {draws.means.shape[-2:]} but the MAP estimate "
            f"has {(K, d)}; compare a posterior and estimates of the same model."
        )
    mle_params, mle_order = None, None
    if mle is not None:
        mle_params = _as_params(mle, "mle")
        mle_order = match_components(mle_params, map_params)
        mle_params = mle_params.permute(mle_order)
    if truth is not None:
        truth = _as_params(truth, "truth")
        truth = truth.permute(match_components(truth, map_params))

    n_draws = int(np.prod(draws.means.shape[:2]))
    if posterior_rows is not None:
        posterior_rows = np.asarray(posterior_rows)
        if (
            posterior_rows.ndim != 1
            or posterior_rows.dtype.kind not in "iu"
            or np.unique(posterior_rows).size != posterior_rows.size
            or not np.all((posterior_rows >= 0) & (posterior_rows < X.shape[0]))
        ):
            raise ValueError(
                "posterior_rows must be distinct whole-number row indices of X (0 to "
                f"{X.shape[0] - 1}); got {posterior_rows!r}."
            )
        reff = relative_efficiency(idata.posterior)
        loo, resp_mean, resp_sd = loo_by_blocks(X, draws, reff, membership=True)
        loo = held_out_rows(loo, posterior_rows)
    elif 8 * n_draws * X.shape[0] <= IN_MEMORY_BYTES:
        pointwise, resp_mean, resp_sd = draw_log_likelihood(X, draws, return_membership=True)
        attach_log_likelihood(idata, pointwise)
        loo = loo_in_memory(idata)
    else:  # too large to hold: by blocks of rows, and idata gets no log_likelihood group
        reff = relative_efficiency(idata.posterior)
        loo, resp_mean, resp_sd = loo_by_blocks(X, draws, reff, membership=True)

    wald, lap, notes = approximate_intervals(
        X, map_params, mle_params, prior, level, laplace_draws, random_state, sample_weight
    )
    tables, derived = parameter_tables(draws, map_params, mle_params, truth, names, level, prior)
    tables = {group: with_intervals(t, wald, lap) for group, t in tables.items()}
    wald_d, lap_d = derived_intervals(wald, lap, mle_params, map_params)
    derived = {group: with_intervals(t, wald_d, lap_d) for group, t in derived.items()}
    return Comparison(
        tables=tables,
        predictive=predictive(X, X_test, loo, draws, map_params, mle_params),
        membership=membership(X, map_params, mle_params, resp_mean, resp_sd, n_disagree),
        covariance_type=covariance_type,
        feature_names=names,
        map=map_params,
        mle=mle_params,
        truth=truth,
        level=level,
        mle_order=None if mle_order is None else tuple(int(i) for i in mle_order),
        wald=wald,
        laplace=lap,
        agreement=agreement(tables),
        warnings=tuple(notes),
        derived=derived,
        order=order,
    )


def _as_params(value, name) -> MixtureParams:
    """A checked MixtureParams from itself or from a fitted estimator's ``params_``.

    Duck-typed on ``params_`` so that this layer need not import the estimator.
    """
    return check_params(getattr(value, "params_", value), what=name)
