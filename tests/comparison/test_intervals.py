"""Wald and Laplace intervals beside the posterior interval, entry by entry."""

import json

import arviz as az
import numpy as np
import pytest
from scipy import special, stats

from latentmix.comparison import compare
from latentmix.matching import match_components
from latentmix.params import COVARIANCE_TYPES, sample_mixture
from latentmix.priors import ConjugatePrior


def natural_name(group: str, covariance_type: str, index: tuple) -> str:
    """The name ``latentmix.em.parameterisation.parameter_names`` gives an entry, by hand."""
    if covariance_type == "tied_spherical" and group == "covariances":
        return "covariances"  # the one shared variance
    if group != "covariances" or covariance_type in ("diag", "tied_diag"):
        return f"{group}[{','.join(map(str, index))}]"
    if covariance_type == "full":
        k, i, j = index
        return f"covariances[{k},{min(i, j)},{max(i, j)}]"
    if covariance_type == "tied":
        i, j = index
        return f"covariances[{min(i, j)},{max(i, j)}]"
    return f"covariances[{index[0]}]"


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_wald_and_laplace_fields_match_em_intervals_entry_by_entry(
    covariance_type, truth, fake_idata
):
    from latentmix.em.intervals import laplace, standard_errors
    from latentmix.estimator import EMGaussianMixture

    X, _ = sample_mixture(truth, 300, random_state=20)
    prior = ConjugatePrior.default(X, 2, covariance_type)
    mle = EMGaussianMixture(2, covariance_type=covariance_type, n_init=1, random_state=0)
    mle = mle.fit(X).params_
    em_map = EMGaussianMixture(
        2, covariance_type=covariance_type, prior=prior, n_init=1, random_state=0
    ).fit(X)
    # The MLE handed over in the other component order: compare puts it in the MAP's order
    # and the Wald intervals must follow.
    mle_swapped = mle.permute([1, 0])
    assert match_components(mle_swapped, em_map.params_).tolist() == [1, 0]
    idata = fake_idata(em_map.params_, seed=21)
    result = compare(X, idata, em_map, mle=mle_swapped, random_state=5)
    assert result.warnings == ()
    wald = standard_errors(result.mle, X, level=0.95)
    lap = laplace(result.map, X, prior=prior, level=0.95, n_draws=4000, random_state=5)
    np.testing.assert_array_equal(result.mle.means, mle.means)
    np.testing.assert_array_equal(result.laplace.draws, lap.draws)
    for group, table in result.tables.items():
        for e in table.entries:
            c = e.column
            assert wald.keys[c] == lap.keys[c] == (group, e.index)
            assert wald.names[c] == natural_name(group, covariance_type, e.index)
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
            # Centred on the MLE of this very entry (so in the MAP's component order), on
            # the entry's link scale.
            link = {"identity": lambda v: v, "log": np.log, "logit": special.logit}
            g = link[e.wald_scale]
            assert (g(e.wald_lower) + g(e.wald_upper)) / 2 == pytest.approx(
                g(e.mle), rel=1e-9, abs=1e-12
            )
            assert e.laplace_lower < e.map < e.laplace_upper
    # The first MLE component is the MAP's second: its weight's interval moved with it. Of
    # two weights, one is free (the other is one minus it, with the same standard error).
    w = result.tables["weights"].entries
    assert len(w) == 1 and w[0].wald_scale == "logit"
    assert w[0].mle == mle.weights[0] and w[0].wald_se == pytest.approx(wald.standard_error[1])
    record = result.to_dict(X)
    first = result.tables["means"].entries[0]
    assert record["tables"]["means"][0]["laplace_lower"] == first.laplace_lower
    assert record["tables"]["means"][0]["column"] == first.column
    assert {a["source"] for a in record["interval_agreement"]} == {"wald", "laplace"}


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


def test_laplace_interval_agrees_with_exact_posterior_on_a_large_separated_sample(truth):
    from latentmix.estimator import EMGaussianMixture

    far = truth._replace(means=np.array([[0.0, 0.0], [15.0, 10.0]]))
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
    assert overall.n_entries == 11  # K - 1 = 2 free weights
    assert overall.width_ratio_median == pytest.approx(1, abs=0.03)
    assert overall.max_endpoint_shift < 0.4
    assert result.agreement_row("laplace", "means").n_entries == 4


def test_not_positive_definite_gives_none_and_warnings(saddle_1d, fake_idata):
    X, saddle = saddle_1d
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


def test_no_prior_no_laplace(truth, fake_idata):
    X, _ = sample_mixture(truth, 100, random_state=23)
    result = compare(X, fake_idata(truth, seed=24), truth)
    assert result.laplace is None
    assert result.warnings == ("No Laplace intervals for the MAP: no prior was given for it.",)
    assert all(e.laplace_lower is None for e in result.tables["means"].entries)
