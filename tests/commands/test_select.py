"""``latentmix select``: the page, its escaping, resuming, refusals, failures and exit status."""

import json

import numpy as np
import pytest

from latentmix import cli
from latentmix.output import MANIFEST
from latentmix.selection import run as R

NASTY = "<b>x</b>|$a_*"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two well separated groups in 2-D, with a column name full of markup."""
    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(-3, 1, (50, 2)), rng.normal(3, 0.8, (50, 2))])
    path = tmp_path_factory.mktemp("data") / "two<groups>.csv"
    path.write_text(f'"{NASTY}",y\n' + "\n".join(f"{a:.6f},{b:.6f}" for a, b in X) + "\n")
    return path


def _argv(data, out, *extra):
    return ["select", str(data), "-k", "1..3", "--covariance", "full,spherical", "--n-init",
            "2", "--bootstrap", "19", "--out", str(out), "--scheduler", "synchronous",
            "--quiet", *extra]  # fmt: skip


def test_select_writes_the_page_escaped_and_resumes(data, tmp_path, capsys):
    out = tmp_path / "sel"
    assert cli.main(_argv(data, out)) == 0
    printed = capsys.readouterr().out
    assert "The chosen model is" in printed and "report:" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chosen"]["K"] == 2
    picks = {p["criterion"]: p["K"] for p in summary["picks"]}
    assert picks["BIC"] == picks["ICL"] == picks["BIC (MAP)"] == picks["bootstrap LRT"] == 2
    # VB with the largest K and a small concentration: the components that keep weight.
    vb = summary["vb"]
    assert vb["K"] == 3 and vb["concentration"] == 0.01 and vb["covariance_type"] == "spherical"
    assert vb["weights"] == sorted(vb["weights"], reverse=True)
    assert sum(vb["weights"]) == pytest.approx(1.0)
    assert picks["VB"] == sum(w > vb["keep_weight"] for w in vb["weights"]) >= 2
    assert len(summary["cells"]) == 6 and "larger is better" in summary["sign"]
    assert json.loads((out / MANIFEST).read_text())["command"] == "select"
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    # The user's names never become markup: escaped in HTML, escaped in Markdown.
    assert NASTY not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "two&lt;groups&gt;" in html
    assert "<b>x</b>" not in md and r"&lt;b&gt;x&lt;/b&gt;\|$a\_\*" in md
    assert html.count("data:image/png;base64,") == 4  # BIC, ICL, LRT, the model
    # Every cell, MLE and MAP, with its criteria and Kass & Raftery's band, on both pages.
    every = md.split("## Every cell", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in every.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert len(rows) == 2 * len(summary["cells"])
    best = summary["tables"]["mle"]["best"]["bic"]
    mle_best = [r for r in rows if f"| {best[0]} | MLE |" in r and f"| {best[1]} |" in r]
    assert len(mle_best) == 1 and "| 0.00 |" in mle_best[0]
    assert "Every cell" in html and "evidence against (Kass &amp; Raftery)" in html
    assert "from fresh starts" in md and "from the fitted estimates" in md
    assert "<script" not in html
    for name in ("bic", "icl", "lrt", "model"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    stored = {p.name: p.stat().st_ino for p in (out / "replicates").iterdir()}
    (out / "notes.txt").write_text("mine")
    assert cli.main(_argv(data, out)) == 0
    assert {p.name: p.stat().st_ino for p in (out / "replicates").iterdir()} == stored
    assert (out / "notes.txt").read_text() == "mine"
    # The pages come back from summary.json and study.json alone.
    (out / "report.md").unlink()
    R.rewrite_pages(out)
    assert (out / "report.md").read_text() == md
    # Other settings are another run: refused with the fix.
    capsys.readouterr()
    assert cli.main(_argv(data, out, "--seed", "3")) == 2
    assert "different study" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bootstrap", "5"], "--bootstrap 5 cannot reject at --level 0.05"),
        (["--covariance", "fulll"], "--covariance must be one of"),
        (["--covariance", "all,full"], "--covariance must be one of full, tied"),
        (["-k", "1..500"], "K = 500 needs more than 500 observations"),
        (["--n-init", "0"], "--n-init must be"),
        (["--level", "1.5"], "--level must be between 0 and 1"),
        (["--posterior", "--draws", "10"], "--draws/--chains"),
        (["--scheduler", "serial"], "--scheduler must be one of"),
    ],
)
def test_every_option_is_checked_before_the_output_is_claimed(data, tmp_path, capsys, extra,
                                                              message):  # fmt: skip
    out = tmp_path / "out"
    argv = [a for a in _argv(data, out) if a != "--quiet"]
    assert cli.main([*argv, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_prior_file_that_fits_no_asked_type_is_refused(data, tmp_path, capsys):
    prior = tmp_path / "prior.json"
    prior.write_text(json.dumps({"weight_concentration": 1.0, "mean": [0.0, 0.0],
                                 "mean_precision": 0.01, "degrees_of_freedom": 4.0,
                                 "scale": [[1.0, 0.0], [0.0, 1.0]]}))  # fmt: skip
    out = tmp_path / "out"
    assert cli.main([*_argv(data, out), "--prior", str(prior)]) == 2
    err = capsys.readouterr().err
    assert "does not fit every covariance type" in err and "spherical" in err
    assert not out.exists()


def test_a_foreign_directory_and_a_file_are_refused(data, tmp_path, capsys):
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    assert cli.main(_argv(data, foreign)) == 2
    assert "did not write" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]


def test_failed_cells_are_listed_with_why_and_all_failed_exits_one(data, tmp_path, capsys,
                                                                   monkeypatch):  # fmt: skip
    from latentmix.selection import grid

    real = grid.fit_estimate

    def no_mle_beyond_one(X, K, covariance_type, prior, random_state, n_init, **data):
        if prior is None and K > 1:
            return {"status": "failed", "error": "DegenerateMixtureError: every start collapsed"}
        return real(X, K, covariance_type, prior, random_state, n_init, **data)

    monkeypatch.setattr(grid, "fit_estimate", no_mle_beyond_one)
    out = tmp_path / "sel"
    assert cli.main(_argv(data, out, "--bootstrap", "0")) == 0
    summary = json.loads((out / "summary.json").read_text())
    failed = {(f["K"], f["covariance_type"], f["estimate"]) for f in summary["failures"]}
    assert failed == {(K, t, "mle") for K in (2, 3) for t in ("full", "spherical")}
    assert "every start collapsed" in (out / "report.md").read_text()

    def nothing(X, K, covariance_type, prior, random_state, n_init, **data):
        return {"status": "failed", "error": "DegenerateMixtureError: every start collapsed"}

    monkeypatch.setattr(grid, "fit_estimate", nothing)
    out = tmp_path / "none"
    assert cli.main(_argv(data, out)) == 1
    assert "every EM fit of every cell failed" in capsys.readouterr().err
    assert (out / "report.html").exists()


def test_every_posterior_failing_after_em_succeeded_exits_one(data, tmp_path, capsys,
                                                              monkeypatch):  # fmt: skip
    from latentmix.selection import loo

    def crash(*args, **kwargs):
        raise FloatingPointError("the sampler diverged everywhere")

    monkeypatch.setattr(loo, "posterior_loo", crash)
    out = tmp_path / "sel"
    argv = _argv(data, out, "--bootstrap", "0", "--posterior", "--draws", "100")
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "EM succeeded but the posterior failed for every K" in err
    assert str(out / "replicates") in err
    assert "the sampler diverged everywhere" in (out / "report.md").read_text()


@pytest.mark.cluster
def test_a_local_cluster_gives_the_numbers_of_one_process(data, tmp_path):
    small = ["-k", "1..2", "--covariance", "spherical"]
    assert cli.main([*_argv(data, tmp_path / "one"), *small]) == 0
    local = [a if a != "synchronous" else "local" for a in _argv(data, tmp_path / "two", *small)]
    assert cli.main([*local, "--workers", "2"]) == 0
    one, two = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("one", "two"))
    assert one == two
