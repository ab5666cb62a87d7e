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
