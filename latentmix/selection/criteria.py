r"""Information criteria on mclust's scale, and Kass & Raftery's grades of a BIC difference.

Every criterion here is *larger is better*, as in R's mclust (Fraley & Raftery 2002, 2007):

.. math::

    \text{BIC} = 2 \log L(\hat\theta) - p \log n, \qquad
    \text{AIC} = 2 \log L(\hat\theta) - 2 p, \qquad
    \text{ICL} = \text{BIC} + 2 \sum_i \log t_{i \hat z_i},

with :math:`p` the free parameters (:func:`latentmix.params.n_parameters`), :math:`t_{ik}` the
responsibilities at :math:`\hat\theta` and :math:`\hat z_i = \arg\max_k t_{ik}` the MAP
classification, which is mclust's ``icl`` (Biernacki, Celeux & Govaert 2000, with the hard
classification in the entropy term). For a MAP fit :math:`\hat\theta` is the MAP estimate and
:math:`\log L` the log-likelihood there, without the prior: mclust's BIC with a prior
(Fraley & Raftery 2007). :meth:`latentmix.EMGaussianMixture.bic` keeps scikit-learn's sign
(smaller is better); its value is minus :func:`bic` here.
"""

from __future__ import annotations

import numpy as np

#: Kass & Raftery (1995): a BIC difference to the best model within 2 is "not worth more than
#: a bare mention", 2 to 6 "positive", 6 to 10 "strong", beyond 10 "very strong" evidence
#: against the model.
KASS_RAFTERY = ((2.0, "not worth more than a bare mention"), (6.0, "positive"), (10.0, "strong"))
VERY_STRONG = "very strong"


def bic(log_likelihood: float, n_parameters: int, n_samples: int) -> float:
    r""":math:`2 \log L - p \log n` (mclust's sign: larger is better)."""
    return float(2.0 * log_likelihood - n_parameters * np.log(n_samples))


def aic(log_likelihood: float, n_parameters: int) -> float:
    r""":math:`2 \log L - 2 p` (larger is better)."""
    return float(2.0 * log_likelihood - 2.0 * n_parameters)


def classification_entropy(log_resp) -> float:
    r""":math:`-\sum_i \log t_{i \hat z_i} \ge 0` from log responsibilities of shape (n, K)."""
    return float(-np.max(np.asarray(log_resp, dtype=float), axis=1).sum())


def icl(log_likelihood: float, n_parameters: int, log_resp) -> float:
    r"""Mclust's ICL: :func:`bic` minus twice :func:`classification_entropy` (larger better).

    Parameters
    ----------
    log_likelihood : float
    n_parameters : int
    log_resp : array-like of shape (n, K)
        Log responsibilities at the estimate.
    """
    log_resp = np.asarray(log_resp, dtype=float)
    n = log_resp.shape[0]
    return bic(log_likelihood, n_parameters, n) - 2.0 * classification_entropy(log_resp)


def evidence(difference: float) -> str:
    """Kass & Raftery's words for a BIC difference to the best model (>= 0)."""
    for bound, words in KASS_RAFTERY:
        if difference <= bound:
            return words
    return VERY_STRONG


def within(values: dict, bounds=(2.0, 6.0, 10.0)) -> dict:
    """The keys whose value is within each bound of the largest value.

    Parameters
    ----------
    values : dict
        Key (a cell, say (K, covariance_type)) -> criterion, larger better; None or NaN
        values (failed cells) are left out.
    bounds : sequence of float

    Returns
    -------
    dict
        ``{"best": key or None, "within": {bound: [keys, best first]}}``.
    """
    finite = {k: float(v) for k, v in values.items() if v is not None and np.isfinite(v)}
    if not finite:
        return {"best": None, "within": {b: [] for b in bounds}}
    ranked = sorted(finite, key=lambda k: -finite[k])
    top = finite[ranked[0]]
    return {
        "best": ranked[0],
        "within": {b: [k for k in ranked if top - finite[k] <= b] for b in bounds},
    }
