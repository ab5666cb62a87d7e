"""The report writer on a fake posterior: files, content, escaping and atomic replacement."""

import json
import shutil

import numpy as np
import pytest
from scipy import stats
from test_compare import fake_idata, saddle_1d

from latentmix.compare import compare
from latentmix.datasets import Dataset, load, read_csv, synthetic_3d
from latentmix.estimator import EMGaussianMixture
from latentmix.params import MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior
from latentmix.report import build
from latentmix.report.build import (
    Analysis,
    ReportSettings,
    markdown_escape,
    sampling_summary,
    staging_directory,
    write_report,
)

FILES = {"index.html", "report.md", "estimates.json", "posterior.nc", "figures"}


def fake_analysis(dataset: Dataset, K: int, kind: str = "full", seed: int = 0) -> Analysis:
    """Real EM fits, a fake posterior scattered around the MAP (no sampler)."""
    X = dataset.data
    prior = ConjugatePrior.default(X, K, kind)
    mle = EMGaussianMixture(K, covariance_type=kind, n_init=2, random_state=seed).fit(X)
    em_map = EMGaussianMixture(K, covariance_type=kind, prior=prior, n_init=2, random_state=seed)
    em_map.fit(X)
    idata = fake_idata(em_map.params_, chains=2, draws=100, spread=0.03, seed=seed)
    comparison = compare(
        X, idata, em_map, mle=mle, truth=dataset.truth, feature_names=dataset.feature_names
    )
    return Analysis(
        dataset=dataset,
        X=X,
        X_test=None,
        settings=ReportSettings(K, kind, draws=100, chains=2, seed=seed),
        prior=prior,
        mle=mle,
        map=em_map,
        idata=idata,
        comparison=comparison,
        sampling=sampling_summary(idata),
        timings={"EM MLE": 0.1},
        command="latentmix report test -k 2",
    )


def leftovers(parent, name):
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]


@pytest.fixture(scope="module")
def faithful_analysis():
    return fake_analysis(load("faithful"), 2)


@pytest.fixture(scope="module")
def faithful_report(tmp_path_factory, faithful_analysis):
    out = tmp_path_factory.mktemp("reports") / "faithful"
    index = write_report(faithful_analysis, out)
    return out, index


def test_report_files_and_content(faithful_report):
    out, index = faithful_report
    assert index == out / "index.html"
    assert {p.name for p in out.iterdir()} == FILES
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert "data.png" in figures and "em_objective.png" in figures
    assert len(figures) == 9
    page = index.read_text()
    # Self-contained: every figure inline, nothing fetched.
    assert page.count('src="data:image/png;base64,') == len(figures)
    for needle in ('src="http', 'href="http', "<script", "<link", "@import", "url("):
        assert needle not in page
    for needle in (
        "Model and prior",
        "weights[1]",
        "PSIS-LOO",
        "Cluster membership",
        "degrees_of_freedom",
        "R-hat",
        "Package versions",
        "eruptions",
    ):
        assert needle in page
    md = (out / "report.md").read_text()
    for fig in figures:
        assert f"](figures/{fig})" in md
    record = json.loads((out / "estimates.json").read_text())
    assert record["settings"]["n_components"] == 2
    assert len(record["comparison"]["tables"]["means"]) == 4
    assert record["comparison"]["interval"]["kind"] == "equal-tailed"
    # The Wald and Laplace intervals: columns in both pages, fields in estimates.json.
    for text in (page, md):
        assert "Wald (MLE)" in text and "Laplace (MAP)" in text
        assert "Laplace approximation around the MAP: width" in text
    row = record["comparison"]["tables"]["covariances"][1]
    assert row["label"] == "covariances[1, eruptions, waiting]"
    for key in ("wald_lower", "wald_upper", "wald_se", "laplace_lower", "laplace_upper"):
        assert isinstance(row[key], float)
    assert row["wald_lower"] < row["mle"] < row["wald_upper"]
    assert row["laplace_lower"] < row["map"] < row["laplace_upper"]
    cell = f"[{build._fmt(row['laplace_lower'], 3)}, {build._fmt(row['laplace_upper'], 3)}]"
    assert f"<td>{cell}</td>" in page
    agreement = {(a["method"], a["parameter"]) for a in record["comparison"]["interval_agreement"]}
    assert ("laplace", "all") in agreement and ("wald", "covariances") in agreement
    assert record["comparison"]["warnings"] == []


