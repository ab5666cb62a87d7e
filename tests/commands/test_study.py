"""``latentmix study``: flags, the guarded output directory, resuming."""

import json

import pytest

from latentmix import cli
from latentmix.output import MANIFEST


def _coverage(out, *extra):
    return [
        "study",
        "coverage",
        "--truth",
        "well_separated",
        "--n",
        "40",
        "--replications",
        "2",
        "--draws",
        "0",
        "--n-boot",
        "4",
        "--bootstrap",
        "nonparametric",
        "--out",
        str(out),
        "--scheduler",
        "synchronous",
        *extra,
    ]


def test_coverage_writes_its_page_resumes_and_keeps_foreign_files(tmp_path, capsys):
    out = tmp_path / "cov"
    assert cli.main(_coverage(out)) == 0
    err = capsys.readouterr().err
    assert "[2/2]" in err
    assert len(list((out / "replicates").glob("*.json"))) == 2
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<script" not in html
    assert "MLE, Wald" in (out / "report.md").read_text()
    assert json.loads((out / MANIFEST).read_text())["command"] == "study coverage"
    stored = {p.name: p.stat().st_ino for p in (out / "replicates").iterdir()}
    # A user's file inside the study's own output survives a rerun, and nothing is redone.
    (out / "notes.txt").write_text("mine")
    (out / "figures" / "my-plot.png").write_bytes(b"png")
    assert cli.main([*_coverage(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "figures" / "my-plot.png").read_bytes() == b"png"
    assert {p.name: p.stat().st_ino for p in (out / "replicates").iterdir()} == stored
    # Other settings are another study: refused, with the fix.
    assert cli.main([*_coverage(out), "--seed", "9"]) == 2
    assert "different study" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["study", "sbc", "--simulations", "3", "--n", "20", "-k", "1"],
        ["study", "select", "faithful", "-k", "1..2"],
    ],
    ids=["sbc", "select"],
)
def test_every_study_refuses_a_foreign_directory_and_a_file(tmp_path, capsys, argv):
    for argv_ in (_coverage(tmp_path / "x")[:-4], argv):
        foreign = tmp_path / "thesis"
        foreign.mkdir(exist_ok=True)
        (foreign / "thesis.tex").write_text("mine")
        assert cli.main([*argv_, "--out", str(foreign), "--scheduler", "synchronous"]) == 2
        assert "did not write" in capsys.readouterr().err
        assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]
        a_file = tmp_path / "notes.txt"
        a_file.write_text("mine")
        assert cli.main([*argv_, "--out", str(a_file), "--scheduler", "synchronous"]) == 2
        assert "is a file" in capsys.readouterr().err
        assert a_file.read_text() == "mine"


def test_a_study_refuses_another_studys_output(tmp_path, capsys):
    out = tmp_path / "cov"
    assert cli.main([*_coverage(out), "--quiet"]) == 0
    argv = ["study", "sbc", "--simulations", "3", "--n", "20", "-k", "1", "--out", str(out)]
    assert cli.main(argv) == 2
    assert "study coverage" in capsys.readouterr().err


