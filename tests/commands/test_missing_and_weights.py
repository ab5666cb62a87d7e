"""``--missing ignore`` and ``--weights COLUMN`` on the commands that read a CSV."""

import json

import numpy as np
import pytest

from latentmix import EMGaussianMixture
from latentmix.cli import main
from latentmix.datasets import load


@pytest.fixture
def faithful_csv(tmp_path):
    """faithful with every 10th eruption length deleted and a weights column."""
    data = load("faithful").data
    rng = np.random.default_rng(0)
    weights = rng.integers(1, 4, data.shape[0])
    path = tmp_path / "faithful.csv"
    lines = ["eruptions,waiting,w"]
    for i, (e, t) in enumerate(data):
        lines.append(f"{'NA' if i % 10 == 0 else e},{t},{weights[i]}")
    path.write_text("\n".join(lines) + "\n")
    holes = data.copy()
    holes[::10, 0] = np.nan
    return path, holes, weights


def test_fit_with_missing_cells_is_the_python_fit(faithful_csv, capsys):
    path, holes, _ = faithful_csv
    assert main(["fit", str(path), "-k", "2", "--columns", "eruptions,waiting",
                 "--missing", "ignore", "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["n_missing"] == 28
    gm = EMGaussianMixture(2, random_state=0, missing="ignore").fit(holes)
    np.testing.assert_allclose(result["log_likelihood"], gm.log_likelihood_, rtol=1e-10)
    np.testing.assert_allclose(result["means"], gm.means_, rtol=1e-8)


def test_fit_with_weights_is_the_weighted_python_fit(faithful_csv, capsys):
    path, holes, weights = faithful_csv
    args = ["fit", str(path), "-k", "2", "--weights", "w", "--missing", "ignore"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["features"] == ["eruptions", "waiting"]
    assert result["weights_column"] == "w"
    gm = EMGaussianMixture(2, random_state=0, missing="ignore").fit(holes, sample_weight=weights)
    np.testing.assert_allclose(result["log_likelihood"], gm.log_likelihood_, rtol=1e-10)
    total = weights.sum()
    np.testing.assert_allclose(
        result["bic"], -2 * gm.log_likelihood_ + gm.n_parameters() * np.log(total), rtol=1e-10
    )
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "28 of 544 cells missing" in out
    assert f"rows weighted by column 'w' (total weight {total})" in out


def test_missing_cells_without_the_option_name_row_column_and_option(faithful_csv, capsys):
    path, _, _ = faithful_csv
    assert main(["fit", str(path), "-k", "2", "--columns", "eruptions,waiting"]) == 2
    err = capsys.readouterr().err
    assert "column 'eruptions', data row 1 is missing" in err
    assert "--missing ignore" in err


def test_a_bad_weights_column_is_an_error(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("a,w\n1,1\n2,-3\n3,1\n")
    assert main(["fit", str(path), "-k", "1", "--weights", "w"]) == 2
    assert "column 'w', data row 2: weight -3 is negative" in capsys.readouterr().err
