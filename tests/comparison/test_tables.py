"""Parameter tables against direct numpy computation on the draws."""

import arviz as az
import numpy as np
import pytest

from latentmix.comparison import compare
from latentmix.em.parameterisation import parameter_keys
from latentmix.params import COVARIANCE_TYPES, sample_mixture


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_tables_match_direct_numpy(covariance_type, truth, as_type, fake_idata):
    params = as_type(truth, covariance_type)
    X, _ = sample_mixture(truth, 120, random_state=3)
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
        lo, hi = np.quantile(s, [0.025, 0.975])
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
    n_cov = {"full": 6, "tied": 3, "diag": 4, "spherical": 2, "tied_diag": 2, "tied_spherical": 1}
    n_cov = n_cov[covariance_type]
    assert len(result.tables["covariances"].entries) == n_cov
    cov_draws = post["covariances"].values
    for entry in result.tables["covariances"].entries:
        s = cov_draws[(slice(None), slice(None), *entry.index)].ravel()
        assert entry.median == pytest.approx(np.median(s), rel=1e-12)
    assert [e.r_hat for e in result.tables["weights"].entries] == pytest.approx(
        az.rhat(post)["weights"].values[:1], rel=1e-12
    )
    # The entries are the natural-scale vector's, in its order, each with its position; of
    # the weights only the K - 1 free ones (the last is one minus the others).
    entries = [e for t in result.tables.values() for e in t.entries]
    keys = parameter_keys(2, 2, covariance_type)
    assert [(e.parameter, e.index) for e in entries] == keys[:1] + keys[2:]
    assert [e.column for e in entries] == [0, *range(2, len(keys))]


def test_level_sets_the_interval(truth, fake_idata):
    X, _ = sample_mixture(truth, 60, random_state=5)
    idata = fake_idata(truth, seed=6)
    result = compare(X, idata, truth, level=0.5)
    s = idata.posterior["weights"].values[:, :, 0].ravel()
    first = result.tables["weights"].entries[0]
    assert (first.lower, first.upper) == pytest.approx(tuple(np.quantile(s, [0.25, 0.75])))
    assert result.level == result.tables["weights"].level == 0.5


def test_truth_of_another_covariance_type(truth, as_type, fake_idata):
    X, _ = sample_mixture(truth, 80, random_state=12)
    diag = as_type(truth, "diag")
    result = compare(X, fake_idata(diag, seed=13), diag, truth=truth)
    truths = [e.truth for e in result.tables["covariances"].entries]
    assert truths == pytest.approx([1.0, 0.8, 0.6, 1.2])
    tied = as_type(truth, "tied")
    result = compare(X, fake_idata(tied, seed=14), tied, truth=truth)
    assert all(e.truth is None for e in result.tables["covariances"].entries)
    # A shared-diagonal model has a true value only if the truth is equal and diagonal.
    for covariance_type in ("tied_diag", "tied_spherical"):
        shared = as_type(truth, covariance_type)
        result = compare(X, fake_idata(shared, seed=15), shared, truth=truth)
        assert all(e.truth is None for e in result.tables["covariances"].entries)
    isotropic = as_type(truth, "tied_spherical")
    for covariance_type in ("tied_diag", "tied_spherical", "spherical", "diag"):
        model = as_type(isotropic, covariance_type)
        result = compare(X, fake_idata(model, seed=16), model, truth=isotropic)
        truths = [e.truth for e in result.tables["covariances"].entries]
        assert truths == pytest.approx([float(isotropic.covariances)] * len(truths))
    assert result.tables["means"].entries[0].truth == 0.0


def test_one_dimensional_labels(fake_idata):
    from latentmix.params import MixtureParams

    params = MixtureParams(
        np.array([0.5, 0.5]), np.array([[-2.0], [2.0]]), np.array([[[1.0]], [[0.5]]]), "full"
    )
    X, _ = sample_mixture(params, 80, random_state=10)
    result = compare(X[:, 0], fake_idata(params, seed=11), params, feature_names=["v"])
    assert [e.label for e in result.tables["covariances"].entries] == [
        "covariances[1, v, v]",
        "covariances[2, v, v]",
    ]
    assert [e.index for e in result.tables["covariances"].entries] == [(0, 0, 0), (1, 0, 0)]
    assert result.tables["means"].entries[0].mle is None
    frame = result.tables["means"].to_dataframe()
    assert list(frame.index) == ["means[1, v]", "means[2, v]"]


def test_mcse_is_arviz_per_entry(truth, fake_idata):
    X, _ = sample_mixture(truth, 60, random_state=5)
    idata = fake_idata(truth, seed=6)
    result = compare(X, idata, truth, level=0.9)
    post = idata.posterior
    entry = result.tables["means"].entries[3]
    k, j = entry.index
    ds = post[["means"]].isel(component=k, feature=j)
    assert entry.mcse_mean == pytest.approx(float(az.mcse(ds, method="mean")["means"]))
    for value, prob in ((entry.mcse_lower, 0.05), (entry.mcse_upper, 0.95)):
        expected = float(az.mcse(ds, method="quantile", prob=prob)["means"])
        assert value == pytest.approx(expected)
    assert all(np.isfinite(e.mcse_mean) for t in result.tables.values() for e in t.entries)


def test_weights_table_holds_the_free_weights(truth, fake_idata):
    from latentmix.params import MixtureParams

    three = MixtureParams(
        np.array([0.2, 0.3, 0.5]),
        np.array([[0.0, 0.0], [4.0, 1.0], [-4.0, 2.0]]),
        np.array([1.0, 0.5, 2.0]),
        "spherical",
    )
    X, _ = sample_mixture(three, 90, random_state=1)
    result = compare(X, fake_idata(three, seed=2), three)
    assert [e.index for e in result.tables["weights"].entries] == [(0,), (1,)]
    assert [e.label for e in result.tables["weights"].entries] == ["weights[1]", "weights[2]"]
    assert len(result.to_dict()["tables"]["weights"]) == 2


