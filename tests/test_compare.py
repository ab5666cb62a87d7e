"""compare(): tables, predictive and membership numbers against direct numpy computation."""

import arviz as az
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from latentmix.compare import (
    compare,
    draw_log_likelihood,
    draw_weighted_log_prob,
    match_components,
    posterior_draws,
)
from latentmix.em.estep import e_step, weighted_log_prob
from latentmix.estimator import n_parameters
from latentmix.params import COVARIANCE_TYPES, MixtureParams, sample_mixture

TRUTH = MixtureParams(
    np.array([0.6, 0.4]),
    np.array([[0.0, 0.0], [4.0, 1.0]]),
    np.array([[[1.0, 0.3], [0.3, 0.8]], [[0.6, -0.1], [-0.1, 1.2]]]),
    "full",
)


def as_type(params: MixtureParams, kind: str) -> MixtureParams:
    """The same mixture with covariances reduced to another type."""
    full = params.full_covariances()
    cov = {
        "full": full,
        "tied": full.mean(0),
        "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(full, axis1=1, axis2=2).mean(1),
    }[kind]
    return MixtureParams(params.weights, params.means, cov, kind)


def fake_draws(params: MixtureParams, chains=2, draws=200, spread=0.05, seed=0):
    """Posterior-like draws scattered around ``params`` (arrays lead with chain, draw)."""
    rng = np.random.default_rng(seed)
    C, S = chains, draws
    K, d = params.means.shape
    weights = rng.dirichlet(params.weights * 400, size=(C, S))
    means = params.means + spread * rng.standard_normal((C, S, K, d))
    kind = params.covariance_type
    cov = np.asarray(params.covariances)
    if kind in ("full", "tied"):
        stack = cov if kind == "full" else cov[None]
        df = 300
        out = np.stack(
            [
                stats.invwishart(df, c * (df - d - 1))
                .rvs(C * S, random_state=rng)
                .reshape(C, S, d, d)
                for c in stack
            ],
            axis=2,
        )
        covariances = out if kind == "full" else out[:, :, 0]
    else:
        covariances = cov * np.exp(spread * rng.standard_normal((C, S, *cov.shape)))
    return weights, means, covariances


def fake_idata(params: MixtureParams, **kwargs):
    """An InferenceData shaped like PyMCGaussianMixture's, from :func:`fake_draws`."""
    weights, means, covariances = fake_draws(params, **kwargs)
    kind = params.covariance_type
    cov_dims = {
        "full": ["component", "feature", "feature_bis"],
        "tied": ["feature", "feature_bis"],
        "diag": ["component", "feature"],
        "spherical": ["component"],
    }[kind]
    return az.from_dict(
        posterior={"weights": weights, "means": means, "covariances": covariances},
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": cov_dims,
        },
    )


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_batched_densities_match_estep(kind):
    params = as_type(TRUTH, kind)
    X, _ = sample_mixture(TRUTH, 50, random_state=1)
    idata = fake_idata(params, chains=2, draws=5, seed=2)
    draws = posterior_draws(idata, kind)
    flat = [a.reshape(10, *a.shape[2:]) for a in draws[:3]]
    batched = draw_weighted_log_prob(X, *flat, kind)
    for s in range(10):
        one = MixtureParams(flat[0][s], flat[1][s], flat[2][s], kind)
        np.testing.assert_allclose(batched[s], weighted_log_prob(X, one), rtol=1e-10)
    log_lik = draw_log_likelihood(X, draws)
    assert log_lik.shape == (2, 5, 50)
    one = MixtureParams(*(a[1, 3] for a in draws[:3]), kind)
    np.testing.assert_allclose(log_lik[1, 3], e_step(X, one)[1], rtol=1e-10)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_tables_match_direct_numpy(kind):
    params = as_type(TRUTH, kind)
    X, _ = sample_mixture(TRUTH, 120, random_state=3)
    idata = fake_idata(params, seed=4)
    # MAP: the truth nudged; MLE: a permuted, further nudged copy (compare must re-order it).
    map_params = params._replace(means=params.means + 0.01)
    mle_params = params._replace(means=params.means - 0.2).permute([1, 0])
    result = compare(X, idata, map_params, mle=mle_params, feature_names=["a", "b"])
    post = idata.posterior
    for entry in result.tables["means"].entries:
        k, j = entry.index
        s = post["means"].values[:, :, k, j].ravel()
        assert entry.mean == pytest.approx(s.mean(), rel=1e-12)
        assert entry.median == pytest.approx(np.median(s), rel=1e-12)
        assert entry.sd == pytest.approx(s.std(ddof=1), rel=1e-12)
        lo, hi = np.quantile(s, [0.03, 0.97])
        assert (entry.lower, entry.upper) == pytest.approx((lo, hi), rel=1e-12)
        assert entry.map == map_params.means[k, j]
        assert entry.mle == pytest.approx(params.means[k, j] - 0.2)
        assert entry.quantile_map == pytest.approx(np.mean(s < map_params.means[k, j]))
        assert entry.quantile_mle == pytest.approx(np.mean(s < entry.mle))
        assert entry.mle_outside == (not lo <= entry.mle <= hi)
        assert entry.label == f"means[{k + 1}, {'ab'[j]}]"
    # The MLE, 0.2 away with posterior sd 0.05, is outside every means interval.
    assert all(e.mle_outside for e in result.tables["means"].entries)
    assert not any(e.map_outside for e in result.tables["means"].entries)
    n_cov = {"full": 6, "tied": 3, "diag": 4, "spherical": 2}[kind]
    assert len(result.tables["covariances"].entries) == n_cov
    cov_draws = post["covariances"].values
    for entry in result.tables["covariances"].entries:
        s = cov_draws[(slice(None), slice(None), *entry.index)].ravel()
        assert entry.median == pytest.approx(np.median(s), rel=1e-12)
    assert [e.r_hat for e in result.tables["weights"].entries] == pytest.approx(
        az.rhat(post)["weights"].values, rel=1e-12
    )


