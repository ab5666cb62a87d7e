"""The posterior arm of the coverage and SBC studies: one compiled sampler for the whole study.

Compiling the mixture model costs tens of seconds and sampling a replicate seconds. Every
replicate's model is built by :func:`latentmix.bayes.model.build_model` and sampled through
:func:`latentmix.bayes.sample.sample_model` with its structure and data, the road the report
takes: the sampler comes from latentmix's compiled-model cache
(:mod:`latentmix.bayes.cache`), so the first worker to need a structure compiles it, the
others wait on the entry's file lock and load it from disk, and every later replicate in a
process reuses it with its own data, prior and start swapped in.
"""

from __future__ import annotations

import warnings

import numpy as np


def em_start(X, n_components: int, covariance_type: str, prior, random_state: int):
    """Where a replicate's chains start: the EM MAP of its data, as in the report.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int
    covariance_type : str
    prior : ConjugatePrior
    random_state : int

    Returns
    -------
    MixtureParams
    """
    from latentmix.bayes.estimator import _em_map

    with warnings.catch_warnings():
        # A start need not be converged: the chains only begin there.
        warnings.simplefilter("ignore")
        return _em_map(X, n_components, covariance_type, prior, random_state, None, "error")[0]


def sample_swappable(
    X, n_components: int, covariance_type: str, prior, config, random_state, start=None
):
    """Sample the posterior of ``X`` with nutpie, on the cached sampler of its structure.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int
    covariance_type : str
    prior : ConjugatePrior
        Enters as data: replicates with different priors share the sampler.
    config : dict
        ``draws``, ``tune`` and ``chains``.
    random_state : int
        The sampler's seed (and the EM start's, when ``start`` is None).
    start : MixtureParams, optional
        Where the chains start (jittered per chain); the EM MAP of ``X`` if not given.

    Returns
    -------
    trace : arviz.InferenceData
        ``posterior.attrs["compile_source"]`` says where the sampler came from
        (:data:`latentmix.bayes.cache.SOURCES`).
    compile_seconds : float
        Time spent compiling or loading the sampler for this replicate (near zero when it
        was reused in the process).
    sample_seconds : float

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C during sampling (the partial trace is discarded).
    """
    from latentmix.bayes.model import build_model, model_data, model_structure
    from latentmix.bayes.sample import as_initial_point, quiet_compile, sample_model

    X = np.asarray(X, dtype=float)
    if start is None:
        start = em_start(X, n_components, covariance_type, prior, random_state)
    # nutpie compiles with numba, which needs no BLAS: PyTensor's warning that it found none
    # would be printed once by every worker and say nothing of the study.
    with quiet_compile():
        model = build_model(X, n_components, covariance_type, prior)
        trace = sample_model(
            model,
            draws=config["draws"],
            tune=config["tune"],
            chains=config["chains"],
            random_state=random_state,
            initial_point=as_initial_point(start),
            structure=model_structure(X, n_components, covariance_type),
            data=model_data(X, n_components, covariance_type, prior),
            cores=1,
        )
    attrs = trace.posterior.attrs
    return trace, float(attrs["compile_seconds"]), float(attrs["sample_seconds"])
