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


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_rows_with_missing_cells_take_their_marginal_density(covariance_type, fake_idata):
    # NaN marks a missing cell: a row's log-likelihood under each draw is the density of
    # its observed cells, as latentmix.em.missing.e_step computes it for one mixture.
    from latentmix.em.missing import e_step as missing_e_step

    params = MixtureParams(
        np.array([0.3, 0.3, 0.4]),
        np.array([[0.0, 0.0, 0.0], [3.0, 1.0, -1.0], [-2.0, 2.0, 1.0]]),
        np.diag([1.0, 0.5, 2.0]),
        "tied",
    )
    X, _ = sample_mixture(params, 40, random_state=5)
    X[1, 0] = X[2, 1] = X[3, 1] = X[3, 2] = X[7, :2] = np.nan  # four patterns
    as_full = params.full_covariances()
    cov = {
        "full": as_full,
        "tied": as_full[0],
        "diag": np.diagonal(as_full, axis1=1, axis2=2).copy(),
        "spherical": np.full(3, 1.2),
        "tied_diag": np.diag(as_full[0]).copy(),
        "tied_spherical": np.asarray(1.2),
    }[covariance_type]
    idata = fake_idata(params._replace(covariances=cov, covariance_type=covariance_type), 2, 4)
    draws = posterior_draws(idata, covariance_type)
    log_lik, membership, _ = draw_log_likelihood(X, draws, return_membership=True)
    assert np.all(np.isfinite(log_lik))
    total = np.zeros((40, 3))
    for c in range(2):
        for s in range(4):
            one = MixtureParams(*(a[c, s] for a in draws[:3]), covariance_type)
            log_resp, sample_ll = missing_e_step(X, one)
            np.testing.assert_allclose(log_lik[c, s], sample_ll, rtol=1e-10)
            total += np.exp(log_resp)
    np.testing.assert_allclose(membership, total / 8, rtol=1e-10)
    complete = ~np.isnan(X).any(axis=1)
    one = MixtureParams(*(a[0, 0] for a in draws[:3]), covariance_type)
    np.testing.assert_allclose(log_lik[0, 0, complete], e_step(X[complete], one)[1], rtol=1e-10)


def test_a_row_with_every_cell_missing_is_refused(truth, fake_idata):
    X, _ = sample_mixture(truth, 10, random_state=1)
    X[4] = np.nan
    draws = posterior_draws(fake_idata(truth, chains=1, draws=2), "full")
    with pytest.raises(ValueError, match="row 4 of X has every cell missing"):
        draw_log_likelihood(X, draws)
