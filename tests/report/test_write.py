"""Writing a report: the files, the page's content and escaping, and the guarded output."""

import json

import numpy as np
import pytest

from latentmix.output import MANIFEST
from latentmix.report import write
from latentmix.report.context import figure_captions, fmt
from latentmix.report.write import write_report

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


def test_posterior_file_keeps_only_the_draws(shared_report, shared_analysis):
    import arviz as az

    idata = az.from_netcdf(shared_report / "posterior.nc")
    assert set(idata.groups()) == {"posterior"}
    assert set(idata.posterior.data_vars) == {"weights", "means", "covariances"}
    # Components 0-based in the file's coordinates, as in the arrays.
    assert list(idata.posterior["component"].values) == [0, 1, 2]
    assert idata.posterior["means"].shape == (2, 100, 3, 3)
    assert shared_analysis.idata.posterior["means"].values == pytest.approx(
        idata.posterior["means"].values
    )


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
