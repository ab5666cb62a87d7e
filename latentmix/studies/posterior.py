"""One compiled PyMC model per data shape: the posterior arm of the coverage and SBC studies.

Compiling the mixture model costs tens of seconds and sampling a replicate seconds, so a
study compiles the model once per (n, d, K, covariance type, prior) in each worker process
and swaps the data in for every replicate (:func:`sample_swappable`).
"""

from __future__ import annotations

import threading
import time

import numpy as np


def prior_key(prior) -> tuple:
    """A hashable fingerprint of a ConjugatePrior's values (for caching compiled models)."""
    return tuple(
        np.asarray(getattr(prior, name), dtype=float).tobytes() for name in prior.HYPERPARAMETERS
    )


def data_model(X0, n_components: int, covariance_type: str, prior):
    """The PyMC model of :func:`latentmix.bayes.model.build_model` with swappable data.

    The observed data become a ``pm.Data`` container named ``x_data``, so that one
    nutpie-compiled model serves every data set of the same shape
    (``compiled.with_data(x_data=X)``), or ``pm.set_data({"x_data": X})`` for PyMC.
    Compilation costs tens of seconds; sampling a replicate costs seconds.

    Parameters
    ----------
    X0 : ndarray of shape (n, d)
        Any data of the shape to be used.
    n_components : int
    covariance_type : str
    prior : ConjugatePrior
        Fixed: the hyperparameters are compiled in.

    Returns
    -------
    pymc.Model
    """
    from latentmix.bayes.model import build_model

    # build_model's observed data already are the x_data container (with the weights and
    # the prior's hyperparameters as containers too: latentmix.bayes.model.DATA_NAMES).
    return build_model(X0, n_components, covariance_type, prior)


_COMPILED: dict = {}
_COMPILE_LOCK = threading.Lock()


def sample_swappable(X, n_components: int, covariance_type: str, prior, config, random_state):
    """Sample the posterior of ``X`` with nutpie, compiling once per shape and prior.

    The compiled :func:`data_model` is kept per (n, d, K, type, prior) in this process, so a
    worker pays the compilation once for all its replicates of one shape.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int
    covariance_type : str
    prior : ConjugatePrior
    config : dict
        ``draws``, ``tune`` and ``chains``.
    random_state : int
        The sampler's seed.

    Returns
    -------
    trace : arviz.InferenceData
    compile_seconds : float
        Time the compilation took (paid once per key in the process).
    sample_seconds : float

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C during sampling (the partial trace is discarded).
    """
    import nutpie

    from latentmix.bayes.sample import no_blas_warning

    n, d = X.shape
    key = (n, d, n_components, covariance_type, prior_key(prior))
    with _COMPILE_LOCK:
        if key not in _COMPILED:
            # nutpie compiles with numba, which needs no BLAS: PyTensor's warning that it
            # found none would be printed once by every worker and say nothing of the study.
            with no_blas_warning():
                model = data_model(X, n_components, covariance_type, prior)
                start = time.perf_counter()
                compiled = nutpie.compile_pymc_model(model)
            _COMPILED[key] = (compiled, time.perf_counter() - start)
        compiled, compile_seconds = _COMPILED[key]
    start = time.perf_counter()
    sampler = nutpie.sample(
        compiled.with_data(x_data=X),
        draws=config["draws"],
        tune=config["tune"],
        chains=config["chains"],
        seed=random_state,
        progress_bar=False,
        cores=1,
        blocking=False,
    )
    try:
        # nutpie's blocking call turns Ctrl-C into a partial trace; a study's replicate must
        # be interrupted instead (and redone by the next run), so wait here and re-raise.
        trace = sampler.wait()
    except BaseException:
        sampler.cancel()
        raise
    return trace, compile_seconds, time.perf_counter() - start
