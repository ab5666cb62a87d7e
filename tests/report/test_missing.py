"""A report of data with missing cells and observation weights, without the sampler.

The posterior is the fake one of tests/conftest.py (draws around the EM MAP); the EM fits,
their weighted intervals, the comparison and the imputation section are real.
"""

import json

import numpy as np
import pytest

from latentmix.comparison import compare
from latentmix.datasets import Dataset, synthetic_3d
from latentmix.em import intervals
from latentmix.em.missing import default_prior, impute
from latentmix.estimator import EMGaussianMixture
from latentmix.report import Analysis, ReportSettings, write_report
from latentmix.report.analysis import diagnostics_summary
from latentmix.report.imputation import imputation, point_posterior
from latentmix.report.vb import fit_vb


def incomplete_data(seed=0, n=150, fraction=0.1):
    """synthetic_3d with a fraction of its cells deleted at random (no row emptied) and
    integer weights 1..3."""
    rng = np.random.default_rng(seed)
    data = synthetic_3d(n_samples=n)
    X = data.data.copy()
    holes = rng.random(X.shape) < fraction
    holes[holes.all(axis=1), 0] = False
    X[holes] = np.nan
    w = rng.integers(1, 4, size=n).astype(float)
    dataset = Dataset(
        "holes", X, data.feature_names, "synthetic, cells deleted", sample_weight=w,
        weights_column="w",
    )  # fmt: skip
    return dataset, w


def fit_both(X, w, K, covariance_type, seed=0):
    prior = default_prior(X, K, covariance_type, sample_weight=w)
    fits = [
        EMGaussianMixture(
            K, covariance_type=covariance_type, prior=p, n_init=2, random_state=seed,
            missing="ignore",
        ).fit(X, sample_weight=w)
        for p in (None, prior)
    ]  # fmt: skip
    return prior, *fits


@pytest.fixture(scope="module")
def incomplete_analysis(fake_idata):
    dataset, w = incomplete_data()
    X = dataset.data
    prior, mle, em_map = fit_both(X, w, 3, "diag")
    idata = fake_idata(em_map.params_, draws=100, spread=0.03, seed=1)
    comparison = compare(
        X, idata, em_map, mle=mle, feature_names=dataset.feature_names, prior=prior,
        random_state=0, sample_weight=w,
    )  # fmt: skip
    imp = imputation(X, em_map.params_, idata, dataset.feature_names, seed=0)
    settings = ReportSettings(3, "diag", draws=100, chains=2, seed=0, missing="ignore", n_init=2)
    return Analysis(
        dataset=dataset,
        X=X,
        X_test=None,
        settings=settings,
        prior=prior,
        mle=mle,
        map=em_map,
        idata=idata,
        comparison=comparison,
        diagnostics=diagnostics_summary(idata),
        timings={"em_mle": 0.1, "em_map": 0.1},
        command="latentmix report holes.csv -k 3 --missing ignore --weights w",
        sample_weight=w,
        imputation=imp,
        vb=fit_vb(X, settings, prior, em_map.params_, w),
    )


def test_weighted_wald_intervals_are_those_of_the_rows_repeated():
    # Integer weights: the weighted information is that of the data with each row repeated
    # w times, so the Wald intervals the report shows must be the repeated rows' intervals.
    dataset, w = incomplete_data(n=80)
    X = dataset.data
    prior, mle, em_map = fit_both(X, w, 2, "diag")
    fake = point_posterior(_posterior_like(em_map.params_), em_map.params_, 20)
    comparison = compare(X, fake, em_map, mle=mle, prior=prior, random_state=0)
    weighted = compare(X, fake, em_map, mle=mle, prior=prior, random_state=0, sample_weight=w)
    repeated = intervals.standard_errors(
        weighted.mle, np.repeat(X, w.astype(int), axis=0), level=weighted.level
    )
    np.testing.assert_allclose(weighted.wald.lower, repeated.lower, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(weighted.wald.upper, repeated.upper, rtol=1e-5, atol=1e-8)
    # ... and they are not the unweighted ones compare() computed.
    assert not np.allclose(comparison.wald.lower, weighted.wald.lower, rtol=1e-3)
    entry = weighted.tables["means"].entries[0]
    assert entry.wald_lower == pytest.approx(weighted.wald.lower[entry.column])
    assert {a.source for a in weighted.agreement} == {"wald", "laplace"}


def _posterior_like(params):
    import arviz as az

    from tests.conftest import COVARIANCE_DIMS

    return az.from_dict(
        posterior={
            "weights": params.weights[None, None],
            "means": params.means[None, None],
            "covariances": np.asarray(params.covariances)[None, None],
        },
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": COVARIANCE_DIMS[params.covariance_type],
        },
    )


