r"""PSIS-LOO of the posterior for each K of one structure, and the weights of ArviZ ``compare``.

For each K, :func:`posterior_loo` samples the posterior under the conjugate prior
(:class:`latentmix.PyMCGaussianMixture`, nutpie, every chain started at the EM MAP of the
grid), computes the pointwise log-likelihood of every draw (which does not depend on the
component labels) and ArviZ's PSIS-LOO: ``elpd_loo`` with its standard error, ``p_loo`` and
the Pareto k of every row. On data with missing cells the posterior and each row's
pointwise log-likelihood use the marginal density of its observed cells. Under observation
weights row i's pointwise term is :math:`w_i \log p(x_i \mid \theta)`, the term it puts in
the weighted likelihood, so PSIS-LOO leaves out one row with its weight; rows of weight 0 are
not in the likelihood and are not in the LOO either. The model is compiled once per K: the
number of components sets the shape of every parameter, so one compiled model cannot serve
two K.

:func:`compare_loo` rebuilds ArviZ's ``ELPDData`` from the stored pointwise values and runs
``arviz.compare`` twice, for the stacking weights (Yao et al. 2018) and the
Bayesian-bootstrap pseudo-BMA weights: the posterior weight each K gets.
"""

from __future__ import annotations

import warnings

import numpy as np

#: The fields of a stored LOO record that rebuild an ``arviz.ELPDData``.
ELPD_FIELDS = ("elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "scale")


def posterior_loo(
    X,
    K: int,
    covariance_type: str,
    prior,
    *,
    draws,
    tune,
    chains,
    random_state,
    reference=None,
    missing: str = "error",
    sample_weight=None,
) -> dict:
    """Sample the posterior of one K and compute its PSIS-LOO.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        NaN cells are missing when ``missing="ignore"``.
    K : int
    covariance_type : str
    prior : "default" or ConjugatePrior
    draws, tune, chains : int
    random_state : int
    reference : MixtureParams, optional
        Where every chain starts and the order draws are relabelled to (the EM MAP if not
        given, fitted here).
    missing : {"error", "ignore"}
        As :class:`latentmix.PyMCGaussianMixture`.
    sample_weight : ndarray of shape (n,), optional
        Observation weights of the posterior and of the pointwise terms (see the module).

    Returns
    -------
    dict
        ``elpd_loo``, ``se``, ``p_loo``, ``n_samples``, ``n_data_points``, ``warning``,
        ``scale``, ``loo_i`` (m,), ``pareto_k`` (m,) (m: the rows of positive weight, n
        without weights), ``n_bad_k`` (above
        :data:`latentmix.comparison.PARETO_K_MAX`), ``max_k``, ``good_k`` (ArviZ's
        sample-size dependent threshold), ``max_r_hat``, ``divergences``, ``warnings``
        (the sampler's own verdicts) and ``compile_seconds``, ``sample_seconds``.
    """
    import arviz as az

    from latentmix.bayes.diagnostics import SamplingWarning
    from latentmix.bayes.estimator import PyMCGaussianMixture
    from latentmix.comparison import PARETO_K_MAX, draw_log_likelihood, posterior_draws

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = PyMCGaussianMixture(
            K, covariance_type=covariance_type, prior=prior, missing=missing
        ).fit(
            X,
            draws=draws,
            tune=tune,
            chains=chains,
            random_state=random_state,
            reference=reference,
            sample_weight=sample_weight,
        )
    log_lik = draw_log_likelihood(X, posterior_draws(post.idata_, covariance_type))  # (C, S, n)
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=float)
        log_lik = log_lik[..., w > 0] * w[w > 0]
    idata = az.from_dict(posterior={"total": log_lik.sum(-1)}, log_likelihood={"x": log_lik})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # high Pareto k is reported, not warned
        loo = az.loo(idata, pointwise=True)
    pareto_k = np.asarray(loo.pareto_k, dtype=float)
    attrs = post.idata_.posterior.attrs
    return {
        "elpd_loo": float(loo.elpd_loo),
        "se": float(loo.se),
        "p_loo": float(loo.p_loo),
        "n_samples": int(loo.n_samples),
        "n_data_points": int(loo.n_data_points),
        "warning": bool(loo.warning),
        "scale": str(loo.scale),
        "good_k": float(loo.good_k),
        "loo_i": np.asarray(loo.loo_i, dtype=float).tolist(),
        "pareto_k": pareto_k.tolist(),
        "n_bad_k": int((pareto_k > PARETO_K_MAX).sum()),
        "max_k": float(pareto_k.max()),
        "max_r_hat": float(post.diagnostics_.max_r_hat),
        "divergences": int(post.diagnostics_.n_divergent),
        "warnings": sorted(
            {str(w.message) for w in caught if issubclass(w.category, SamplingWarning)}
        ),
        "compile_seconds": float(attrs.get("compile_seconds", float("nan"))),
        "sample_seconds": float(attrs.get("sample_seconds", float("nan"))),
    }


