"""``latentmix fit`` on a CSV with a text column and a column of row numbers."""

import json
import warnings

import numpy as np
import pytest

from latentmix.cli import main
from latentmix.datasets import DataWarning


def tiny_csv(tmp_path):
    """20 rows: ``id`` 1..20, ``name`` text, ``x`` in two groups near 0 and near 5."""
    rng = np.random.default_rng(17)
    x = np.concatenate([rng.normal(0.0, 0.5, 10), rng.normal(5.0, 0.5, 10)])
    lines = ["id,name,x"] + [f"{i + 1},p{i + 1},{v:.4f}" for i, v in enumerate(x)]
    path = tmp_path / "tiny.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_leaves_out_the_text_column_and_names_the_row_numbers(tmp_path, capsys):
    path = tiny_csv(tmp_path)
    assert main(["fit", str(path), "-k", "2", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # the warnings stay off stdout
    assert result["features"] == ["id", "x"] and result["n_samples"] == 20
    lines = captured.err.splitlines()
    assert len(lines) == 2 and all(line.startswith("latentmix fit: warning: ") for line in lines)
    assert "left out 1 column of text, not numbers: 'name' (data row 1: 'p1')" in lines[0]
    assert "column 'id' holds the integers 1..20 in row order" in lines[1]
    assert "--columns x" in lines[1]


def test_fit_with_the_columns_named_says_nothing(tmp_path, capsys):
    path = tiny_csv(tmp_path)
    assert main(["fit", str(path), "-k", "2", "--columns", "x", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert captured.err == ""
    assert result["features"] == ["x"]
    # The two groups near 0 and 5, ten rows each.
    assert sorted(np.ravel(result["means"])) == pytest.approx([0.0, 5.0], abs=0.6)
    assert sorted(result["weights"]) == pytest.approx([0.5, 0.5], abs=1e-6)


def test_fit_on_text_only_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "names.csv"
    path.write_text("name,city\nAnn,Paris\nBob,Rome\nCy,Oslo\n")
    assert main(["fit", str(path), "-k", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("latentmix fit: error: ")
    assert "no column of numbers to fit (text in 'name'" in err and "Traceback" not in err


def test_help_says_every_numeric_column(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--help"])
    assert stop.value.code == 0
    assert "every numeric column" in " ".join(capsys.readouterr().out.split())


def test_select_says_what_it_left_out_once_not_once_per_task(tmp_path, capsys):
    path = tiny_csv(tmp_path)
    out = tmp_path / "select"
    args = ["select", str(path), "-k", "1..2", "--covariance", "diag", "--n-init", "2"]
    with warnings.catch_warnings():
        warnings.simplefilter("always", DataWarning)  # printed, as outside the tests
        assert main([*args, "--bootstrap", "0", "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("latentmix select: warning: ") == 2
    assert err.count("left out 1 column of text") == 1
    stored = json.loads((out / "study.json").read_text())
    assert stored["columns"] == ["id", "x"]  # every task reads these, and says nothing
