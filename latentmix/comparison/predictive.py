r"""Log predictive densities: plug-in MLE and MAP against the posterior predictive.

In sample, the plug-in log-likelihood for MLE and MAP and the log pointwise predictive
density (lppd) for the posterior; out of sample, -AIC/2 for MLE and MAP and PSIS-LOO for the
posterior; on held-out data, the same formulas as in sample.

Every total is a sum of per-point terms, so two estimates are compared point by point, as
``arviz.compare`` does: the standard error of a difference comes from the spread of the
pointwise differences (:func:`paired_se`), which is far smaller than the standard error of
either total when the two estimates score the same points alike.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import logsumexp

from latentmix.comparison.draws import draw_log_likelihood, observed_e_step
from latentmix.comparison.results import PairedDifference, PredictiveComparison, PredictiveRow
from latentmix.params import n_parameters

#: Pareto k above which PSIS-LOO is unreliable at a point (Vehtari, Gelman & Gabry 2017);
#: the one threshold the comparison, the report and the studies use.
PARETO_K_MAX = 0.7


def pointwise_lppd(pointwise) -> np.ndarray:
    r"""Log predictive density of every point, :math:`\log \overline{p(x_i \mid \theta_s)}`.

    Parameters
    ----------
    pointwise : ndarray of shape (C, S, n)
        Log-likelihood of every point under every draw.

    Returns
    -------
    ndarray of shape (n,)
    """
    flat = pointwise.reshape(-1, pointwise.shape[-1])
    return logsumexp(flat, axis=0) - np.log(flat.shape[0])


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
    return float(pointwise_lppd(pointwise).sum())


def paired_se(a, b) -> float:
    r"""Standard error of :math:`\sum_i (a_i - b_i)`: :math:`\sqrt{n \operatorname{var}(a - b)}`.

    The variance has divisor n, as in ``arviz.compare``'s ``dse``.

    Parameters
    ----------
    a, b : ndarray of shape (n,)
        Per-point log densities of two estimates on the same points.

    Returns
    -------
    float
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return float(np.sqrt(diff.size * np.var(diff)))


def paired_differences(pointwise: dict, on: str) -> tuple[PairedDifference, ...]:
    """Every pair of estimates compared point by point.

    Parameters
    ----------
    pointwise : dict of str to ndarray of shape (n,)
        Per-point terms of each estimate, in table order.
    on : {"out_of_sample", "held_out"}
        Recorded in each :class:`PairedDifference`.

    Returns
    -------
    tuple of PairedDifference
        One per pair, in table order of the pairs; the estimate with the higher total first.
    """
    names = list(pointwise)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diff = float(np.sum(pointwise[a]) - np.sum(pointwise[b]))
            first, second = (a, b) if diff >= 0 else (b, a)
            n = int(np.size(pointwise[a]))
            se = paired_se(pointwise[a], pointwise[b])
            out.append(PairedDifference(first, second, on, abs(diff), se, n))
    return tuple(out)


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
    n = X.shape[0]
    rows = []
    terms = {"out_of_sample": {}, "held_out": {}}
    for name, params in (("MLE", mle_params), ("MAP", map_params)):
        if params is None:
            continue
        point = observed_e_step(X, params)[1]
        in_sample = float(point.sum())
        # -AIC/2 spread evenly over the points: the penalty is one constant per estimate, so
        # it moves a paired difference but not its standard error.
        terms["out_of_sample"][name] = point - p / n
        held = None
        if X_test is not None:
            terms["held_out"][name] = observed_e_step(X_test, params)[1]
            held = float(terms["held_out"][name].sum())
        rows.append(PredictiveRow(name, in_sample, in_sample - p, None, "-AIC/2", held))
    terms["out_of_sample"]["posterior"] = np.asarray(loo.loo_i, dtype=float).ravel()
    if test_pointwise is not None:
        terms["held_out"]["posterior"] = pointwise_lppd(test_pointwise)
    rows.append(
        PredictiveRow(
            "posterior",
            lppd(pointwise),
            float(loo.elpd_loo),
            float(loo.se),
            "PSIS-LOO",
            None if test_pointwise is None else float(terms["held_out"]["posterior"].sum()),
        )
    )
    terms = {on: t for on, t in terms.items() if t}
    return PredictiveComparison(
        rows=tuple(rows),
        n_train=int(X.shape[0]),
        n_test=0 if X_test is None else int(X_test.shape[0]),
        n_parameters=p,
        p_loo=float(loo.p_loo),
        pareto_k_bad=int(np.sum(k_hat > PARETO_K_MAX)),
        pareto_k_max=float(np.max(k_hat)),
        paired=sum((paired_differences(t, on) for on, t in terms.items()), ()),
        pointwise=terms,
    )
