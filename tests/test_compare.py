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


# --- Wald and Laplace intervals beside the posterior interval ------------------------------


def natural_name(group: str, kind: str, index: tuple) -> str:
    """The name ``latentmix.em.uncertainty.parameter_names`` gives an entry, built by hand."""
    if group != "covariances" or kind == "diag":
        return f"{group}[{','.join(map(str, index))}]"
    if kind == "full":
        k, i, j = index
        return f"covariances[{k},{min(i, j)},{max(i, j)}]"
    if kind == "tied":
        i, j = index
        return f"covariances[{min(i, j)},{max(i, j)}]"
    return f"covariances[{index[0]}]"


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_wald_and_laplace_fields_match_uncertainty_entry_by_entry(kind):
    from latentmix.em.uncertainty import laplace, standard_errors
    from latentmix.estimator import EMGaussianMixture
    from latentmix.priors import ConjugatePrior

    X, _ = sample_mixture(TRUTH, 300, random_state=20)
    prior = ConjugatePrior.default(X, 2, kind)
    mle = EMGaussianMixture(2, covariance_type=kind, n_init=1, random_state=0).fit(X).params_
    em_map = EMGaussianMixture(2, covariance_type=kind, prior=prior, n_init=1, random_state=0)
    em_map.fit(X)
    # The MLE handed over in the other component order: compare puts it in the MAP's order
    # and the Wald intervals must follow.
    mle_swapped = mle.permute([1, 0])
    assert match_components(mle_swapped, em_map.params_).tolist() == [1, 0]
    idata = fake_idata(em_map.params_, seed=21)
    result = compare(X, idata, em_map, mle=mle_swapped, random_state=5)
    assert result.warnings == ()
    wald = standard_errors(result.mle, X, level=0.94)
    lap = laplace(result.map, X, prior=prior, level=0.94, n_draws=4000, random_state=5)
    np.testing.assert_array_equal(result.mle.means, mle.means)
    np.testing.assert_array_equal(result.laplace.draws, lap.draws)
    for group, table in result.tables.items():
        for e in table.entries:
            c = wald.names.index(natural_name(group, kind, e.index))
            assert (e.wald_lower, e.wald_upper, e.wald_se) == (
                wald.lower[c],
                wald.upper[c],
                wald.standard_error[c],
            )
            assert (e.laplace_lower, e.laplace_upper, e.laplace_sd) == (
                lap.lower[c],
                lap.upper[c],
                lap.standard_error[c],
            )
            # Centred on the MLE of this very entry (so in the MAP's component order).
            assert (e.wald_lower + e.wald_upper) / 2 == pytest.approx(e.mle, rel=1e-9, abs=1e-12)
            assert e.laplace_lower < e.map < e.laplace_upper
    # The first MLE component is the MAP's second: its weight's interval moved with it.
    w = result.tables["weights"].entries
    assert w[0].mle == mle.weights[0] and w[0].wald_se == pytest.approx(w[1].wald_se)
    record = result.to_dict(X)
    first = result.tables["means"].entries[0]
    assert record["tables"]["means"][0]["laplace_lower"] == first.laplace_lower
    assert {a["method"] for a in record["interval_agreement"]} == {"wald", "laplace"}


@pytest.mark.parametrize("kind", ["full", "tied"])
def test_interval_columns_mirror_the_lower_triangle(kind):
    from latentmix.compare import interval_columns
    from latentmix.em.uncertainty import parameter_names

    names = parameter_names(2, 3, kind)
    columns = interval_columns(names, kind)
    lead = (1,) if kind == "full" else ()
    for i in range(3):
        for j in range(3):
            c = columns[("covariances", (*lead, i, j))]
            assert c == columns[("covariances", (*lead, j, i))]
            assert names[c] == natural_name("covariances", kind, (*lead, i, j))
    assert names[columns[("means", (1, 2))]] == "means[1,2]"
    assert names[columns[("weights", (0,))]] == "weights[0]"


def test_interval_columns_diag_entries_are_not_mirrored():
    from latentmix.compare import interval_columns
    from latentmix.em.uncertainty import parameter_names

    # covariances[k,j] of diag is component k's variance of feature j, not a matrix entry.
    names = parameter_names(2, 2, "diag")
    columns = interval_columns(names, "diag")
    assert names[columns[("covariances", (0, 1))]] == "covariances[0,1]"
    assert names[columns[("covariances", (1, 0))]] == "covariances[1,0]"
    assert len(columns) == len(names)


