r"""The coordinate-ascent loop and the restarts around it; what ``VBGaussianMixture.fit`` runs.

One iteration (:func:`vb_step`) updates q(z) from the current q(theta) (the E-step of
:mod:`latentmix.vb.kernels`), then q(theta) from the statistics of the new q(z)
(:func:`latentmix.vb.updates.update_posterior`), and records the ELBO at that pair, where it
has the closed form of :mod:`latentmix.vb.updates` (the entropy of q(z) plus a ratio of
normalising constants). Each update maximises the ELBO over one factor with the others
fixed, so the recorded values never fall; a fall beyond round-off is a bug and raises a
RuntimeError. The order is scikit-learn's (``BayesianGaussianMixture``: E-step, M-step,
lower bound), so the histories can be compared entry by entry.

A run starts from responsibilities: those of a starting mixture (EM's starting points from
:mod:`latentmix.em.init`, one E-step of EM's kernel) or given ones; q(theta) is then the
update from their statistics (iteration 0). :func:`fit_vb` runs from many starts as
:func:`latentmix.em.fit.fit_em` does (the same candidate seeds, the same screening and
rounds) and keeps the highest ELBO.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.em import chunked
from latentmix.em.fit import candidate_seeds
from latentmix.em.init import START_TYPES, initial_params
from latentmix.em.kernels import BLOCK_ROWS
from latentmix.em.mstep import SufficientStats, sufficient_statistics
from latentmix.params import MixtureParams
from latentmix.priors import ConjugatePrior
from latentmix.vb import kernels, missing
from latentmix.vb.missing import IncompleteData, mixture_constants
from latentmix.vb.updates import (
    KERNEL_TYPES,
    VBPosterior,
    kernel_params,
    log_marginal,
    log_rho_constants,
    update_posterior,
)

#: A fall of the ELBO larger than this (relative) is a bug, not round-off.
MONOTONE_RTOL = 1e-10

#: Screening, as in :func:`latentmix.em.fit.fit_em`.
SCREEN_FACTOR = 5
SCREEN_ITER = 5


class VBOptions(NamedTuple):
    """Everything about a VB run that is not the data or the start.

    Attributes
    ----------
    prior : ConjugatePrior
        Any positive ``weight_concentration`` (VB needs no mode, so values below 1 are
        allowed: that is how a small concentration empties superfluous components).
    covariance_type : str
    tol : float
        Stop when an iteration changes the ELBO by less than ``tol * |ELBO|``; 0 runs all
        ``max_iter`` iterations.
    max_iter : int
    block_rows : int
        Rows per E-step block (:mod:`latentmix.em.kernels`).
    n_threads : int or None
        Threads over blocks (None: the usable cores).
    scheduler : None, str or dask.distributed.Client
        Where a dask array's chunks are processed (as ``EMOptions.scheduler``):
        :func:`fit_vb` resolves it with :func:`latentmix.em.chunked.dask_scheduler`;
        :func:`vb_init` and :func:`vb_step` take only a resolved value.
    """

    prior: ConjugatePrior
    covariance_type: str = "full"
    tol: float = 1e-10
    max_iter: int = 1000
    block_rows: int = BLOCK_ROWS
    n_threads: int | None = None
    scheduler: object = None


class VBState(NamedTuple):
    r"""Where the ascent stands.

    Attributes
    ----------
    posterior : VBPosterior
        q(theta), the update from ``stats``.
    stats : SufficientStats
        Statistics of q(z), centred at ``stats.center``.
    entropy : float
        :math:`-\sum_{ik} r_{ik}\log r_{ik}` of q(z).
    elbo : float
        The ELBO at (q(z), q(theta)), every constant kept.
    n_iter : int
    """

    posterior: VBPosterior
    stats: SufficientStats
    entropy: float
    elbo: float
    n_iter: int


class VBRun(NamedTuple):
    """One run from one start.

    Attributes
    ----------
    posterior : VBPosterior
    elbo : float
    elbo_history : ndarray of shape (n_iter + 1,)
        The ELBO at the start (index 0) and after each iteration; never decreasing.
    converged : bool
    n_iter : int
    state : VBState
        The last state.
    """

    posterior: VBPosterior
    elbo: float
    elbo_history: np.ndarray
    converged: bool
    n_iter: int
    state: VBState


def _state(stats, entropy, options: VBOptions, n_iter) -> VBState:
    post = update_posterior(stats, options.prior, options.covariance_type)
    elbo = entropy + log_marginal(post, options.prior, float(stats.nk.sum()))
    if not np.isfinite(elbo):
        raise RuntimeError(f"internal error: the ELBO is {elbo} at iteration {n_iter}.")
    return VBState(post, stats, float(entropy), float(elbo), n_iter)


def _kernel_start(start: MixtureParams) -> MixtureParams:
    """A start of a shared diagonal type in the kernel's (per-component) type."""
    covariance_type = start.covariance_type
    kernel_type = KERNEL_TYPES[covariance_type]
    if kernel_type == covariance_type:
        return start
    K, d = start.means.shape
    cov = np.asarray(start.covariances, dtype=float)
    cov = np.broadcast_to(cov, (K, d)) if kernel_type == "diag" else np.full(K, float(cov))
    return MixtureParams(start.weights, start.means, np.array(cov), kernel_type)


