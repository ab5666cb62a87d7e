"""One replicate of the coverage study: one simulated data set, every interval source.

Each source is run on its own: a failure (a degenerate MLE, an information matrix that is not
positive definite, a sampler error) is recorded with its error under that source and does not
stop the others. Every estimate and every posterior draw is put in the truth's component
order by :mod:`latentmix.matching` (the rule the sampler's own relabelling uses) before it is
compared with the truth.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from latentmix.em.intervals import bootstrap, laplace, standard_errors
from latentmix.em.parameterisation import natural_vector, parameter_names
from latentmix.matching import align, match_draws
from latentmix.params import PARAMETER_NAMES, MixtureParams, sample_mixture
from latentmix.studies.coverage.truth import population_prior, truth_from_dict
from latentmix.studies.posterior import sample_swappable
from latentmix.studies.runner import replicate_rng

#: Where an interval comes from (the glossary's ``source``), in the order of the pages.
SOURCES = (
    "wald",
    "bootstrap_nonparametric",
    "bootstrap_parametric",
    "bootstrap_weighted",
    "laplace",
    "vb",
    "posterior",
)
#: The text a page shows for each source.
SOURCE_LABELS = {
    "wald": "MLE, Wald",
    "bootstrap_nonparametric": "MLE, bootstrap (nonparametric)",
    "bootstrap_parametric": "MLE, bootstrap (parametric)",
    "bootstrap_weighted": "MLE, bootstrap (weighted likelihood)",
    "laplace": "MAP, Laplace",
    "vb": "variational Bayes (mean field)",
    "posterior": "posterior (NUTS)",
}
#: How a replicate put its components in the truth's order (recorded in every replicate): the
#: current rule, and the rule of replicates computed by an earlier release.
MATCHING = "kl_assignment"
MATCHING_RULES = {
    "kl_assignment": "KL-divergence assignment (latentmix.matching, the sampler's own rule)",
    "mahalanobis_log_weight": "an earlier rule: squared Mahalanobis distance of the means "
    "under the truth's covariance plus the squared difference of log-weights",
}
#: The bootstrap source of each resampling scheme.
BOOTSTRAP_SOURCES = {
    "nonparametric": "bootstrap_nonparametric",
    "parametric": "bootstrap_parametric",
    "weighted": "bootstrap_weighted",
}


def _record(names, estimate, lower, upper, true_vec) -> dict:
    """Per parameter: estimate, interval, whether it covers the truth, width and error.

    Parameters
    ----------
    names : list of str
        Parameter names (0-based, see :func:`latentmix.em.parameterisation.parameter_names`).
    estimate, lower, upper, true_vec : ndarray of shape (P,)
    """
    out = {}
    for j, name in enumerate(names):
        lo, hi, t = lower[j], upper[j], true_vec[j]
        out[name] = {
            "estimate": float(estimate[j]),
            "lower": float(lo),
            "upper": float(hi),
            "covered": bool(lo <= t <= hi),
            "width": float(hi - lo),
            "error": float(estimate[j] - t),
        }
    return out


def _from_intervals(intervals, true_vec) -> dict:
    return _record(intervals.names, intervals.estimate, intervals.lower, intervals.upper, true_vec)


def _run_source(fn) -> dict:
    """Run one source; its failure is recorded and does not stop the others."""
    start = time.perf_counter()
    try:
        parameters, extra = fn()
        out = {"status": "ok", "parameters": parameters, **extra}
    except Exception as err:  # recorded and counted in the summary
        out = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    out["seconds"] = time.perf_counter() - start
    return out


def _fit_em(X, truth: MixtureParams, prior, random_state: int) -> MixtureParams:
    """The MLE (``prior=None``) or MAP, in the truth's component order."""
    from latentmix.estimator import EMGaussianMixture

    est = EMGaussianMixture(
        truth.n_components,
        covariance_type=truth.covariance_type,
        prior=prior,
        random_state=random_state,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a non-converged or degenerate fit is a failure here
        est.fit(X)
    return align(est.params_, truth)


def _fit_vb(X, truth: MixtureParams, prior, random_state: int):
    """Mean-field VB under the study's prior (a non-converged fit is a failure here)."""
    from latentmix.vb import VBGaussianMixture

    vb = VBGaussianMixture(
        truth.n_components,
        covariance_type=truth.covariance_type,
        prior=prior,
        random_state=random_state,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vb.fit(X)
    return vb


def coverage_replicate(config: dict, n: int, index: int) -> dict:
    """The study task: one simulated data set, every source.

    Returns
    -------
    dict
        ``{"status": "ok", "matching": MATCHING, "sources": {source: record}}``; a record
        holds ``status``, ``seconds`` and either ``error`` or ``parameters`` (see
        :func:`_record`) and the source's own counts.
    """
    truth = truth_from_dict(config["truth"])
    prior = population_prior(truth)
    true_vec = natural_vector(truth)
    level = config["level"]
    rng = replicate_rng(config["seed"], n, index)
    X, _ = sample_mixture(truth, n, rng)
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=6)]
    # Drawn after the first six, so the sources that existed before keep their seeds.
    seeds += [int(s) for s in rng.integers(0, 2**31 - 1, size=3)]
    sources = {}
    mle = {}

    def wald():
        mle["params"] = _fit_em(X, truth, None, seeds[0])
        return _from_intervals(standard_errors(mle["params"], X, level=level), true_vec), {}

    sources["wald"] = _run_source(wald)
    for resample, seed in (
        ("nonparametric", seeds[1]),
        ("parametric", seeds[2]),
        ("weighted", seeds[6]),
    ):
        source = BOOTSTRAP_SOURCES[resample]
        if resample not in config["bootstrap"]:
            continue
        if "params" not in mle:
            sources[source] = {"status": "failed", "error": "the MLE fit failed", "seconds": 0.0}
            continue

        def boot(resample=resample, seed=seed):
            res = bootstrap(
                mle["params"],
                X,
                resample=resample,
                n_boot=config["n_boot"],
                level=level,
                random_state=seed,
            )
            return _from_intervals(res, true_vec), {"n_failed_refits": res.n_failed}

        sources[source] = _run_source(boot)

    def lap():
        map_params = _fit_em(X, truth, prior, seeds[3])
        res = laplace(map_params, X, prior=prior, level=level, random_state=seeds[4])
        return _from_intervals(res, true_vec), {}

    sources["laplace"] = _run_source(lap)

    def vb():
        fitted = _fit_vb(X, truth, prior, seeds[7])
        res = fitted.intervals(level=level, reference=truth, random_state=seeds[8])
        return _from_intervals(res, true_vec), {
            "n_iter": int(fitted.n_iter_),
            "elbo": float(fitted.elbo_),
        }

    if config.get("vb", False):
        sources["vb"] = _run_source(vb)
    if config.get("draws", 0) > 0 and index < config.get("posterior_replications", 10**9):
        sources["posterior"] = _run_source(
            lambda: _posterior(X, truth, prior, config, seeds[5], true_vec)
        )
    return {"status": "ok", "matching": MATCHING, "sources": sources}