def exact_posterior_idata(X, labels, prior, K, chains=2, draws=2000, seed=0):
    """Exact draws of the conjugate posterior given the component labels, as an idata.

    On a sample whose components are far apart the labels are known for certain, and this
    is the mixture's posterior (in the labels' component order).
    """
    rng = np.random.default_rng(seed)
    S, d = chains * draws, X.shape[1]
    counts = np.bincount(labels, minlength=K)
    weights = rng.dirichlet(prior.concentration(K) + counts, size=S)
    means, covs = np.empty((S, K, d)), np.empty((S, K, d, d))
    kappa, m0 = prior.mean_precision, prior.mean
    for k in range(K):
        x = X[labels == k]
        n, xbar = len(x), x.mean(0)
        kappa_n = kappa + n
        scatter = (x - xbar).T @ (x - xbar)
        psi = prior.scale + scatter + kappa * n / kappa_n * np.outer(xbar - m0, xbar - m0)
        iw = stats.invwishart(prior.degrees_of_freedom + n, psi)
        covs[:, k] = iw.rvs(S, random_state=rng)
        chol = np.linalg.cholesky(covs[:, k] / kappa_n)
        centre = (kappa * m0 + n * xbar) / kappa_n
        means[:, k] = centre + np.einsum("sij,sj->si", chol, rng.standard_normal((S, d)))

    def shaped(a):
        return a.reshape(chains, draws, *a.shape[1:])

    return az.from_dict(
        posterior={
            "weights": shaped(weights),
            "means": shaped(means),
            "covariances": shaped(covs),
        },
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": ["component", "feature", "feature_bis"],
        },
    )


def test_laplace_interval_agrees_with_exact_posterior_on_a_large_separated_sample():
    from latentmix.estimator import EMGaussianMixture
    from latentmix.priors import ConjugatePrior

    far = TRUTH._replace(means=np.array([[0.0, 0.0], [15.0, 10.0]]))
    X, labels = sample_mixture(far, 2000, random_state=1)
    prior = ConjugatePrior.default(X, 2, "full")
    mle = EMGaussianMixture(2, n_init=1, random_state=0).fit(X)
    em_map = EMGaussianMixture(2, prior=prior, n_init=1, random_state=0).fit(X)
    # Labels in the MAP's component order.
    order = match_components(far, em_map.params_)
    to_map = np.empty_like(order)
    to_map[order] = np.arange(2)
    idata = exact_posterior_idata(X, to_map[labels], prior, 2)
    result = compare(X, idata, em_map, mle=mle)
    assert result.warnings == ()
    for table in result.tables.values():
        for e in table.entries:
            width = e.upper - e.lower
            assert (e.laplace_upper - e.laplace_lower) / width == pytest.approx(1, abs=0.06)
            assert abs(e.laplace_lower - e.lower) < 0.4 * e.sd
            assert abs(e.laplace_upper - e.upper) < 0.4 * e.sd
            # The MLE's Wald interval is as wide (Bernstein-von Mises), if not as placed: the
            # default prior's scale pulls the posterior's covariances up by about one sd.
            assert (e.wald_upper - e.wald_lower) / width == pytest.approx(1, abs=0.08)
    overall = result.agreement_row("laplace")
    assert overall.n_entries == 12
    assert overall.width_ratio_median == pytest.approx(1, abs=0.03)
    assert overall.max_endpoint_shift < 0.4
    assert result.agreement_row("laplace", "means").n_entries == 4


def saddle_1d():
    """Bimodal 1-D data and two identical, too narrow components at its mean.

    Splitting the two means raises the likelihood and the posterior, so the information
    matrix there (likelihood or posterior) has negative eigenvalues.
    """
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3, 1, (100, 1)), rng.normal(3, 1, (100, 1))])
    v = X.var() / 4
    saddle = MixtureParams(
        np.array([0.5, 0.5]), np.full((2, 1), X.mean()), np.full((2, 1, 1), v), "full"
    )
    return X, saddle


def test_not_positive_definite_gives_none_and_warnings():
    import json

    from latentmix.priors import ConjugatePrior

    X, saddle = saddle_1d()
    prior = ConjugatePrior.default(X, 2, "full")
    result = compare(X, fake_idata(saddle, seed=22), saddle, mle=saddle, prior=prior)
    for table in result.tables.values():
        for e in table.entries:
            assert e.wald_lower is e.wald_upper is e.wald_se is None
            assert e.laplace_lower is e.laplace_upper is e.laplace_sd is None
    assert result.wald is None and result.laplace is None and result.agreement == ()
    assert len(result.warnings) == 2
    assert result.warnings[0].startswith("No Wald intervals for the MLE: ")
    assert result.warnings[1].startswith("No Laplace intervals for the MAP: ")
    assert all("not positive definite" in w for w in result.warnings)
    record = json.loads(json.dumps(result.to_dict(X), allow_nan=False))
    assert record["tables"]["weights"][0]["laplace_lower"] is None
    assert record["warnings"] == list(result.warnings)


def test_no_prior_no_laplace():
    X, _ = sample_mixture(TRUTH, 100, random_state=23)
    result = compare(X, fake_idata(TRUTH, seed=24), TRUTH)
    assert result.laplace is None
    assert result.warnings == ("No Laplace intervals for the MAP: no prior was given for it.",)
    assert all(e.laplace_lower is None for e in result.tables["means"].entries)
