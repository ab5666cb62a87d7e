"""--posterior-rows: the posterior of a random subsample, EM and the comparison on every row."""

import json
import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr
from scipy.special import logsumexp

from latentmix.comparison import compare, draw_log_likelihood, posterior_draws
from latentmix.datasets import load
from latentmix.estimator import EMGaussianMixture
from latentmix.report.analysis import posterior_subsample


def test_the_subsample_is_seeded_sorted_distinct_and_off_when_it_would_hold_every_row():
    rows = posterior_subsample(1000, 100, seed=4)
    assert rows.shape == (100,) and np.all(np.diff(rows) > 0) and rows.max() < 1000
    np.testing.assert_array_equal(rows, posterior_subsample(1000, 100, seed=4))
    assert not np.array_equal(rows, posterior_subsample(1000, 100, seed=5))
    assert posterior_subsample(1000, None, seed=4) is None
    assert posterior_subsample(1000, 1000, seed=4) is None
    assert posterior_subsample(1000, 5000, seed=4) is None


def test_rows_the_posterior_did_not_see_score_their_exact_predictive_density(fake_idata):
    X = load("faithful").data
    em_map = EMGaussianMixture(2, prior="default", n_init=2, random_state=0).fit(X)
    sub = posterior_subsample(len(X), 100, seed=0)
    held = np.setdiff1d(np.arange(len(X)), sub)
    idata = fake_idata(em_map.params_, draws=200, spread=0.03, seed=1)
    comp = compare(X, idata, em_map, posterior_rows=sub)
    loo = comp.predictive.pointwise["out_of_sample"]["posterior"]
    ll = draw_log_likelihood(X, posterior_draws(idata, "full")).reshape(400, -1)
    # Held-out rows: log mean over draws of p(x_i | draw), no importance sampling.
    np.testing.assert_allclose(loo[held], logsumexp(ll[:, held], axis=0) - np.log(400), rtol=1e-12)
    # Rows it saw: ArviZ's PSIS-LOO of those rows alone.
    seen = fake_idata(em_map.params_, draws=200, spread=0.03, seed=1)
    values = ll.reshape(2, 200, -1)[..., sub]
    seen.add_groups(
        log_likelihood=xr.Dataset(
            {"x": (("chain", "draw", "observation"), values)},
            coords={"chain": seen.posterior.chain, "draw": seen.posterior.draw},
        )
    )
    expected = az.loo(seen, pointwise=True)
    np.testing.assert_allclose(loo[sub], np.asarray(expected.loo_i), rtol=1e-10)
    assert "log_likelihood" not in idata.groups()  # az.loo's rows are the posterior's only
    assert comp.predictive.pareto_k_max <= float(np.max(expected.pareto_k)) + 1e-12


@pytest.mark.parametrize(
    "rows", [np.array([0, 0, 1]), np.array([0, 272]), np.array([[1, 2]]), np.array([0.5, 1.0])]
)
def test_bad_posterior_rows_are_refused(fake_idata, rows):
    X = load("faithful").data
    em_map = EMGaussianMixture(2, prior="default", n_init=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="posterior_rows must be distinct"):
        compare(X, fake_idata(em_map.params_, draws=20), em_map, posterior_rows=rows)


@pytest.mark.compiles
def test_a_report_samples_the_subsample_and_says_so(tmp_path):
    from latentmix import cli

    out = tmp_path / "report"
    argv = ["report", "faithful", "-k", "2", "--draws", "150", "--tune", "150", "--chains", "2"]
    argv += ["--n-init", "2", "--seed", "3", "--posterior-rows", "68", "--out", str(out)]
    assert cli.main([*argv, "--quiet"]) == 0
    record = json.loads((out / "estimates.json").read_text())
    assert record["settings"]["posterior_rows"] == 68
    assert record["data"]["n_train"] == 272  # EM on every row
    assert any("subsample of 68 of the 272 rows" in w for w in record["warnings"])
    assert "--posterior-rows 68" in (out / "report.md").read_text()
    idata = az.from_netcdf(out / "posterior.nc")
    assert idata.observed_data["x"].shape == (68, 2)
    assert idata.log_likelihood["x"].sizes["observation"] == 68
    with warnings.catch_warnings():  # ArviZ's note on Pareto k of a 300-draw posterior
        warnings.simplefilter("ignore", UserWarning)
        assert np.isfinite(az.loo(idata).elpd_loo)
    # The posterior of a quarter of the rows is about sqrt(4) = 2 times wider than the
    # Laplace approximation around the MAP of all the rows.
    entries = [e for t in record["comparison"]["tables"].values() for e in t]
    ratios = [e["sd"] / e["laplace_sd"] for e in entries if e.get("laplace_sd")]
    assert 1.5 < np.median(ratios) < 2.7, ratios