def elpd_data(record: dict):
    """The ``arviz.ELPDData`` of a stored :func:`posterior_loo` record."""
    import xarray as xr
    from arviz.stats.stats_utils import ELPDData

    n = len(record["loo_i"])
    dims = {"dims": ("x_dim_0",), "coords": {"x_dim_0": np.arange(n)}}
    values = {name: record[name] for name in ELPD_FIELDS}
    values["loo_i"] = xr.DataArray(np.asarray(record["loo_i"], dtype=float), **dims)
    values["pareto_k"] = xr.DataArray(np.asarray(record["pareto_k"], dtype=float), **dims)
    values["good_k"] = record["good_k"]
    index = ["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "loo_i"]
    index += ["pareto_k", "scale", "good_k"]
    return ELPDData(data=[values[i] for i in index], index=index)


def compare_loo(records: dict, random_state: int = 0) -> list[dict]:
    """ArviZ's ``compare`` of the K that have a LOO, with stacking and pseudo-BMA weights.

    Parameters
    ----------
    records : dict
        K -> :func:`posterior_loo` record (only the K whose posterior succeeded).
    random_state : int
        Seeds the Bayesian bootstrap of the pseudo-BMA weights.

    Returns
    -------
    list of dict
        One per K, best first: ``K``, ``rank`` (0 is best), ``elpd_loo``, ``p_loo``,
        ``elpd_diff`` (to the best, >= 0), ``se``, ``dse`` (SE of the difference),
        ``weight_stacking`` and ``weight_pseudo_bma``.
    """
    import arviz as az

    if not records:
        return []
    data = {str(K): elpd_data(r) for K, r in records.items()}
    if len(data) == 1:
        ((K, r),) = records.items()
        row = {"K": int(K), "rank": 0, "elpd_loo": r["elpd_loo"], "p_loo": r["p_loo"]}
        return [
            row
            | {
                "elpd_diff": 0.0,
                "se": r["se"],
                "dse": 0.0,
                "weight_stacking": 1.0,
                "weight_pseudo_bma": 1.0,
            }
        ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz warns about Pareto k; the page reports it
        stacking = az.compare(data, ic="loo", method="stacking")
        bma = az.compare(data, ic="loo", method="BB-pseudo-BMA", seed=random_state)
    rows = []
    for name, row in stacking.iterrows():
        rows.append(
            {
                "K": int(name),
                "rank": int(row["rank"]),
                "elpd_loo": float(row["elpd_loo"]),
                "p_loo": float(row["p_loo"]),
                "elpd_diff": float(row["elpd_diff"]),
                "se": float(row["se"]),
                "dse": float(row["dse"]),
                "weight_stacking": float(row["weight"]),
                "weight_pseudo_bma": float(bma.loc[name, "weight"]),
            }
        )
    return rows
