"""Predictive comparison against direct scipy computation, draw by draw."""

import arviz as az
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from latentmix.comparison import PARETO_K_MAX, compare
from latentmix.params import n_parameters, sample_mixture


def test_predictive_matches_direct_scipy(truth, fake_idata, scipy_log_prob):
    X, _ = sample_mixture(truth, 150, random_state=5)
    X_test, _ = sample_mixture(truth, 40, random_state=6)
    idata = fake_idata(truth, seed=7)
    mle = truth._replace(means=truth.means + 0.05)
    result = compare(X, idata, truth, mle=mle, X_test=X_test)
    ll = logsumexp(scipy_log_prob(idata, X), axis=2)  # (S, n)
    lppd = (logsumexp(ll, axis=0) - np.log(400)).sum()
    ll_test = logsumexp(scipy_log_prob(idata, X_test), axis=2)
    lppd_test = (logsumexp(ll_test, axis=0) - np.log(400)).sum()
    post_row = result.predictive.row("posterior")
    assert post_row.in_sample == pytest.approx(lppd, rel=1e-10)
    assert post_row.held_out == pytest.approx(lppd_test, rel=1e-10)
    assert post_row.out_of_sample == pytest.approx(az.loo(idata).elpd_loo, rel=1e-12)
    assert post_row.out_of_sample_estimator == "PSIS-LOO"
    np.testing.assert_allclose(idata.log_likelihood["x"].values.reshape(400, 150), ll, rtol=1e-10)
    p = n_parameters(2, 2, "full")
    assert p == 11 == result.predictive.n_parameters
    mle_row = result.predictive.row("MLE")
    direct = stats.multivariate_normal
    mle_ll = np.log(
        sum(mle.weights[k] * direct(mle.means[k], mle.covariances[k]).pdf(X) for k in range(2))
    ).sum()
    assert mle_row.in_sample == pytest.approx(mle_ll, rel=1e-10)
    assert mle_row.out_of_sample == pytest.approx(mle_ll - p, rel=1e-10)
    assert mle_row.out_of_sample_estimator == "-AIC/2"
    k_hat = np.asarray(az.loo(idata, pointwise=True).pareto_k)
    assert result.predictive.pareto_k_bad == int(np.sum(k_hat > PARETO_K_MAX))
    assert result.predictive.pareto_k_max == pytest.approx(k_hat.max())


def test_pareto_k_threshold_is_the_one_constant():
    from latentmix.comparison import predictive

    assert PARETO_K_MAX == predictive.PARETO_K_MAX == 0.7


def test_loo_by_blocks_is_arviz_loo_on_the_whole(truth, fake_idata, monkeypatch):
    """PSIS-LOO over blocks of rows (what a large n gets) equals az.loo on everything."""
    from latentmix.comparison import core, draw_log_likelihood, posterior_draws
    from latentmix.comparison.predictive import loo_by_blocks, relative_efficiency

    X, _ = sample_mixture(truth, 150, random_state=8)
    idata = fake_idata(truth, seed=9)
    draws = posterior_draws(idata, "full")
    whole = fake_idata(truth, seed=9)  # the same draws, for the in-memory road
    result = compare(X, whole, truth)
    expected = az.loo(whole, pointwise=True)
    loo, mean, sd = loo_by_blocks(
        X, draws, relative_efficiency(idata.posterior), membership=True, block_values=400 * 7
    )
    np.testing.assert_allclose(loo.loo_i, np.asarray(expected.loo_i), rtol=1e-12)
    np.testing.assert_allclose(loo.pareto_k, np.asarray(expected.pareto_k), rtol=1e-12)
    assert loo.elpd == pytest.approx(expected.elpd_loo, rel=1e-12)
    assert loo.se == pytest.approx(expected.se, rel=1e-12)
    assert loo.p_loo == pytest.approx(expected.p_loo, rel=1e-10)
    _, mean_all, sd_all = draw_log_likelihood(X, draws, return_membership=True)
    np.testing.assert_allclose(mean, mean_all, rtol=1e-12)
    np.testing.assert_allclose(sd, sd_all, rtol=1e-9, atol=1e-12)
    # compare takes the blocked road when the log-likelihood would not fit, and agrees.
    monkeypatch.setattr(core, "IN_MEMORY_BYTES", 1000)
    blocked = compare(X, idata, truth)
    assert "log_likelihood" not in idata.groups()
    for a, b in zip(blocked.predictive.rows, result.predictive.rows, strict=True):
        assert a.estimate == b.estimate
        assert a.in_sample == pytest.approx(b.in_sample, rel=1e-12)
        assert a.out_of_sample == pytest.approx(b.out_of_sample, rel=1e-12)
        if b.out_of_sample_se is not None:
            assert a.out_of_sample_se == pytest.approx(b.out_of_sample_se, rel=1e-12)
    assert blocked.predictive.p_loo == pytest.approx(result.predictive.p_loo, rel=1e-10)
    assert blocked.predictive.pareto_k_max == pytest.approx(result.predictive.pareto_k_max)