def vb_init(X, start, options: VBOptions, center=None, *, sample_weight=None) -> VBState:
    """The state at a start: q(z) from it, q(theta) from q(z).

    Parameters
    ----------
    X : ndarray, NumPy memmap, dask array or IncompleteData of shape (n, d)
        :class:`~latentmix.vb.missing.IncompleteData` for data with missing cells.
    start : MixtureParams or ndarray of shape (n, K)
        A mixture (q(z) is then its EM responsibilities) or responsibilities themselves
        (rows summing to one).
    options : VBOptions
    center : ndarray of shape (d,), optional
        Centring point of the statistics (default: the data mean).
    sample_weight : ndarray of shape (n,), optional
        Validated observation weights (:func:`latentmix.validation.check_sample_weight`):
        each row counts ``w_i`` times (integer weights give the fit of rows repeated).

    Returns
    -------
    VBState
        With ``n_iter = 0``.
    """
    if center is None:
        center = _center(X, options)
    kernel_type = KERNEL_TYPES[options.covariance_type]
    if isinstance(X, IncompleteData):
        if not isinstance(start, MixtureParams):
            raise ValueError(
                "starting responsibilities are not taken with missing cells (q(x_m | z) needs "
                "Gaussians); start from a mixture (a MixtureParams) or from k-means++."
            )
        k = _kernel_start(start)
        const = mixture_constants(k.weights, k.covariances, kernel_type, X.shape[1])
        stats, _, entropy = missing.e_step_stats(
            X, k.means, k.covariances, kernel_type, const, center, sample_weight
        )
    elif isinstance(start, MixtureParams):
        plan = kernels.plan_for(_kernel_start(start), center)
        stats, _, entropy = kernels.e_step_stats(
            X, plan, options.block_rows, options.n_threads, sample_weight, options.scheduler
        )
    else:
        if chunked.is_dask_array(X):
            raise ValueError(
                "starting responsibilities need the data in memory or in a NumPy memmap; for "
                "a dask array start from a mixture (a MixtureParams) or from k-means++."
            )
        stats, entropy = _resp_statistics(
            X, np.asarray(start, dtype=float), kernel_type, center, sample_weight
        )
    return _state(stats, entropy, options, 0)


def _center(X, options: VBOptions) -> np.ndarray:
    """The centring point of the statistics: the (observed) data mean."""
    if isinstance(X, IncompleteData):
        return np.nanmean(X.X, axis=0)
    return chunked.data_moments(X, options.block_rows, options.scheduler)[0]