def test_predictive_and_membership_match_direct_numpy():
    X, _ = sample_mixture(TRUTH, 150, random_state=5)
    X_test, _ = sample_mixture(TRUTH, 40, random_state=6)
    idata = fake_idata(TRUTH, seed=7)
    mle = TRUTH._replace(means=TRUTH.means + 0.05)
    result = compare(X, idata, TRUTH, mle=mle, X_test=X_test, n_disagree=5)
    w, m, c = (
        idata.posterior[v].values.reshape(400, *idata.posterior[v].shape[2:])
        for v in ("weights", "means", "covariances")
    )
    # Direct loop over draws with scipy densities.
    logp = np.empty((400, 150, 2))
    logp_test = np.empty((400, 40, 2))
    for s in range(400):
        for k in range(2):
            dist = stats.multivariate_normal(m[s, k], c[s, k])
            logp[s, :, k] = np.log(w[s, k]) + dist.logpdf(X)
            logp_test[s, :, k] = np.log(w[s, k]) + dist.logpdf(X_test)
    ll = logsumexp(logp, axis=2)
    lppd = (logsumexp(ll, axis=0) - np.log(400)).sum()
    lppd_test = (logsumexp(logsumexp(logp_test, axis=2), axis=0) - np.log(400)).sum()
    post_row = result.predictive.row("posterior")
    assert post_row.in_sample == pytest.approx(lppd, rel=1e-10)
    assert post_row.held_out == pytest.approx(lppd_test, rel=1e-10)
    assert post_row.out_of_sample == pytest.approx(az.loo(idata).elpd_loo, rel=1e-12)
    np.testing.assert_allclose(idata.log_likelihood["x"].values.reshape(400, 150), ll, rtol=1e-10)
    p = n_parameters(2, 2, "full")
    assert p == 11
    mle_row = result.predictive.row("MLE")
    direct = stats.multivariate_normal
    mle_ll = np.log(
        sum(mle.weights[k] * direct(mle.means[k], mle.covariances[k]).pdf(X) for k in range(2))
    ).sum()
    assert mle_row.in_sample == pytest.approx(mle_ll, rel=1e-10)
    assert mle_row.out_of_sample == pytest.approx(mle_ll - p, rel=1e-10)
    # Membership: mean and sd over draws of p(z = k | x, theta_s).
    resp = np.exp(logp - ll[..., None])
    np.testing.assert_allclose(result.membership.posterior_mean, resp.mean(0), atol=1e-12)
    np.testing.assert_allclose(result.membership.posterior_sd, resp.std(0), atol=1e-7)
    resp_map = np.exp(e_step(X, TRUTH)[0])
    tv = 0.5 * np.abs(resp_map - resp.mean(0)).sum(1)
    np.testing.assert_allclose(result.membership.disagreement, tv, atol=1e-12)
    assert list(result.membership.top) == list(np.argsort(-tv)[:5])


def test_match_components_and_truth_order():
    permuted = TRUTH.permute([1, 0])
    order = match_components(permuted, TRUTH)
    np.testing.assert_array_equal(permuted.permute(order).means, TRUTH.means)
    X, _ = sample_mixture(TRUTH, 60, random_state=8)
    result = compare(X, fake_idata(TRUTH, seed=9), TRUTH, truth=permuted)
    np.testing.assert_array_equal(result.truth.means, TRUTH.means)
    assert result.tables["weights"].entries[0].truth == pytest.approx(0.6)
    record = result.to_dict(X)
    assert record["interval"] == {"probability": 0.94, "kind": "equal-tailed"}
    assert set(record["tables"]) == {"weights", "means", "covariances"}


def test_one_dimensional_and_bad_input():
    params = MixtureParams(
        np.array([0.5, 0.5]), np.array([[-2.0], [2.0]]), np.array([[[1.0]], [[0.5]]]), "full"
    )
    X, _ = sample_mixture(params, 80, random_state=10)
    result = compare(X[:, 0], fake_idata(params, seed=11), params, feature_names=["v"])
    assert [e.label for e in result.tables["covariances"].entries] == [
        "covariances[1, v, v]",
        "covariances[2, v, v]",
    ]
    assert result.tables["means"].entries[0].mle is None
    with pytest.raises(ValueError, match="features"):
        compare(np.zeros((5, 3)), fake_idata(params), params)
    with pytest.raises(ValueError, match="interval"):
        compare(X, fake_idata(params), params, interval=1.5)
    with pytest.raises(ValueError, match="MixtureParams"):
        compare(X, fake_idata(params), "not params")


def test_truth_of_another_covariance_type():
    X, _ = sample_mixture(TRUTH, 80, random_state=12)
    diag = as_type(TRUTH, "diag")
    result = compare(X, fake_idata(diag, seed=13), diag, truth=TRUTH)
    truths = [e.truth for e in result.tables["covariances"].entries]
    assert truths == pytest.approx([1.0, 0.8, 0.6, 1.2])
    tied = as_type(TRUTH, "tied")
    result = compare(X, fake_idata(tied, seed=14), tied, truth=TRUTH)
    assert all(e.truth is None for e in result.tables["covariances"].entries)
    assert result.tables["means"].entries[0].truth == 0.0


def test_public_name():
    import latentmix

    assert latentmix.compare is compare