def test_numbers_in_page_match_comparison(faithful_report):
    import arviz as az

    out, _ = faithful_report
    record = json.loads((out / "estimates.json").read_text())
    idata = az.from_netcdf(out / "posterior.nc")
    draws = idata.posterior["means"].values
    row = record["comparison"]["tables"]["means"][3]
    assert row["label"] == "means[2, waiting]"
    assert row["mean"] == pytest.approx(draws[:, :, 1, 1].mean(), rel=1e-12)
    # The pointwise log-likelihood is left out of the file (it is n values per draw).
    assert set(idata.groups()) == {"posterior"}
    assert set(idata.posterior.data_vars) == {"weights", "means", "covariances"}


def test_synthetic_truth_diagonal_covariances(tmp_path):
    out = tmp_path / "syn"
    write_report(fake_analysis(synthetic_3d(n_samples=150), 3, kind="diag"), out)
    page = (out / "index.html").read_text()
    assert "<th>truth</th>" in page
    record = json.loads((out / "estimates.json").read_text())
    truths = [row["truth"] for row in record["comparison"]["tables"]["covariances"]]
    # The true variances of synthetic_3d, components in the MAP's order.
    assert sorted(truths) == pytest.approx(sorted([1, 1, 1, 1.5, 0.5, 1, 0.6, 0.6, 0.8]))
    assert "truth: black dotted" in page


def test_one_dimensional_density_figure():
    from latentmix.compare import posterior_draws
    from latentmix.report import figures

    params = MixtureParams(
        np.array([0.3, 0.7]), np.array([[-2.0], [3.0]]), np.array([[[1.0]], [[2.0]]]), "full"
    )
    X = sample_mixture(params, 100, random_state=0)[0]
    idata = fake_idata(params, chains=2, draws=50, seed=1)
    comp = compare(X, idata, params, mle=params._replace(means=params.means + 0.1))
    fig = figures.density_1d(X, comp, posterior_draws(idata, "full"))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(labels) == {
        "data",
        "posterior 94% band",
        "posterior predictive",
        "MLE plug-in",
        "MAP plug-in",
    }
    # The plotted MAP curve is the mixture density.
    x, y = ax.get_lines()[-1].get_data()
    direct = 0.3 * stats.norm(-2, 1).pdf(x) + 0.7 * stats.norm(3, np.sqrt(2)).pdf(x)
    np.testing.assert_allclose(y, direct, rtol=1e-10)


def test_markup_in_column_names_is_escaped(tmp_path):
    csv = tmp_path / "evil<i>.csv"
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(5, 1, (40, 2))])
    rows = "\n".join(f"{a:.4f},{b:.4f}" for a, b in X)
    csv.write_text(f"<b>x</b>,<script>alert('y')</script>|*_\n{rows}\n")
    out = tmp_path / "evil"
    out.mkdir()
    (out / "index.html").write_text("an earlier report, replaced as a whole")
    (out / "estimates.json").write_text("{}")
    (out / "stale.txt").write_text("gone with the earlier report")
    write_report(fake_analysis(read_csv(csv), 2), out)
    assert {p.name for p in out.iterdir()} == FILES
    assert leftovers(tmp_path, "evil") == []
    page = (out / "index.html").read_text()
    assert "<b>x</b>" not in page and "<script" not in page and "<i>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(&#39;y&#39;)&lt;/script&gt;" in page
    md = (out / "report.md").read_text()
    assert "<b>" not in md and "<script" not in md
    assert "&lt;b&gt;x&lt;/b&gt;" in md
    assert r"\|\*\_" in md  # table cell separators and emphasis neutralised
    # Interval cells are brackets in the page and escaped brackets (not links) in Markdown.
    assert "<td>[" in page and "| \\[" in md


def test_markdown_escape():
    assert markdown_escape("a|b_<c>`d\ne") == r"a\|b\_&lt;c&gt;\`d e"