def test_standard_deviations_and_correlations_from_the_draws(truth, fake_idata):
    X, _ = sample_mixture(truth, 80, random_state=3)
    idata = fake_idata(truth, seed=4)
    result = compare(X, idata, truth, mle=truth, feature_names=["a", "b"])
    cov = idata.posterior["covariances"].values
    sds, corr = result.derived["standard_deviations"], result.derived["correlations"]
    assert [e.label for e in corr.entries] == ["correlation[1, a, b]", "correlation[2, a, b]"]
    assert sds.entries[1].label == "sd[1, b]"
    s = np.sqrt(cov[:, :, 1, 1, 1]).ravel()
    assert sds.entries[3].median == pytest.approx(np.median(s))
    r = (cov[:, :, 0, 0, 1] / np.sqrt(cov[:, :, 0, 0, 0] * cov[:, :, 0, 1, 1])).ravel()
    assert corr.entries[0].mean == pytest.approx(r.mean())
    assert corr.entries[0].map == pytest.approx(0.3 / np.sqrt(0.8))
    assert corr.entries[0].wald_scale == "fisher_z"
    assert -1 < corr.entries[0].wald_lower < corr.entries[0].map < corr.entries[0].wald_upper < 1
    assert sds.entries[0].wald_scale == "log" and sds.entries[0].wald_lower > 0
    record = result.to_dict()
    assert set(record["derived_tables"]) == {"standard_deviations", "correlations"}
    diag = compare(X, fake_idata(truth, seed=4), truth)  # no prior, no MLE
    assert diag.derived["correlations"].entries[0].wald_lower is None
    assert diag.derived["correlations"].entries[0].contraction is None


@pytest.mark.parametrize("order", ["mean", "weight"])
def test_order_puts_every_table_and_the_draws_in_one_order(order, truth, fake_idata):
    X, _ = sample_mixture(truth, 80, random_state=3)
    # The MAP with its components swapped: the first has mean (4, 1) and weight 0.4.
    swapped = truth.permute([1, 0])
    idata = fake_idata(swapped, seed=4)
    before = idata.posterior["means"].values.copy()
    result = compare(X, idata, swapped, mle=truth, truth=truth, order=order)
    # Both orders give the truth's: first mean coordinate 0 < 4, weight 0.6 > 0.4.
    np.testing.assert_array_equal(result.map.means, truth.means)
    np.testing.assert_array_equal(idata.posterior["means"].values, before[:, :, ::-1])
    first = result.tables["means"].entries[0]
    assert first.map == first.mle == first.truth == 0.0
    assert abs(first.mean) < 0.05  # the draws moved with the MAP
    assert result.tables["weights"].entries[0].map == 0.6
    assert result.derived["standard_deviations"].entries[0].map == pytest.approx(1.0)
    record = result.to_dict()
    assert record["order"] == order
    assert record["estimates"]["map"]["means"][0] == [0.0, 0.0]
    assert record["tables"]["means"][0]["map"] == 0.0
    with pytest.raises(ValueError, match="order must be one of"):
        compare(X, idata, swapped, order="size")


def test_contraction_against_prior_draws(truth, fake_idata):
    from latentmix.comparison.prior import prior_sds
    from latentmix.em.derived import derived_entries
    from latentmix.priors import ConjugatePrior, sample_prior

    # nu = 9 > d + 3: every entry has a finite prior sd.
    prior = ConjugatePrior(
        np.array([2.0, 3.0]), np.zeros(2), 0.5, 9.0, np.array([[2.0, 0.5], [0.5, 1.0]])
    )
    keys = parameter_keys(2, 2, "full")
    keys += [(e.group, e.index) for e in derived_entries(2, 2, "full")]
    closed = prior_sds(prior, 2, "full", keys)
    rng = np.random.default_rng(0)
    draws = [sample_prior(prior, 2, "full", rng) for _ in range(20000)]
    w = np.array([p.weights for p in draws])
    m = np.array([p.means for p in draws])
    c = np.array([p.covariances for p in draws])
    sd = np.sqrt(np.diagonal(c, axis1=2, axis2=3))
    corr = c[:, :, 0, 1] / (sd[:, :, 0] * sd[:, :, 1])
    empirical = {
        ("weights", (0,)): w[:, 0].std(),
        ("means", (1, 1)): m[:, 1, 1].std(),
        ("covariances", (0, 0, 0)): c[:, 0, 0, 0].std(),
        ("covariances", (1, 0, 1)): c[:, 1, 0, 1].std(),
        ("standard_deviations", (0, 1)): sd[:, 0, 1].std(),
        ("correlations", (1, 0, 1)): corr[:, 1].std(),
    }
    for key, value in empirical.items():
        assert closed[keys.index(key)] == pytest.approx(value, rel=0.1), key
    # The default prior (nu = d + 2) has no finite variance of the covariance entries.
    default = ConjugatePrior.default(sample_mixture(truth, 50, random_state=1)[0], 2, "full")
    out = prior_sds(default, 2, "full", keys)
    assert np.isinf(out[keys.index(("covariances", (0, 0, 0)))])
    assert np.isfinite(out[keys.index(("standard_deviations", (0, 0)))])
    assert np.all(np.isnan(prior_sds(None, 2, "full", keys)))
    X, _ = sample_mixture(truth, 80, random_state=3)
    result = compare(X, fake_idata(truth, seed=4), truth, prior=prior)
    entry = result.tables["means"].entries[0]
    assert entry.contraction == pytest.approx(entry.sd / entry.prior_sd)
