"""``latentmix fit`` on a CSV with a text column and a column of row numbers."""

import json

import numpy as np
import pytest

from latentmix.cli import main


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