def test_failed_write_keeps_earlier_report(
    tmp_path, monkeypatch, faithful_report, faithful_analysis
):
    out = tmp_path / "r"
    shutil.copytree(faithful_report[0], out)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(analysis, figdir):
        (figdir / "half.png").write_bytes(b"partial")
        raise RuntimeError("figure failed")

    monkeypatch.setattr(build, "draw_figures", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report(faithful_analysis, out)
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert leftovers(tmp_path, "r") == []


def test_staging_directory_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with (
        pytest.raises(ValueError, match="cannot write the report"),
        staging_directory(blocker / "sub"),
    ):
        pass
    with pytest.raises(ValueError, match="not a directory"), staging_directory(blocker):
        pass
    # A directory that is not a report is never replaced.
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with (
        pytest.raises(ValueError, match="other than a latentmix report"),
        staging_directory(precious),
    ):
        pass
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert leftovers(tmp_path, "home") == []
    # An empty directory is fine.
    (tmp_path / "empty").mkdir()
    with staging_directory(tmp_path / "empty") as tmp:
        (tmp / "index.html").write_text("new")
    assert (tmp_path / "empty" / "index.html").read_text() == "new"


def test_settings_are_checked():
    with pytest.raises(ValueError, match="test fraction"):
        ReportSettings(2, test_fraction=1.5).check()
    with pytest.raises(ValueError, match="draws"):
        ReportSettings(2, draws=0).check()
    with pytest.raises(ValueError, match="covariance_type"):
        ReportSettings(2, covariance_type="banana").check()
    assert isinstance(ReportSettings(2).check().seed, int)
    train, test = build.split_rows(100, 0.25, 2, seed=0)
    assert len(test) == 25 and len(np.intersect1d(train, test)) == 0
    with pytest.raises(ValueError, match="held-out"):
        build.split_rows(5, 0.01, 2, seed=0)


def test_warning_box_lists_problems(faithful_analysis):
    from dataclasses import replace

    # (The fake posterior's own R-hat and ESS, from 2 x 100 draws, are not the point here.)
    clean = replace(faithful_analysis, sampling={**faithful_analysis.sampling, "problems": []})
    assert build.warnings_list(clean, build.diagnostics_summary(clean)) == []
    troubled = replace(
        faithful_analysis,
        em_warnings=["EM MLE: reached max_iter", "EM MLE: reached max_iter"],
        sampling={**faithful_analysis.sampling, "problems": ["R-hat up to 1.2"],
                  "n_relabelled": 150},
        mle_error="a component collapsed",
    )  # fmt: skip
    found = build.warnings_list(troubled, build.diagnostics_summary(troubled))
    assert found == [
        "R-hat up to 1.2",
        "150 of 200 draws had to be relabelled: the components overlap or swap often, so "
        "component-wise summaries are fragile.",
        "There is no MLE: a component collapsed",
        "EM MLE: reached max_iter",
    ]


def test_no_wald_or_laplace_interval_reaches_the_warning_box(tmp_path):
    from dataclasses import replace

    X, saddle = saddle_1d()
    dataset = Dataset("saddle", X, ("v",), "bimodal, fitted at a saddle point")
    analysis = fake_analysis(dataset, 2)
    # Estimates at a saddle point: the information is not positive definite for either.
    comparison = compare(
        X, fake_idata(saddle, seed=3), saddle, mle=saddle, prior=analysis.prior,
        feature_names=["v"],
    )  # fmt: skip
    analysis = replace(analysis, comparison=comparison, idata=fake_idata(saddle, seed=3))
    found = build.warnings_list(analysis, build.diagnostics_summary(analysis))
    assert found[-2:] == list(comparison.warnings)
    out = tmp_path / "saddle"
    write_report(analysis, out)
    page = (out / "index.html").read_text()
    assert "No Laplace intervals for the MAP: the observed information is not positive" in page
    assert "Laplace approximation around the MAP: width" not in page
    assert "blue outline" not in page
    record = json.loads((out / "estimates.json").read_text())
    assert all(r["laplace_lower"] is None for r in record["comparison"]["tables"]["means"])
    assert record["comparison"]["interval_agreement"] == []
