"""``latentmix report`` from the command line: bad input, and one real end-to-end run."""

import json
import re

import pytest

from latentmix.cli import main
from latentmix.datasets import load
from latentmix.output import MANIFEST, replace_output

GOOD = "a,b\n" + "\n".join(f"{i % 7}.5,{(i * 3) % 11}.25" for i in range(30)) + "\n"


def run_cli(capsys, *argv):
    code = main(["report", *map(str, argv), "--quiet"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def hidden(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def earlier_report(out):
    """A directory written by the report command (its manifest), standing for a report."""
    with replace_output(out, "report") as staging:
        (staging / "index.html").write_text("earlier report")
        (staging / "estimates.json").write_text("{}")


@pytest.mark.parametrize(
    ("csv_text", "extra", "message"),
    [
        ("a,b\n1,2\n,3\n4,5\n", [], r"column 'a', data row 2 is missing"),
        ("a,b\n1,2\n3,oops\n4,5\n", [], r"column 'b', data row 2 is not a number \('oops'\)"),
        (GOOD, ["--columns", "a,zzz"], r"no column named 'zzz'"),
        ("a,b\n1,2\n3,4\n5,7\n", [], r"3 samples but n_components=5"),
        (GOOD, ["--test-fraction", "1.5"], r"test fraction must be strictly between 0 and 1"),
        (GOOD, ["--prior", "none"], r"the posterior needs a proper prior"),
        (GOOD, ["--prior", "missing.json"], r"cannot read the prior file missing.json"),
    ],
)
def test_bad_input_names_the_problem_and_writes_nothing(
    tmp_path, capsys, csv_text, extra, message
):
    csv = tmp_path / "data.csv"
    csv.write_text(csv_text)
    out = tmp_path / "reports" / "r"
    earlier_report(out)
    k = 5 if "n_components=5" in message else 2
    code, stdout, stderr = run_cli(capsys, csv, "-k", k, "--out", out, *extra)
    assert code == 2
    assert stderr.startswith("latentmix report: error: ")
    assert "Traceback" not in stderr
    assert re.search(message, stderr), stderr
    assert stdout == ""
    assert (out / "index.html").read_text() == "earlier report"
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "estimates.json", "index.html"]
    assert hidden(out.parent) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        # A user's directory, and what the old writer took for a report (index.html and an
        # empty estimates.json): neither was written by latentmix, so neither is replaced.
        (lambda out: (out.mkdir(), (out / "thesis.tex").write_text("years")), "did not write"),
        (
            lambda out: (
                out.mkdir(),
                (out / "index.html").write_text("my website"),
                (out / "estimates.json").write_text("{}"),
            ),
            "did not write",
        ),
        (lambda out: out.write_text("a file"), "is a file"),
    ],
    ids=["directory", "index-and-empty-json", "file"],
)
def test_a_foreign_out_is_refused_before_any_work(tmp_path, capsys, make, message):
    out = tmp_path / "out"
    make(out)
    before = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, stdout, stderr = run_cli(capsys, "faithful", "-k", 2, "--out", out)
    assert code == 2 and stdout == ""
    assert message in stderr and str(out) in stderr
    after = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    assert hidden(tmp_path) == []


