"""Running the samplers: nutpie (numba backend, the default) or PyMC's own NUTS.

Both start every chain near the reference estimate (normally the EM MAP), or chain c at
start c of several (:class:`latentmix.bayes.cache.Starts`), and return an
``arviz.InferenceData`` with ``posterior`` (``weights``, ``means``, ``covariances``) and
``sample_stats`` (at least ``diverging`` and ``energy``), and the time each step took in
``posterior.attrs``: ``compile_seconds`` and ``sample_seconds``.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings

import numpy as np

from latentmix.params import PARAMETER_NAMES
from latentmix.threads import single_threaded_blas

__all__ = [
    "SAMPLERS",
    "as_initial_point",
    "gradient_seconds",
    "pymc_initvals",
    "quiet_compile",
    "sample_model",
    "sampler_seed",
    "sampling_seconds",
]

SAMPLERS = ("nutpie", "pymc")
#: Seconds between two calls of a sampling monitor.
MONITOR_SECONDS = 15.0
#: Gradient evaluations per NUTS iteration that :func:`sampling_seconds` assumes: after
#: tuning, faithful's runs average 6 and 10,000 rows of three clusters 7; the first tuning
#: steps take longer trajectories.
GRADIENTS_PER_ITERATION = 8


@contextlib.contextmanager
def quiet_compile():
    """Silence what compiling the model says about PyTensor's backends, not about our code.

    - PyTensor's warning that its C backend links no BLAS. Graph rewrites read PyTensor's
      BLAS flags and warn once per process. nutpie compiles with numba, which does not use
      that backend, and ``find_map`` works on d x d matrices, where BLAS makes no difference:
      the warning would only alarm. ``sampler="pymc"``, which does suffer from it, is left to
      warn.
    - numba's ``NumbaPerformanceWarning`` that ``np.dot`` is faster on contiguous arrays:
      said of the code PyTensor generates for the graph's products of d x d blocks, when
      numba first compiles it (a cold cache), and nothing a user can change.
    """
    from numba.core.errors import NumbaPerformanceWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PyTensor could not link to a BLAS", UserWarning)
        warnings.filterwarnings(
            "ignore", r"np\.dot\(\) is faster on contiguous arrays", NumbaPerformanceWarning
        )
        yield


def sample_model(
    model,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_state=None,
    sampler: str = "nutpie",
    initial_point: dict | None = None,
    structure=None,
    data: dict | None = None,
    cache: bool = True,
    monitor=None,
    cores: int | None = None,
):
    """Sample ``model`` with NUTS.

    Parameters
    ----------
    model : pymc.Model
        From :func:`latentmix.bayes.model.build_model`.
    draws, tune, chains : int
        Draws kept per chain, tuning steps per chain, number of chains.
    random_state : None, int or numpy.random.Generator
        Seeds the sampler (which takes an int: a Generator gives one draw of it).
    sampler : {"nutpie", "pymc"}
        nutpie compiles the model with numba; "pymc" is ``pymc.sample`` on PyTensor's default
        (C) backend, which here links no BLAS and is far slower.
    initial_point : dict or Starts, optional
        Starting values of ``weights``, ``means``, ``covariances`` (untransformed) for every
        chain, or a :class:`latentmix.bayes.cache.Starts` of several (chain c at point c mod
        their number); the model's support point jittered per chain if not given.
    structure : ModelStructure, optional
        With ``data`` (:func:`latentmix.bayes.model.model_structure` and ``model_data``):
        nutpie reuses a sampler compiled for this structure in this process or loads it
        from the disk cache, with the data swapped in (:mod:`latentmix.bayes.cache`).
        Needs ``initial_point``.
    data : dict, optional
    cache : bool
        False compiles afresh and keeps nothing.
    monitor : callable, optional
        nutpie only: ``monitor(done, total, seconds)`` once when the sampler is ready
        (``done = 0``) and every :data:`MONITOR_SECONDS` while it samples, with the
        iterations (tuning and draws) finished over all chains, their total and the seconds
        since sampling began.
    cores : int, optional
        nutpie only: chains run at once (default: one per chain, up to the CPU count). A
        study's worker runs one replicate at a time and takes 1.

    Returns
    -------
    arviz.InferenceData
        ``posterior.attrs`` holds ``compile_seconds`` (0.0 for ``"pymc"``, which compiles
        as it starts sampling), ``sample_seconds`` and ``compile_source``: ``"compiled"``,
        ``"memory"`` (a sampler of the same structure reused from this process),
        ``"disk"`` (loaded from the disk cache) or ``"off"`` (cache turned off, or the
        pymc sampler).

    Raises
    ------
    KeyboardInterrupt
        Sampling was interrupted (Ctrl-C). nutpie and PyMC both catch the interrupt and
        return the draws made so far; a partial run is not a posterior, so it is discarded
        and the interrupt raised again, saying how far sampling got.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}.")
    seed = sampler_seed(random_state)
    with single_threaded_blas():
        if sampler == "nutpie":
            reuse = (structure, data, cache) if structure is not None and data else None
            return _sample_nutpie(
                model, draws, tune, chains, seed, initial_point, reuse, monitor, cores
            )
        return _sample_pymc(model, draws, tune, chains, seed, initial_point)


