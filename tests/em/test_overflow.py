"""Rows far from every component: responsibilities and log-likelihoods, never NaN.

The reference is the naive formula with the squared distances in 1300-digit decimal
arithmetic (Python's ``decimal``), where nothing overflows; its log-likelihoods are rounded
to float64 (``-inf`` below the float64 range).
"""

import decimal
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from latentmix import EMGaussianMixture
from latentmix.datasets import load
from latentmix.em.estep import e_step
from latentmix.em.overflow import far_e_step
from latentmix.params import MixtureParams

D = decimal.Decimal


def naive_decimal(x, params):
    """(log responsibilities, log-likelihood) of one 2-D row.

    The squared distances and their differences in 1300-digit arithmetic (rows of 1e300
    square to 1e600, and differences of order 1 must survive); the constants (logs of the
    weights and determinants, of order 1) and the final log-sum-exp over the differences
    (each exact to float64 by then) in float64.
    """
    logs = []
    with decimal.localcontext() as ctx:
        ctx.prec = 1300
        ctx.Emax, ctx.Emin = 10**6, -(10**6)
        x = [D(float(v)) for v in x]
        for w, mu, cov in zip(
            params.weights, params.means, params.full_covariances(), strict=True
        ):
            a, b, c = (D(float(v)) for v in (cov[0, 0], cov[0, 1], cov[1, 1]))
            det = a * c - b * b
            r0, r1 = x[0] - D(float(mu[0])), x[1] - D(float(mu[1]))
            maha = (c * r0 * r0 - 2 * b * r0 * r1 + a * r1 * r1) / det
            const = np.log(w) - 0.5 * np.log(float(det)) - np.log(2 * np.pi)
            logs.append(D(const) - maha / 2)
        top = max(logs)
        diffs = np.array([float(v - top) for v in logs])
        top = float(top)  # -inf when below the float64 range
    norm = logsumexp(diffs)
    return diffs - norm, top + norm


def _fit(covariance_type):
    X = load("faithful").data
    return EMGaussianMixture(2, covariance_type=covariance_type, random_state=0, n_init=2).fit(X)


FAR = np.array(
    [
        [1e200, 1e200],
        [1e160, 50.0],
        [-1e300, 1e300],
        [1e154, 1e154],
        [1e153, 1e153],
        [-1e153, -1e153],
        [3e100, -2e100],
    ]
)
TYPES = ["full", "tied", "diag", "spherical", "tied_diag", "tied_spherical"]


@pytest.mark.parametrize("covariance_type", TYPES)
def test_far_rows_match_the_decimal_reference(covariance_type):
    gm = _fit(covariance_type)
    log_resp, log_lik = far_e_step(FAR, gm.params_)
    for i, row in enumerate(FAR):
        ref_resp, ref_lik = naive_decimal(row, gm.params_)
        np.testing.assert_allclose(np.exp(log_resp[i]), np.exp(ref_resp), atol=1e-12)
        assert log_lik[i] == pytest.approx(ref_lik, rel=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_far_e_step_equals_the_e_step_on_ordinary_rows(covariance_type):
    gm = _fit(covariance_type)
    X = load("faithful").data
    a, b = e_step(X, gm.params_), far_e_step(X, gm.params_)
    np.testing.assert_allclose(b[0], a[0], atol=1e-11)
    np.testing.assert_allclose(b[1], a[1], rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_predict_proba_on_huge_finite_values_is_never_nan(covariance_type):
    gm = _fit(covariance_type)
    X = np.vstack([FAR, [[3.0, 60.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning reaches the user
        proba = gm.predict_proba(X)
        scores = gm.score_samples(X)
        labels = gm.predict(X)
    assert not np.isnan(proba).any() and not np.isnan(scores).any()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    assert scores[0] == -np.inf and np.isfinite(scores[-1])
    np.testing.assert_allclose(proba[-1], np.exp(e_step(X[-1:], gm.params_)[0][0]))


def test_the_limit_is_the_wider_component_or_the_one_further_out():
    # 1-D: far out, the wider component takes the row; with one shared variance, the
    # component whose mean lies further in the row's direction does.
    wide = MixtureParams(
        np.array([0.9, 0.1]), np.array([[0.0], [0.0]]), np.array([1.0, 4.0]), "spherical"
    )
    shared = MixtureParams(
        np.array([0.9, 0.1]), np.array([[-1.0], [1.0]]), np.array(1.0), "tied_spherical"
    )
    for x, params, expected in [
        (1e200, wide, [0.0, 1.0]),
        (-1e200, wide, [0.0, 1.0]),
        (1e200, shared, [0.0, 1.0]),
        (-1e200, shared, [1.0, 0.0]),
    ]:
        log_resp, log_lik = far_e_step(np.array([[x]]), params)
        np.testing.assert_array_equal(np.exp(log_resp[0]), expected)
        assert log_lik[0] == -np.inf