def test_unwritable_out_and_unknown_data(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, _, stderr = run_cli(capsys, "faithful", "-k", 2, "--out", blocker / "report")
    assert code == 2
    assert "cannot create" in stderr and "a-file" in stderr
    code, _, stderr = run_cli(capsys, tmp_path / "nope.csv", "-k", 2, "--out", tmp_path / "o")
    assert code == 2 and "no such file" in stderr
    assert not (tmp_path / "o").exists()
    assert hidden(tmp_path) == []


@pytest.mark.compiles
def test_end_to_end_on_faithful_with_held_out_rows(tmp_path, capsys):
    import arviz as az

    out = tmp_path / "faithful"
    # A prior of the user's own, from a TOML file.
    prior_file = tmp_path / "prior.toml"
    prior_file.write_text(
        "weight_concentration = 2.0\nmean = [3.5, 71.0]\nmean_precision = 0.05\n"
        "degrees_of_freedom = 5.0\nscale = [[0.6, 7.0], [7.0, 92.0]]\n"
    )
    argv = ["faithful", "-k", "2", "--draws", "100", "--tune", "100", "--chains", "2"]
    argv += ["--seed", "3", "--test-fraction", "0.2", "--n-init", "3", "--out", str(out)]
    argv += ["--prior", str(prior_file)]
    code = main(["report", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == str(out / "index.html")
    assert "EM MLE" in captured.err and "posterior" in captured.err  # progress on stderr
    assert {p.name for p in out.iterdir()} == {
        "index.html",
        "report.md",
        "estimates.json",
        "posterior.nc",
        "figures",
        MANIFEST,
    }
    record = json.loads((out / "estimates.json").read_text())
    assert record["schema_version"] == 2
    assert record["settings"]["seed"] == 3 and record["settings"]["level"] == 0.95
    assert record["prior"]["mean_precision"] == 0.05
    assert record["prior"]["scale"] == [[0.6, 7.0], [7.0, 92.0]]
    assert "default hyperparameters" not in (out / "report.md").read_text()
    assert record["data"] == {
        "name": "faithful",
        "n_train": 218,
        "n_test": 54,
        "n_features": 2,
        "n_missing_cells": 0,
        "n_incomplete_rows": 0,
        "weights_column": None,
        "total_weight": None,
    }
    assert record["diagnostics"]["n_chains"] == 2 and record["diagnostics"]["n_draws"] == 100
    assert record["diagnostics"]["relabelling"] == "assignment"
    assert isinstance(record["diagnostics"]["n_relabelled"], int)
    assert 0 <= record["diagnostics"]["n_switched"] <= record["diagnostics"]["n_relabelled"]
    timings = record["timings_seconds"]
    assert {"em_mle", "em_map", "compile", "sample", "compare", "figures"} <= set(timings)
    assert all(isinstance(v, float) for v in timings.values())
    predictive = record["comparison"]["predictive"]
    assert predictive["n_test"] == 54
    assert all(row["held_out"] < 0 for row in predictive["rows"])
    # On this well-separated data the MAP sits inside the posterior's 95% interval.
    for row in record["comparison"]["tables"]["means"]:
        assert not row["map_outside"], row
    assert "--seed 3" in record["command"]
    # Disagreeing points are named by their row in the data set, not in the training part.
    faithful = load("faithful").data
    for rec in record["comparison"]["membership"]["top"]:
        assert list(rec["x"].values()) == faithful[rec["row"]].tolist()
    idata = az.from_netcdf(out / "posterior.nc")
    assert idata.posterior["means"].shape == (2, 100, 2, 2)
    # Every draw's pointwise log-likelihood of the 218 training rows, for az.loo.
    assert idata.log_likelihood["x"].shape == (2, 100, 218)
    assert not any(g.startswith("warmup") for g in idata.groups())
    assert hidden(tmp_path) == []


class _InterruptedRun:
    """nutpie's background sampler, stopped by Ctrl-C while the user waits."""

    def wait(self, *, timeout=None):
        raise KeyboardInterrupt

    def cancel(self):
        pass


@pytest.mark.parametrize("before", ["earlier report", "nothing"])
def test_ctrl_c_while_sampling_exits_130_in_one_line_and_writes_nothing(
    tmp_path, capsys, monkeypatch, before
):
    import nutpie

    from latentmix.bayes import cache

    compiled = []
    monkeypatch.setattr(
        cache,
        "compiled_sampler",
        lambda model, structure, data, start, **kwargs: compiled.append(1) or (object(), "off"),
    )
    monkeypatch.setattr(nutpie, "sample", lambda compiled, **kwargs: _InterruptedRun())
    csv = tmp_path / "data.csv"
    csv.write_text(GOOD)
    out = tmp_path / "reports" / "r"
    if before == "earlier report":
        earlier_report(out)
    # Nothing is sampled: the smallest run the report accepts is enough.
    argv = ["-k", 2, "--draws", 100, "--tune", 50, "--chains", 2, "--n-init", 1, "--out", out]
    code, stdout, stderr = run_cli(capsys, csv, *argv)
    assert compiled, "the run did not get as far as sampling"
    assert code == 130
    assert stdout == ""
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith(
        "latentmix report: interrupted: sampling was interrupted; its draws were discarded; "
    )
    if before == "earlier report":
        assert stderr.rstrip().endswith(f"the earlier report in {out} is untouched")
        assert (out / "index.html").read_text() == "earlier report"
        assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "estimates.json", "index.html"]
    else:
        assert stderr.rstrip().endswith(f"{out} was not written")
        assert not out.exists() or not any(out.iterdir())
    assert not out.parent.exists() or hidden(out.parent) == []


def test_repeated_column_names_are_refused_before_any_fit(tmp_path, capsys):
    csv = tmp_path / "data.csv"
    csv.write_text(GOOD.replace("a,b", "a,a", 1))
    out = tmp_path / "r"
    code, stdout, stderr = run_cli(capsys, csv, "-k", 2, "--out", out)
    assert code == 2 and stdout == ""
    assert "the column name 'a' appears more than once; rename" in stderr
    assert "--columns" in stderr and len(stderr.splitlines()) == 1
    assert not out.exists()


def test_an_unknown_weights_column_is_refused_before_any_fit(tmp_path, capsys):
    csv = tmp_path / "data.csv"
    csv.write_text(GOOD)
    out = tmp_path / "r"
    code, stdout, stderr = run_cli(capsys, csv, "-k", 2, "--weights", "w", "--out", out)
    assert code == 2 and stdout == ""
    assert "w" in stderr and "Traceback" not in stderr
    assert not out.exists()


@pytest.mark.compiles
def test_end_to_end_with_missing_cells_and_weights(tmp_path, capsys):
    # The one sampled report of incomplete, weighted data: diagonal covariances (their
    # compile costs about what complete data cost), a tiny run.
    import numpy as np

    rng = np.random.default_rng(5)
    X = load("faithful").data.copy()
    X[rng.random(X.shape) < 0.1] = np.nan
    # A row with no cell left gets an eruption time inside the short cluster. At 3.0, between
    # the clusters, its membership turns on the parameters, and the posterior predictive sd of
    # its waiting time is rightly about 1.7 times the plug-in's (1000 x 2 draws, R-hat 1.003):
    # the bound below is for rows whose cluster the data tell.
    X[np.isnan(X).all(axis=1), 0] = 2.0
    w = rng.integers(1, 3, size=len(X))
    csv = tmp_path / "holes.csv"

    def cell(v):
        return "" if np.isnan(v) else repr(float(v))

    lines = ["eruptions,weight,waiting"] + [
        f"{cell(a)},{k},{cell(b)}" for (a, b), k in zip(X, w, strict=True)
    ]
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "holes"
    argv = ["-k", 2, "--covariance", "diag", "--draws", 100, "--tune", 100, "--chains", 2]
    argv += ["--n-init", 2, "--seed", 1, "--missing", "ignore", "--weights", "weight"]
    code, stdout, stderr = run_cli(capsys, csv, *argv, "--out", out)
    assert code == 0, stderr
    assert stdout.strip() == str(out / "index.html")
    record = json.loads((out / "estimates.json").read_text())
    n_missing = int(np.isnan(X).sum())
    assert record["data"]["n_missing_cells"] == n_missing
    assert record["data"]["weights_column"] == "weight"
    assert record["data"]["total_weight"] == float(w.sum())
    assert record["settings"]["missing"] == "ignore" and record["settings"]["weighted"]
    assert "--missing ignore --weights weight" in record["command"]
    assert record["comparison"]["feature_names"] == ["eruptions", "waiting"]
    cells = record["missing"]["cells"]
    assert len(cells) == 8
    for c in cells:
        assert np.isnan(X[c["row"], c["column"]])
        # The posterior predictive carries the parameters' uncertainty too, but on 272 rows
        # that is small against the cell's own spread.
        assert 0.7 < c["sd_ratio"] < 1.5, c
        assert abs(c["mean"] - c["em_mean"]) < c["em_sd"], c
    assert (out / "figures" / "imputation.png").is_file()
    page = (out / "index.html").read_text()
    assert "per row, unweighted" in page and f"{n_missing} of {X.size} cells" in page