def _resp_statistics(X, resp, kernel_type, center, sample_weight):
    """Statistics and entropy of given responsibilities (weighted rows if weights)."""
    X = np.asarray(X, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        row_entropy = -np.where(resp > 0, resp * np.log(resp), 0.0).sum(axis=1)
    if sample_weight is None:
        return sufficient_statistics(X, resp, kernel_type, center), float(row_entropy.sum())
    w = np.asarray(sample_weight, dtype=float)
    stats = sufficient_statistics(X, resp * w[:, None], kernel_type, center)
    if kernel_type == "tied":  # the total scatter, which the unweighted path takes as is
        Xc = X - stats.center
        scatter = (Xc * w[:, None]).T @ Xc
        stats = stats._replace(sum_xx=0.5 * (scatter + scatter.T))
    return stats, float(row_entropy @ w)


def vb_step(X, state: VBState, options: VBOptions, *, sample_weight=None) -> VBState:
    """One iteration: q(z) from ``state.posterior``, then q(theta) from q(z).

    Parameters
    ----------
    X : ndarray or NumPy memmap of shape (n, d)
    state : VBState
    options : VBOptions

    Returns
    -------
    VBState
        ``n_iter`` one higher.
    """
    post = state.posterior
    if isinstance(X, IncompleteData):
        k = kernel_params(post)
        stats, _, entropy = missing.e_step_stats(
            X,
            k.means,
            k.covariances,
            k.covariance_type,
            log_rho_constants(post),
            state.stats.center,
            sample_weight,
        )
        return _state(stats, entropy, options, state.n_iter + 1)
    plan = kernels.plan_for(kernel_params(post), state.stats.center, log_rho_constants(post))
    stats, _, entropy = kernels.e_step_stats(
        X, plan, options.block_rows, options.n_threads, sample_weight, options.scheduler
    )
    return _state(stats, entropy, options, state.n_iter + 1)


def run_vb(X, start, options: VBOptions, center=None, *, sample_weight=None) -> VBRun:
    """Coordinate ascent from one start to convergence or ``options.max_iter``.

    Raises
    ------
    RuntimeError
        If the ELBO falls by more than round-off (a bug).
    """
    state = vb_init(X, start, options, center, sample_weight=sample_weight)
    return continue_vb(X, state, options, [state.elbo], sample_weight=sample_weight)


def continue_vb(
    X, state: VBState, options: VBOptions, history: list, *, sample_weight=None
) -> VBRun:
    """:func:`run_vb` from a state (``options.max_iter`` more iterations at most)."""
    converged = False
    for _ in range(options.max_iter):
        new = vb_step(X, state, options, sample_weight=sample_weight)
        change = new.elbo - state.elbo
        if change < -MONOTONE_RTOL * max(abs(new.elbo), 1.0):
            raise RuntimeError(
                f"internal error: the ELBO fell by {-change:.3g} at iteration {new.n_iter} "
                f"(from {state.elbo:.10g} to {new.elbo:.10g})."
            )
        state = new
        history.append(state.elbo)
        if abs(change) < options.tol * abs(state.elbo):
            converged = True
            break
    return VBRun(state.posterior, state.elbo, np.array(history), converged, state.n_iter, state)


class VBFitResult(NamedTuple):
    """The best of several runs: ``best`` (highest ELBO) and every continued run."""

    best: VBRun
    runs: list


def _init_prior(prior: ConjugatePrior) -> ConjugatePrior:
    # Starting points use EM's MAP partition step, which needs a concentration >= 1; the
    # concentration only moves the starting weights, so use a flat one there.
    if np.all(prior.weight_concentration >= 1):
        return prior
    return ConjugatePrior(
        1.0, prior.mean, prior.mean_precision, prior.degrees_of_freedom, prior.scale
    )


def fit_vb(
    X,
    n_components: int,
    options: VBOptions,
    *,
    init="k-means++",
    n_init: int = 10,
    random_state=None,
    screen_factor: int = SCREEN_FACTOR,
    screen_iter: int = SCREEN_ITER,
    sample_weight=None,
) -> VBFitResult:
    """VB from many starts; the highest ELBO wins.

    The starts are EM's (:func:`latentmix.em.fit.fit_em`): ``screen_factor * n_init``
    candidates drawn from :func:`~latentmix.em.fit.candidate_seeds` (alternately partition
    and scales starts of :func:`~latentmix.em.init.initial_params`, from at most
    :data:`latentmix.em.chunked.INIT_SAMPLE_ROWS` rows), each run for ``screen_iter``
    iterations; round ``j`` then continues the candidate with the highest ELBO among the
    first ``screen_factor * j`` not yet continued. So for a seed, the runs of ``n_init=k``
    are among those of ``n_init=k + 1``, and more restarts never give a lower ELBO.

    Parameters
    ----------
    X : ndarray, NumPy memmap or dask array of shape (n, d)
    n_components : int
    options : VBOptions
        ``max_iter`` counts the screening iterations too; ``scheduler`` is resolved here.
    init : {"k-means++", "random"}, MixtureParams or ndarray of shape (n, K)
        How seed rows are drawn, or one start (a mixture or responsibilities; one run).
    n_init : int
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
    sample_weight : ndarray of shape (n,), optional
        Validated observation weights (the starts are drawn from unweighted rows).

    Returns
    -------
    VBFitResult
    """
    with chunked.dask_scheduler(options.scheduler) as where:
        return _fit_vb(
            X,
            n_components,
            options._replace(scheduler=where),
            init,
            n_init,
            random_state,
            screen_factor,
            screen_iter,
            sample_weight,
        )


def _fit_vb(
    X, n_components, options, init, n_init, random_state, screen_factor, screen_iter, sample_weight
):
    center = _center(X, options)
    if isinstance(init, MixtureParams) or not isinstance(init, str):
        run = run_vb(X, init, options, center, sample_weight=sample_weight)
        return VBFitResult(run, [run])
    rows_seed, candidate_rng = candidate_seeds(random_state)
    rows = missing.filled(X, center) if isinstance(X, IncompleteData) else X
    X_init = chunked.init_rows(rows, np.random.default_rng(rows_seed), scheduler=options.scheduler)
    factor = max(1, screen_factor)
    first = min(screen_iter, options.max_iter) if factor > 1 else 0
    screening = options._replace(max_iter=first, tol=0.0 if factor > 1 else options.tol)
    init_prior = _init_prior(options.prior)
    candidates = []
    for i in range(factor * n_init):
        start = initial_params(
            X_init,
            n_components,
            options.covariance_type,
            candidate_rng(i),
            init,
            init_prior,
            0.0,
            start=START_TYPES[i % len(START_TYPES)],
        )
        candidates.append(run_vb(X, start, screening, center, sample_weight=sample_weight))
    ranked = sorted(range(len(candidates)), key=lambda i: -candidates[i].elbo)
    tried: set = set()
    runs = []
    for j in range(1, n_init + 1):
        i = next(i for i in ranked if i < factor * j and i not in tried)
        tried.add(i)
        run = candidates[i]
        left = options.max_iter - run.n_iter
        if _settled(run, options.tol):
            run = run._replace(converged=True)
        elif left > 0:
            run = continue_vb(
                X,
                run.state,
                options._replace(max_iter=left),
                list(run.elbo_history),
                sample_weight=sample_weight,
            )
        runs.append(run)
    best = max(runs, key=lambda r: r.elbo)
    return VBFitResult(best, runs)


def _settled(run: VBRun, tol: float) -> bool:
    history = run.elbo_history
    return len(history) > 1 and abs(history[-1] - history[-2]) < tol * abs(history[-1])
