r"""Log predictive densities: plug-in MLE and MAP against the posterior predictive.

In sample, the plug-in log-likelihood for MLE and MAP and the log pointwise predictive
density (lppd) for the posterior; out of sample, -AIC/2 for MLE and MAP and PSIS-LOO for the
posterior; on held-out data, the same formulas as in sample.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import logsumexp

from latentmix.comparison.draws import draw_log_likelihood, observed_e_step
from latentmix.comparison.results import PredictiveComparison, PredictiveRow
from latentmix.params import n_parameters

#: Pareto k above which PSIS-LOO is unreliable at a point (Vehtari, Gelman & Gabry 2017);
#: the one threshold the comparison, the report and the studies use.
PARETO_K_MAX = 0.7


def lppd(pointwise) -> float:
    r"""Log pointwise predictive density :math:`\sum_i \log \overline{p(x_i \mid \theta_s)}`.

    Parameters
    ----------
    pointwise : ndarray of shape (C, S, n)
        Log-likelihood of every point under every draw.

    Returns
    -------
    float
    """
    flat = pointwise.reshape(-1, pointwise.shape[-1])
    return float((logsumexp(flat, axis=0) - np.log(flat.shape[0])).sum())


def predictive(X, X_test, idata, draws, pointwise, map_params, mle_params) -> PredictiveComparison:
    """The predictive comparison of MLE, MAP and posterior.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    X_test : ndarray of shape (m, d) or None
    idata : arviz.InferenceData
        With a ``log_likelihood`` group (for ArviZ's PSIS-LOO).
    draws : MixtureParams
        Posterior draws leading with (chain, draw).
    pointwise : ndarray of shape (C, S, n)
        Log-likelihood of the training points under every draw.
    map_params : MixtureParams
    mle_params : MixtureParams or None

    Returns
    -------
    PredictiveComparison
    """
    import arviz as az

    K, d = map_params.means.shape
    p = n_parameters(K, d, map_params.covariance_type)
    test_pointwise = None
    if X_test is not None:
        X_test = np.asarray(X_test, dtype=float)
        X_test = X_test[:, None] if X_test.ndim == 1 else X_test
        test_pointwise = draw_log_likelihood(X_test, draws)
    with warnings.catch_warnings():
        # ArviZ warns when Pareto k is high; the count is reported in the result instead.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        loo = az.loo(idata, pointwise=True)
    k_hat = np.asarray(loo.pareto_k)
    rows = []
    for name, params in (("MLE", mle_params), ("MAP", map_params)):
        if params is None:
            continue
        in_sample = float(observed_e_step(X, params)[1].sum())
        held = None if X_test is None else float(observed_e_step(X_test, params)[1].sum())
        rows.append(PredictiveRow(name, in_sample, in_sample - p, None, "-AIC/2", held))
    rows.append(
        PredictiveRow(
            "posterior",
            lppd(pointwise),
            float(loo.elpd_loo),
            float(loo.se),
            "PSIS-LOO",
            None if test_pointwise is None else lppd(test_pointwise),
        )
    )
    return PredictiveComparison(
        rows=tuple(rows),
        n_train=int(X.shape[0]),
        n_test=0 if X_test is None else int(X_test.shape[0]),
        n_parameters=p,
        p_loo=float(loo.p_loo),
        pareto_k_bad=int(np.sum(k_hat > PARETO_K_MAX)),
        pareto_k_max=float(np.max(k_hat)),
    )