def _posterior(X, truth: MixtureParams, prior, config: dict, random_state: int, true_vec):
    """Sample the posterior, relabel every draw to the truth, equal-tailed intervals."""
    import arviz as az

    trace, compile_seconds, sample_seconds = sample_swappable(
        X, truth.n_components, truth.covariance_type, prior, config, random_state
    )
    post = trace.posterior
    C, S = post.sizes["chain"], post.sizes["draw"]
    stacks = [
        np.asarray(post[name].transpose("chain", "draw", ...).values, float)
        for name in PARAMETER_NAMES
    ]
    draws = MixtureParams(*(a.reshape(C * S, *a.shape[2:]) for a in stacks), truth.covariance_type)
    orders = match_draws(draws, truth)  # (C*S, K)
    n_relabelled = int(np.any(orders != np.arange(truth.n_components), axis=1).sum())
    vectors = np.array(
        [
            natural_vector(MixtureParams(w, m, c, truth.covariance_type).permute(order))
            for w, m, c, order in zip(*draws[:3], orders, strict=True)
        ]
    )  # (C*S, P)
    tail = (1 - config["level"]) / 2
    lower, upper = np.quantile(vectors, [tail, 1 - tail], axis=0)
    names = parameter_names(truth.n_components, truth.n_features, truth.covariance_type)
    r_hat = az.rhat(az.convert_to_dataset({"theta": vectors.reshape(C, S, -1)}))["theta"].values
    return _record(names, vectors.mean(0), lower, upper, true_vec), {
        "max_r_hat": float(np.nanmax(r_hat)),
        "divergences": int(np.asarray(trace.sample_stats["diverging"]).sum()),
        "n_relabelled": n_relabelled,
        "compile_seconds": compile_seconds,
        "compile_source": post.attrs["compile_source"],
        "sample_seconds": sample_seconds,
    }