def test_a_point_mass_posterior_predicts_the_em_imputation():
    # With every draw at the MAP the posterior predictive IS the MAP's conditional law: its
    # mean and sd match EM's impute within Monte Carlo error, and the cells come largest sd
    # first.
    dataset, w = incomplete_data(n=120, fraction=0.15)
    X = dataset.data
    _, _, em_map = fit_both(X, w, 3, "full")
    params = em_map.params_
    point = point_posterior(_posterior_like(params), params, 4000)
    imp = imputation(X, params, point, dataset.feature_names, seed=2, n_cells=5)
    mean, sd = impute(X, params, return_std=True)
    assert imp.n_cells == int(np.isnan(X).sum())
    assert imp.n_rows == int(np.isnan(X).any(axis=1).sum())
    shown = [c.em_sd for c in imp.cells]
    assert shown == sorted(shown, reverse=True)
    assert shown[0] == pytest.approx(sd[np.isnan(X)].max())
    for c in imp.cells:
        assert c.em_mean == pytest.approx(mean[c.row, c.column])
        assert abs(c.mean - c.em_mean) < 4 * c.em_sd / np.sqrt(4000)
        assert c.sd == pytest.approx(c.em_sd, rel=0.08)
        assert c.lower == pytest.approx(c.plug_in_lower, abs=0.2 * c.em_sd)
    assert imputation(synthetic_3d(n_samples=30).data, params, point, "abc") is None


def test_report_of_incomplete_weighted_data(incomplete_analysis, tmp_path):
    analysis = incomplete_analysis
    out = tmp_path / "holes"
    write_report(analysis, out)
    assert (out / "figures" / "imputation.png").is_file()
    page = (out / "index.html").read_text()
    md = (out / "report.md").read_text()
    n_cells = int(np.isnan(analysis.X).sum())
    n_rows = int(np.isnan(analysis.X).any(axis=1).sum())
    for text in (page, md):
        assert "Missing cells" in text
        assert f"{n_cells} of {analysis.X.size} cells" in text
        assert f"in {n_rows} of {len(analysis.X)}" in text
        assert "per row, unweighted" in text
        assert "Observation weights from column w" in text
        assert "posterior predictive mean ± sd" in text
    record = json.loads((out / "estimates.json").read_text())
    assert record["settings"]["missing"] == "ignore" and record["settings"]["weighted"]
    assert record["data"]["n_missing_cells"] == n_cells
    assert record["data"]["n_incomplete_rows"] == n_rows
    assert record["data"]["weights_column"] == "w"
    assert record["data"]["total_weight"] == pytest.approx(analysis.sample_weight.sum())
    missing = record["missing"]
    assert missing["n_cells"] == n_cells and len(missing["cells"]) == 8
    first = missing["cells"][0]
    assert np.isnan(analysis.dataset.data[first["row"], first["column"]])
    assert first["em_sd"] == max(c["em_sd"] for c in missing["cells"])


def test_complete_unweighted_report_has_no_missing_section(shared_report):
    page = (shared_report / "index.html").read_text()
    assert 'id="missing"' not in page and "per row, unweighted" not in page
    record = json.loads((shared_report / "estimates.json").read_text())
    assert record["missing"] is None
    assert record["data"]["n_missing_cells"] == 0 and record["data"]["total_weight"] is None