def test_components_flag_takes_ranges_and_the_old_spelling_is_gone(capsys):
    from latentmix.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["study", "select", "galaxies", "-k", "2..4", "--out", "o"])
    assert args.components == [2, 3, 4] and args.scheduler == "local"
    args = parser.parse_args(["study", "select", "galaxies", "--components", "1,3", "--out", "o"])
    assert args.components == [1, 3]
    args = parser.parse_args(["study", "sbc", "--out", "o"])
    assert args.components == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["study", "sbc", "--k", "2", "--out", "o"])
    assert "unrecognized arguments: --k" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["coverage", "--truth", "well_separated", "--chains", "0"], "--chains must be"),
        (["coverage", "--truth", "well_separated", "--n-boot", "0"], "--n-boot must be"),
        (["coverage", "--truth", "well_separated", "--draws", "-1"], "--draws must be"),
        (["coverage", "--truth", "well_separated", "--replications", "0"], "--replications"),
        (["coverage", "--truth", "well_separated", "--bootstrap", "nonparametic"], "bootstrap"),
        (["coverage", "--truth", "well_separated", "--posterior-replications", "-1"],
         "--posterior-replications must be"),
        (["coverage", "--truth", "well_separated", "--scheduler", "serial"],
         "--scheduler must be one of threads, synchronous, processes, local"),
        (["coverage", "--truth", "well_separated", "--workers", "0"], "--workers must be"),
        (["sbc", "-k", "0"], "-k must be"),
        (["sbc", "--chains", "0"], "--chains must be"),
        (["sbc", "--tune", "-5"], "--tune must be"),
        (["select", "faithful", "--draws", "0"], "--draws must be"),
        (["select", "faithful", "--chains", "0"], "--chains must be"),
    ],
)  # fmt: skip
def test_every_option_is_checked_before_the_output_is_claimed(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert cli.main(["study", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not out.exists()


def test_a_misspelt_covariance_is_refused_naming_the_valid_ones(tmp_path, capsys):
    from latentmix.selection.run import select_config

    out = tmp_path / "out"
    assert (
        cli.main(["study", "select", "faithful", "--covariance", "fulll", "--out", str(out)]) == 2
    )
    assert "--covariance must be one of all, full, tied, diag" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ValueError, match="--covariance must be one of all, full, tied, diag"):
        select_config("faithful", [1, 2], covariance="fulll")


def _raise(*args, **kwargs):
    raise FloatingPointError("it all went wrong")


def test_a_coverage_study_in_which_everything_failed_exits_non_zero(tmp_path, capsys, monkeypatch):
    from latentmix.studies.coverage import replicate

    monkeypatch.setattr(replicate, "_fit_em", _raise)
    monkeypatch.setattr(replicate, "_fit_vb", _raise)  # the VB arm is a source of its own
    out = tmp_path / "cov"
    assert cli.main([*_coverage(out), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "all 2 of 2 replicates failed" in captured.err
    assert str(out / "replicates") in captured.err
    assert (out / "report.html").exists()  # the page lists the failures


@pytest.mark.parametrize("study", ["select", "sbc"])
def test_select_and_sbc_in_which_everything_failed_exit_non_zero(
    tmp_path, capsys, monkeypatch, study
):
    import latentmix.selection.grid as grid
    import latentmix.studies.sbc as sbc

    if study == "select":
        monkeypatch.setattr(grid, "fit_cell", _raise)
        argv = ["study", "select", "faithful", "-k", "1..2"]
        said = "every EM fit of every cell failed"
    else:
        monkeypatch.setattr(sbc, "sbc_replicate", _raise)
        argv = ["study", "sbc", "--simulations", "3", "--n", "20", "-k", "1"]
        said = "replicates failed"
    out = tmp_path / study
    assert cli.main([*argv, "--out", str(out), "--scheduler", "synchronous", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert said in err and str(out / "replicates") in err
    records = [json.loads(p.read_text()) for p in (out / "replicates").iterdir()]
    assert records and all("it all went wrong" in r["error"] for r in records)


def test_select_fails_when_both_arms_failed_for_every_k(tmp_path, capsys, monkeypatch):
    import latentmix.selection.grid as grid

    def failed(X, K, covariance_type, prior, random_state, n_init, **data):
        return {"status": "failed", "error": "DegenerateMixtureError: x"}

    monkeypatch.setattr(grid, "fit_estimate", failed)
    argv = ["study", "select", "faithful", "-k", "1..2", "--scheduler", "synchronous"]
    assert cli.main([*argv, "--out", str(tmp_path / "s"), "--quiet"]) == 1
    assert "every EM fit of every cell failed" in capsys.readouterr().err


def test_an_interrupt_during_the_posterior_is_not_stored_as_a_failure(
    tmp_path, capsys, monkeypatch
):
    from latentmix.studies.coverage import replicate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(replicate, "sample_swappable", interrupted)
    out = tmp_path / "cov"
    argv = [a if a != "0" else "10" for a in _coverage(out)]  # --draws 10: the posterior arm
    assert cli.main([*argv, "--quiet"]) == 130
    assert "n00040-r0000 was not stored" in capsys.readouterr().err
    assert not list((out / "replicates").glob("*.json"))


def test_an_empty_out_is_refused_and_the_current_directory_untouched(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(_coverage("")) == 2
    assert "the output path is empty (--out '')" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
