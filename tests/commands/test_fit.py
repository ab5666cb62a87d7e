"""``latentmix fit``: the table, --json, data selection and errors."""

import json
import subprocess
import sys

import pytest

from latentmix.cli import main
from latentmix.datasets import load


def test_fit_faithful_prints_a_table(capsys):
    assert main(["fit", "faithful", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "MLE of a 2-component full Gaussian mixture on faithful (272 rows x 2 features)" in out
    for label in (
        "weight",
        "mean[eruptions]",
        "covariance of component 1",
        "log-likelihood",
        "log-prior",
        "objective",
        "BIC",
        "iterations",
        "converged",
    ):
        assert label in out
    assert "-1130.26" in out
    assert "components numbered from 1 (from 0 in --json)" in out
    rows = [line.split()[0] for line in out.splitlines()[3:5]]
    assert rows == ["1", "2"]  # 1-based for a person, 0-based in --json


def test_fit_json_parses(capsys):
    assert (
        main(
            [
                "fit",
                "galaxies",
                "-k",
                "3",
                "--prior",
                "default",
                "--covariance",
                "diag",
                "--json",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["estimate"] == "MAP"
    assert result["covariance_type"] == "diag"
    assert len(result["weights"]) == 3 and abs(sum(result["weights"]) - 1) < 1e-12
    assert result["objective"] == pytest.approx(result["log_likelihood"] + result["log_prior"])
    assert result["converged"] is True
    assert result["features"] == ["velocity"]


@pytest.mark.parametrize("covariance_type", ["tied", "spherical"])
def test_fit_columns_of_a_csv(tmp_path, capsys, covariance_type):
    path = tmp_path / "data.csv"
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 11},x" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    assert (
        main(["fit", str(path), "-k", "2", "--columns", "a,b", "--covariance", covariance_type])
        == 0
    )
    out = capsys.readouterr().out
    assert "mean[a]" in out and "mean[b]" in out and "label" not in out


def test_bad_cell_names_column_and_row(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,oops\n5,6\n")
    assert main(["fit", str(path), "-k", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("latentmix fit: error:")
    assert "column 'y', data row 2" in err and "'oops'" in err


def test_missing_cell_and_unknown_data(tmp_path, capsys):
    path = tmp_path / "gap.csv"
    path.write_text("x,y\n1,2\n3,\n")
    assert main(["fit", str(path), "-k", "1"]) == 2
    assert "column 'y', data row 2 is missing" in capsys.readouterr().err
    assert main(["fit", "no-such-data", "-k", "2"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_too_many_components_is_a_clean_error(capsys):
    assert main(["fit", "galaxies", "-k", "100"]) == 2
    assert "n_components=100" in capsys.readouterr().err


def test_collapse_error_says_what_to_do(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("x\n" + "\n".join(["0", "0", "0", "1", "1", "1", "5", "5", "5"]) + "\n")
    assert main(["fit", str(path), "-k", "3"]) == 2
    err = capsys.readouterr().err
    assert "collapsed a component" in err and "--prior default" in err
    assert main(["fit", str(path), "-k", "3", "--prior", "default"]) == 0


def test_installed_command_exit_code():
    proc = subprocess.run(
        [sys.executable, "-m", "latentmix.cli", "fit", "faithful", "-k", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "n_components must be at least 1" in proc.stderr


def test_fit_with_a_prior_file_is_the_map_under_that_prior(tmp_path, capsys):
    from latentmix import ConjugatePrior, EMGaussianMixture

    X = load("faithful").data
    prior = ConjugatePrior(1.5, [3.0, 70.0], 0.1, 6.0, [[0.5, 5.0], [5.0, 90.0]])
    path = tmp_path / "prior.json"
    path.write_text(json.dumps({"prior": prior.to_dict(), "other": "ignored"}))
    assert main(["fit", "faithful", "-k", "2", "--prior", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    direct = EMGaussianMixture(2, prior=prior, random_state=0).fit(X)
    assert result["estimate"] == "MAP"
    assert result["objective"] == pytest.approx(direct.objective_, rel=1e-12)
    # A prior for other data is refused with the reason.
    wide = ConjugatePrior(1.0, [0.0, 0.0, 0.0], 0.1, 6.0, [1.0, 1.0, 1.0])
    path.write_text(json.dumps(wide.to_dict()))
    assert main(["fit", "faithful", "-k", "2", "--prior", str(path), "--covariance", "diag"]) == 2
    assert "the prior mean has length 3 but the data have 2 features" in capsys.readouterr().err


def test_spurious_maximiser_is_said_in_the_table_and_the_json(capsys):
    # The example: galaxies, K = 8, MLE: a component on 3 galaxies, variance 6.5e-4.
    assert main(["fit", "galaxies", "-k", "8"]) == 0
    captured = capsys.readouterr()
    warning = [line for line in captured.out.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "effective points" in warning[0]
    assert "on galaxies (82 rows x 1 feature); " in captured.out  # one feature, singular
    assert "--prior default" in warning[0] and "McLachlan & Peel" in warning[0]
    assert "SpuriousSolutionWarning" not in captured.err  # said once, in the output
    assert main(["fit", "galaxies", "-k", "8", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["spurious_components"] and result["warnings"] == [warning[0][9:]]
    assert main(["fit", "galaxies", "-k", "8", "--prior", "default", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["spurious_components"] == [] and result["warnings"] == []


def test_large_numbers_in_the_table_never_run_together():
    from latentmix.commands.fit import format_table

    big = -1.234567e300
    result = {
        "estimate": "MLE",
        "n_components": 2,
        "covariance_type": "full",
        "data": "huge",
        "n_samples": 10,
        "features": ["a", "bb"],
        "weights": [0.5, 0.5],
        "means": [[big, 2e-300], [big, big]],
        "covariances": [[[1e300, big], [big, 1e300]]] * 2,
        "log_likelihood": big,
        "log_prior": None,
        "objective": big,
        "bic": 1e300,
        "n_parameters": 11,
        "n_iter": 3,
        "converged": True,
        "n_init": 1,
        "degenerate_restarts": 0,
    }
    lines = format_table(result).splitlines()
    means = [line.split() for line in lines if line[:1] in "12" and "0.5000" in line]
    assert means == [
        ["1", "0.5000", "-1.23457e+300", "2e-300"],
        ["2", "0.5000", "-1.23457e+300", "-1.23457e+300"],
    ]
    rows = [line.split() for line in lines if line.startswith(("a ", "bb "))]
    assert rows[0] == ["a", "1e+300", "-1.23457e+300"] and len(rows) == 4


@pytest.mark.parametrize(
    ("covariance_type", "label"),
    [
        ("tied_diag", "variances (shared by all components):"),
        ("tied_spherical", "variance (same for every feature, shared by all components):"),
        ("diag", "variances:"),
        ("spherical", "variance (same for every feature):"),
    ],
)
def test_every_covariance_type_prints(capsys, covariance_type, label):
    assert main(["fit", "faithful", "-k", "2", "--covariance", covariance_type]) == 0
    out = capsys.readouterr().out
    assert label in out and "restarts" in out