def _complete(idata, draws: int, chains: int):
    """``idata`` if it holds every draw of every chain; else the interrupt that cut it short."""
    posterior = getattr(idata, "posterior", None)
    sizes = {} if posterior is None else dict(posterior.sizes)
    got_draws, got_chains = int(sizes.get("draw", 0)), int(sizes.get("chain", 0))
    if got_draws < draws or got_chains < chains:
        raise KeyboardInterrupt(
            f"sampling stopped after {got_draws} of {draws} draws in {got_chains} of "
            f"{chains} chains; the partial draws were discarded"
        )
    return idata


def sampler_seed(random_state) -> int | None:
    """The int seed nutpie and PyMC take, from None, an int or a numpy Generator."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise ValueError(
            f"random_state must be None, an int or a numpy Generator; got {random_state!r}."
        )
    return int(random_state)


def _timed(idata, compile_seconds: float, sample_seconds: float, source: str = "off"):
    idata.posterior.attrs["compile_source"] = source
    idata.posterior.attrs["compile_seconds"] = float(compile_seconds)
    idata.posterior.attrs["sample_seconds"] = float(sample_seconds)
    return idata


def _sample_nutpie(
    model, draws, tune, chains, seed, initial_point, reuse=None, monitor=None, cores=None
):
    import nutpie

    kwargs = {}
    if initial_point is not None:
        kwargs = {"initial_points": dict(initial_point), "jitter_rvs": set()}

    def compile_model(m):
        with quiet_compile():
            return nutpie.compile_pymc_model(
                m, backend="numba", var_names=list(PARAMETER_NAMES), **kwargs
            )

    start = time.perf_counter()
    source = "off"
    if reuse is None:
        compiled = compile_model(model)
    else:
        from latentmix.bayes.cache import compiled_sampler

        structure, data, cache = reuse
        compiled, source = compiled_sampler(
            model,
            structure,
            data,
            initial_point,
            cache=cache,
            compile=compile_model,
            var_names=list(PARAMETER_NAMES),
        )
    compiled_at = time.perf_counter()
    total = chains * (tune + draws)
    if monitor is not None:
        monitor(0, total, 0.0)
    # Not blocking: nutpie's blocking call turns Ctrl-C into a partial trace (and one with
    # no draws when the interrupt comes during tuning), which is not a posterior. With a
    # monitor the tuning steps are kept too, so that its counts include them (dropped below).
    run = nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores or min(chains, os.cpu_count() or 1),
        seed=seed,
        save_warmup=monitor is not None,
        progress_bar=False,
        blocking=False,
    )
    try:
        idata = _wait(run, monitor, total, compiled_at)
    except KeyboardInterrupt:
        run.cancel()
        raise KeyboardInterrupt("sampling was interrupted; its draws were discarded") from None
    except BaseException:
        run.cancel()
        raise
    if monitor is not None:
        import arviz as az

        idata = az.InferenceData(
            **{g: idata[g] for g in idata.groups() if not g.startswith("warmup_")}
        )
    idata = _complete(idata, draws, chains)
    # A reused sampler carries the coordinates it was compiled with.
    if source in ("memory", "disk"):
        idata.posterior = idata.posterior.assign_coords(
            {dim: list(model.coords[dim]) for dim in idata.posterior.dims if dim in model.coords}
        )
    return _timed(idata, compiled_at - start, time.perf_counter() - compiled_at, source)


def _wait(run, monitor, total: int, start: float):
    """The finished trace of a running nutpie sampler, calling ``monitor`` as it goes."""
    if monitor is None:
        return run.wait()
    while True:
        try:
            return run.wait(timeout=MONITOR_SECONDS)
        except TimeoutError:  # still running: count the iterations stored so far
            with warnings.catch_warnings():  # ArviZ: "more chains than draws" early on
                warnings.simplefilter("ignore", UserWarning)
                trace = run.inspect()
            monitor(iterations_done(trace), total, time.perf_counter() - start)


def iterations_done(trace) -> int:
    """Iterations (tuning steps and draws) stored in a partial nutpie trace, over all chains.

    A chain's arrays are padded to the longest chain; ``energy`` is NaN in the padding.
    """
    done = 0
    for group in ("warmup_sample_stats", "sample_stats"):
        if group in trace.groups() and trace[group].sizes.get("draw", 0):
            done += int(trace[group]["energy"].notnull().sum())
    return done


def _sample_pymc(model, draws, tune, chains, seed, initial_point):
    import pymc as pm

    start = time.perf_counter()
    with model:
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=min(chains, os.cpu_count() or 1),
            random_seed=seed,
            initvals=pymc_initvals(initial_point, chains),
            init="adapt_diag" if initial_point is not None else "jitter+adapt_diag",
            var_names=list(PARAMETER_NAMES),
            progressbar=False,
            compute_convergence_checks=False,
        )
    # PyMC, too, stops at Ctrl-C and returns what it has.
    return _timed(_complete(idata, draws, chains), 0.0, time.perf_counter() - start)


def pymc_initvals(initial_point, chains: int):
    """``pymc.sample``'s ``initvals``: one point for all chains, or one per chain.

    A :class:`latentmix.bayes.cache.Starts` of several points starts chain c at point
    c mod their number (PyMC takes a list of points, one per chain, and does not jitter
    them with ``init="adapt_diag"``) and records it in ``chain_start``.
    """
    if initial_point is None:
        return None
    points = getattr(initial_point, "points", None)
    if points is None or len(points) == 1:
        return dict(initial_point)
    initial_point.chain_start = {c: c % len(points) for c in range(chains)}
    return [dict(points[c % len(points)]) for c in range(chains)]


def as_initial_point(params) -> dict:
    """``weights``, ``means``, ``covariances`` of a MixtureParams as a point (untransformed)."""
    return {
        name: np.asarray(value, dtype=float)
        for name, value in zip(PARAMETER_NAMES, params[:3], strict=True)
    }


def gradient_seconds(X, params, repeat: int = 3) -> float:
    """Seconds of one evaluation of the log-likelihood and its gradient at ``params``.

    Timed on the likelihood Op's kernel (:func:`latentmix.bayes.likelihood.mixture_score`),
    which is nearly all of a gradient of the model (``benchmarks/bench_gradient.py``);
    missing cells are filled with their column's mean, which costs the same.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
    repeat : int
        The best of this many evaluations (after one that compiles the kernel).
    """
    from latentmix.bayes.likelihood import mixture_score

    X = np.asarray(X, dtype=float)
    if np.isnan(X).any():
        X = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    X = np.ascontiguousarray(X)
    args = (params.weights, params.means, params.full_covariances(), np.ones(X.shape[0]))
    mixture_score(X[:2], *args[:3], args[3][:2])  # compiles (or loads) the kernel
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        mixture_score(X, *args)
        best = min(best, time.perf_counter() - start)
    return float(best)


def sampling_seconds(gradient: float, draws: int, tune: int, chains: int, cores=None) -> float:
    """About how long nutpie samples, in seconds.

    Chains run in rounds of ``cores``; each iteration costs :data:`GRADIENTS_PER_ITERATION`
    gradients of ``gradient`` seconds.

    >>> round(sampling_seconds(0.01, 1000, 1000, 4, cores=2))
    320
    """
    cores = min(chains, cores or os.cpu_count() or 1)
    rounds = -(-chains // cores)
    return rounds * (tune + draws) * GRADIENTS_PER_ITERATION * gradient
