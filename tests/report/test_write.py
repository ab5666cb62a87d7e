"""Writing a report: the files, the page's content and escaping, and the guarded output."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from latentmix.output import MANIFEST
from latentmix.report import write
from latentmix.report.context import figure_captions, fmt
from latentmix.report.write import write_report

DOC = Path(__file__).parents[2] / "docs" / "posterior-nc.md"
FILES = {"index.html", "report.md", "estimates.json", "posterior.nc", "figures", MANIFEST}


def hidden(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_files_figures_and_self_contained_page(shared_report, shared_analysis):
    assert {p.name for p in shared_report.iterdir()} == FILES
    figures = sorted(p.name for p in (shared_report / "figures").iterdir())
    # One file per caption, and no other.
    assert figures == sorted(figure_captions(shared_analysis.comparison))
    # 9, the posterior pairs and correlations, and two predictive checks (d = 3).
    assert len(figures) == 13
    page = (shared_report / "index.html").read_text()
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
        "Components are numbered from 1",
        "<th>truth</th>",
        "truth: black dotted",
        "posterior 95%",
    ):
        assert needle in page, needle
    md = (shared_report / "report.md").read_text()
    for fig in figures:
        assert f"](figures/{fig})" in md
    for text in (page, md):
        assert "Wald (MLE)" in text and "Laplace (MAP)" in text
        assert "Laplace approximation around the MAP: width" in text


def test_every_file_is_as_readable_as_the_page(shared_report):
    mode = (shared_report / "index.html").stat().st_mode & 0o777
    for path in shared_report.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o777 == mode, path


def test_interval_cells_match_the_record(shared_report):
    page = (shared_report / "index.html").read_text()
    md = (shared_report / "report.md").read_text()
    record = json.loads((shared_report / "estimates.json").read_text())
    row = record["comparison"]["tables"]["means"][1]
    cell = f"[{fmt(row['laplace_lower'], 3)}, {fmt(row['laplace_upper'], 3)}]"
    assert f"<td>{cell}</td>" in page
    # Brackets in the page; escaped brackets (not links) in Markdown.
    assert "| \\[" in md


def test_markup_in_column_names_is_escaped(shared_report):
    page = (shared_report / "index.html").read_text()
    assert "<b>x</b>" not in page and "<script" not in page and "<i>" not in page
    assert "<em>data" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(&#39;y&#39;)&lt;/script&gt;" in page
    md = (shared_report / "report.md").read_text()
    assert "<b>" not in md and "<script" not in md and "<em>" not in md
    assert "&lt;b&gt;x&lt;/b&gt;" in md
    assert r"\|\*\_" in md  # table cell separators and emphasis neutralised
    assert r"\[a\](b)" in md  # no link


def test_a_foreign_file_inside_an_earlier_report_survives_a_rerun(
    report_copy, shared_analysis, monkeypatch
):
    (report_copy / "notes.txt").write_text("my notes")
    (report_copy / "figures" / "mine.png").write_bytes(b"my figure")
    inode = (report_copy / "notes.txt").stat().st_ino
    old_page = (report_copy / "index.html").read_text()
    # The figures are not the point here: one small file stands for them.
    monkeypatch.setattr(write, "save_figures", _one_figure)
    write_report(shared_analysis, report_copy)
    assert (report_copy / "notes.txt").read_text() == "my notes"
    assert (report_copy / "notes.txt").stat().st_ino == inode
    assert (report_copy / "figures" / "mine.png").read_bytes() == b"my figure"
    # The report's own files are the new ones: the old figures are gone, the page is new.
    assert sorted(p.name for p in (report_copy / "figures").iterdir()) == ["data.png", "mine.png"]
    assert (report_copy / "index.html").read_text() != old_page
    assert hidden(report_copy.parent) == []


def _one_figure(analysis, figdir):
    (figdir / "data.png").write_bytes(b"\x89PNG")
    return [{"file": "data.png", "title": "t", "caption": "c"}]


def test_a_failed_write_leaves_the_earlier_report_whole(report_copy, shared_analysis, monkeypatch):
    before = {str(p): p.read_bytes() for p in report_copy.rglob("*") if p.is_file()}

    def broken(analysis, figdir):
        (figdir / "half.png").write_bytes(b"partial")
        raise RuntimeError("figure failed")

    monkeypatch.setattr(write, "save_figures", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report(shared_analysis, report_copy)
    after = {str(p): p.read_bytes() for p in report_copy.rglob("*") if p.is_file()}
    assert after == before
    assert hidden(report_copy.parent) == []


@pytest.mark.parametrize(
    "make",
    [
        # A user's directory.
        lambda out: (out.mkdir(), (out / "thesis.tex").write_text("years of work")),
        # What the old writer took for a report: index.html and an empty estimates.json.
        lambda out: (
            out.mkdir(),
            (out / "index.html").write_text("my website"),
            (out / "estimates.json").write_text("{}"),
        ),
        # A file.
        lambda out: out.write_text("a file"),
    ],
    ids=["directory", "index-and-empty-json", "file"],
)
def test_a_foreign_out_is_refused_and_left_alone(tmp_path, shared_analysis, make, monkeypatch):
    out = tmp_path / "out"
    make(out)
    before = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    monkeypatch.setattr(write, "save_figures", _one_figure)
    with pytest.raises(ValueError, match=r"did not write|not a directory"):
        write_report(shared_analysis, out)
    after = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    assert hidden(tmp_path) == []


def _posterior_row(analysis):
    return next(r for r in analysis.comparison.predictive.rows if r.estimate == "posterior")


def _all_dims(idata) -> set:
    return {str(dim) for group in idata.groups() for dim in idata[group].dims}


def test_posterior_nc_works_in_arviz(shared_report, shared_analysis):
    import arviz as az

    idata = az.from_netcdf(shared_report / "posterior.nc")
    assert {"posterior", "log_likelihood", "prior", "reference"} <= set(idata.groups())
    assert not any(g.startswith("warmup") for g in idata.groups())
    assert not [dim for dim in _all_dims(idata) if "__" in dim]
    assert set(idata.posterior.data_vars) == {"weights", "means", "covariances"}
    # Components 0-based in the file's coordinates, as in the arrays.
    assert list(idata.posterior["component"].values) == [0, 1, 2]
    assert idata.posterior["means"].shape == (2, 100, 3, 3)
    assert shared_analysis.idata.posterior["means"].values == pytest.approx(
        idata.posterior["means"].values
    )
    # az.loo on the file alone, without a warning: the report's PSIS-LOO up to float32.
    assert idata.log_likelihood["x"].dtype == np.float32
    assert idata.log_likelihood["x"].shape == (2, 100, len(shared_analysis.X))
    assert idata.attrs["log_likelihood"] == "every draw"
    loo = az.loo(idata)
    posterior_row = _posterior_row(shared_analysis)
    assert posterior_row.out_of_sample_estimator == "PSIS-LOO"
    assert loo.elpd_loo == pytest.approx(posterior_row.out_of_sample, rel=1e-5)
    summary = az.summary(idata)
    assert "weights[0]" in summary.index and "means[2, x]" not in summary.index
    assert len(summary) == 3 + 9 + 9  # weights, means, diag covariances
    assert np.isfinite(summary["mean"]).all()


def test_posterior_nc_prior_group_is_the_prior(shared_report, shared_analysis):
    import arviz as az

    idata = az.from_netcdf(shared_report / "posterior.nc")
    prior, post = idata.prior, idata.posterior
    assert set(prior.data_vars) == set(post.data_vars)
    for name in post.data_vars:
        assert prior[name].dims == post[name].dims, name
        assert prior[name].shape[2:] == post[name].shape[2:], name
    assert prior.sizes["chain"] == 1 and prior.sizes["draw"] == write.PRIOR_DRAWS
    assert prior["weights"].sum("component").values == pytest.approx(1.0)
    assert (prior["covariances"] > 0).all()
    # Diagonal covariances: each variance is InvGamma(nu / 2, scale_j / 2), whose median is
    # known; the means' prior median is the prior mean.
    spec = shared_analysis.prior
    expected = stats.invgamma(spec.degrees_of_freedom / 2, scale=spec.scale / 2).median()
    medians = prior["covariances"].median(("chain", "draw", "component")).values
    assert medians == pytest.approx(expected, rel=0.15)
    means = prior["means"].median(("chain", "draw", "component")).values
    spread = np.sqrt(spec.scale / spec.mean_precision)
    assert np.all(np.abs(means - spec.mean) < 0.2 * spread)
    assert json.loads(prior.attrs["prior"]) == spec.to_dict()


def test_posterior_nc_reference_says_it_is_the_em_map(shared_report, shared_analysis):
    import arviz as az

    ref = az.from_netcdf(shared_report / "posterior.nc").reference
    em, settings = shared_analysis.map, shared_analysis.settings
    attrs = ref.attrs
    assert attrs["source"] == "em_map" and attrs["estimate"].startswith("EM MAP")
    assert attrs["covariance_type"] == "diag"
    assert attrs["order"] == shared_analysis.comparison.order
    assert attrs["n_init"] == settings.n_init == 2
    assert attrs["seed"] == settings.seed == 0
    assert 1 <= attrs["n_restarts_reaching_it"] <= 2
    assert attrs["objective"] == pytest.approx(em.objective_)
    assert attrs["log_likelihood"] == pytest.approx(em.log_likelihood_)
    assert attrs["log_prior"] == pytest.approx(em.log_prior_)
    assert attrs["n_iter"] == em.n_iter_ and attrs["converged"] == int(em.converged_)
    assert json.loads(attrs["prior"]) == shared_analysis.prior.to_dict()
    assert ref["means"].values == pytest.approx(shared_analysis.comparison.map.means)
    assert ref["covariances"].dims == ("component", "feature")


def test_posterior_file_drops_the_sampler_s_unconstrained_variables(shared_analysis):
    # What nutpie's InferenceData holds beside the draws: transformed variables with their
    # own dims, and warm-up groups.
    idata = shared_analysis.idata.copy()
    post = idata.posterior
    idata.posterior = post.assign(
        weights_simplex__=(("chain", "draw", "weights_simplex___dim_0"), np.zeros((2, 100, 2))),
        covariances_log__=(
            ("chain", "draw", "covariances_log___dim_0", "covariances_log___dim_1"),
            np.zeros((2, 100, 3, 3)),
        ),
    ).assign_coords(weights_simplex___dim_0=[0, 1])
    idata.add_groups(warmup_posterior=post)
    analysis = dataclasses.replace(shared_analysis, idata=idata)
    saved = write.posterior_file(analysis)
    assert not [dim for dim in _all_dims(saved) if "__" in dim]
    assert set(saved.posterior.data_vars) == {"weights", "means", "covariances"}
    assert "warmup_posterior" not in saved.groups()


def test_log_likelihood_thinning_keeps_the_file_small():
    # A small data set keeps every draw; 20,000 rows keep every 8th (320 MB of float32 to
    # 40 MB); at 1e5 rows even every 40th would leave 100 draws, too few for PSIS.
    assert write.log_likelihood_thinning(272, 4, 1000) == 1
    assert write.log_likelihood_thinning(20_000, 4, 1000) == 8
    assert write.log_likelihood_thinning(100_000, 4, 1000) is None
    for n in (1000, 2500, 2501, 10_000, 12_345, 20_000, 25_000):
        step = write.log_likelihood_thinning(n, 4, 1000)
        kept = 4 * -(-1000 // step)
        assert 4 * n * kept <= write.LOG_LIKELIHOOD_BYTES
        # The smallest step that fits.
        assert step == 1 or 4 * n * 4 * -(-1000 // (step - 1)) > write.LOG_LIKELIHOOD_BYTES
    # A run too short to thin keeps all its draws or none.
    assert write.log_likelihood_thinning(10, 2, 100, max_bytes=1000) is None


# 100 draws of a fake posterior: PSIS warns, as it should.
@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto:UserWarning")
def test_thinned_log_likelihood_is_said_and_az_loo_still_works(
    shared_analysis, tmp_path, monkeypatch
):
    import arviz as az

    monkeypatch.setattr(write, "MIN_LOG_LIKELIHOOD_DRAWS", 50)
    n = len(shared_analysis.X)
    saved = write.posterior_file(shared_analysis, max_log_likelihood_bytes=4 * n * 2 * 50)
    saved.to_netcdf(str(tmp_path / "posterior.nc"))
    idata = az.from_netcdf(tmp_path / "posterior.nc")
    assert idata.log_likelihood["x"].shape == (2, 50, n)
    assert idata.attrs["log_likelihood_step"] == 2
    assert "every 2th draw (100 of 200)" in idata.attrs["log_likelihood"]
    assert list(idata.log_likelihood["draw"].values) == list(range(0, 100, 2))
    assert np.isfinite(az.loo(idata).elpd_loo)


def test_a_log_likelihood_left_out_for_size_can_be_restored(shared_analysis, tmp_path):
    import arviz as az

    saved = write.posterior_file(shared_analysis, max_log_likelihood_bytes=1000)
    saved.to_netcdf(str(tmp_path / "posterior.nc"))
    idata = az.from_netcdf(tmp_path / "posterior.nc")
    assert "log_likelihood" not in idata.groups()
    assert idata.attrs["log_likelihood"].startswith("left out:")
    assert "restore_log_likelihood" in idata.attrs["log_likelihood"]
    restored = write.restore_log_likelihood(idata)
    assert "log_likelihood" not in idata.groups()  # a copy
    np.testing.assert_allclose(
        restored.log_likelihood["x"].values,
        shared_analysis.idata.log_likelihood["x"].values,
        rtol=1e-12,
    )
    posterior_row = _posterior_row(shared_analysis)
    assert az.loo(restored).elpd_loo == pytest.approx(posterior_row.out_of_sample, rel=1e-12)


def test_an_analysis_without_a_prior_writes_no_prior_group(shared_analysis):
    saved = write.posterior_file(dataclasses.replace(shared_analysis, prior=None))
    assert "prior" not in saved.groups()
    assert saved.attrs["prior"].startswith("none")
    assert saved.reference.attrs["prior"] == "none"


def test_posterior_nc_is_documented_with_its_rule():
    text = DOC.read_text()
    for needle in (
        f"{write.LOG_LIKELIHOOD_BYTES // 1_000_000} MB",
        f"{write.MIN_LOG_LIKELIHOOD_DRAWS} draws",
        f"{write.PRIOR_DRAWS} draws",
        "restore_log_likelihood",
        "az.loo(idata)",
    ):
        assert needle in text, needle


@pytest.mark.parametrize("covariance_type", ["tied_diag", "tied_spherical"])
def test_a_report_of_a_shared_variance_type_is_written(fake_analysis, tmp_path, covariance_type):
    # A fake posterior around a real EM MAP: the page, its figures and the record, no sampling.
    from latentmix.datasets import synthetic_3d

    analysis = fake_analysis(synthetic_3d(n_samples=120), 3, covariance_type)
    out = tmp_path / covariance_type
    write_report(analysis, out)
    page = (out / "index.html").read_text()
    md = (out / "report.md").read_text()
    shared = "shared by all components" if covariance_type == "tied_diag" else "every feature"
    assert f"<code>{covariance_type}</code> covariances" in page
    assert covariance_type.replace("_", "\\_") + " covariances" in md
    for text in (page, md):
        assert shared in text
    record = json.loads((out / "estimates.json").read_text())
    assert record["settings"]["covariance_type"] == covariance_type
    covs = record["comparison"]["estimates"]["map"]["covariances"]
    assert np.shape(covs) == ((3,) if covariance_type == "tied_diag" else ())


def test_vb_column_summary_elbo_and_marginal_figures(shared_report, shared_analysis):
    from latentmix.report.vb import width_ratios

    vb = shared_analysis.vb
    page = (shared_report / "index.html").read_text()
    md = (shared_report / "report.md").read_text()
    ratios = width_ratios(vb, shared_analysis.comparison)
    total = sum(len(t.entries) for t in shared_analysis.comparison.tables.values())
    assert ratios.size == total
    assert "times as wide as the NUTS posterior's" in md
    for text in (page, md):
        assert "VB mean" in text and "VB 95%" in text
        assert f"(median over {total} entries;" in text
        assert "VB (ELBO)" in text and "a lower bound on log p(X)" in text
        assert "green outline: histogram of draws of the VB posterior q" in text
    record = json.loads((shared_report / "estimates.json").read_text())["vb"]
    assert record["elbo"] == pytest.approx(vb.elbo) and record["error"] is None
    assert record["width_ratio"]["median"] == pytest.approx(np.median(ratios))
    assert len(record["entries"]) == total
    # Each entry: q's mean inside its own interval, which is the intervals' (source "vb").
    assert vb.intervals.source == "vb"
    for table in shared_analysis.comparison.tables.values():
        for e in table.entries:
            mean, lo, hi = vb.entry(e)
            assert lo < mean < hi
            assert lo == vb.intervals.lower[e.column]
            samples = vb.samples(table.entries[0].label.split("[")[0], e.index)
            assert np.mean((samples >= lo) & (samples <= hi)) == pytest.approx(0.95, abs=0.02)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "spherical"])
def test_posterior_file_of_every_covariance_type_has_a_matching_prior(
    fake_analysis, covariance_type
):
    import arviz as az

    from latentmix.datasets import synthetic_3d

    analysis = fake_analysis(synthetic_3d(n_samples=120), 3, covariance_type)
    saved = write.posterior_file(analysis)
    for name in saved.posterior.data_vars:
        assert saved.prior[name].dims == saved.posterior[name].dims, name
        assert saved.prior[name].shape[2:] == saved.posterior[name].shape[2:], name
        assert saved.reference[name].dims == saved.posterior[name].dims[2:], name
    assert saved.reference.attrs["covariance_type"] == covariance_type
    assert len(az.summary(saved.prior)) == len(az.summary(saved))
