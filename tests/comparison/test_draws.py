"""Batched draw densities against the E-step, one draw at a time."""

import numpy as np
import pytest

from latentmix.comparison import draw_log_likelihood, draw_weighted_log_prob, posterior_draws
from latentmix.em.estep import e_step, weighted_log_prob
from latentmix.params import COVARIANCE_TYPES, MixtureParams, sample_mixture


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_batched_densities_match_estep(covariance_type, truth, as_type, fake_idata):
    params = as_type(truth, covariance_type)
    X, _ = sample_mixture(truth, 50, random_state=1)
    idata = fake_idata(params, chains=2, draws=5, seed=2)
    draws = posterior_draws(idata, covariance_type)
    flat = [a.reshape(10, *a.shape[2:]) for a in draws[:3]]
    batched = draw_weighted_log_prob(X, *flat, covariance_type)
    for s in range(10):
        one = MixtureParams(flat[0][s], flat[1][s], flat[2][s], covariance_type)
        np.testing.assert_allclose(batched[s], weighted_log_prob(X, one), rtol=1e-10)
    log_lik = draw_log_likelihood(X, draws)
    assert log_lik.shape == (2, 5, 50)
    one = MixtureParams(*(a[1, 3] for a in draws[:3]), covariance_type)
    np.testing.assert_allclose(log_lik[1, 3], e_step(X, one)[1], rtol=1e-10)


def test_chunks_do_not_change_the_result(truth, fake_idata, monkeypatch):
    from latentmix.comparison import draws as module

    X, _ = sample_mixture(truth, 30, random_state=3)
    draws = posterior_draws(fake_idata(truth, chains=2, draws=7, seed=4), "full")
    whole = draw_log_likelihood(X, draws, return_membership=True)
    # One draw per chunk: 14 chunks, the last ones partial.
    monkeypatch.setattr(module, "_CHUNK_FLOATS", 1)
    chunked = draw_log_likelihood(X, draws, return_membership=True)
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_posterior_draws_names_missing_variables(truth, fake_idata):
    idata = fake_idata(truth, draws=3)
    del idata.posterior["means"]
    with pytest.raises(ValueError, match="no variable 'means'"):
        posterior_draws(idata, "full")
