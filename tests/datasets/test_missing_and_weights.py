"""CSV reading of missing cells (``missing="ignore"``) and of a weights column."""

import numpy as np
import pytest

from latentmix.datasets import load_data, read_csv


def write(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_missing_cells_are_nan_with_ignore(tmp_path):
    path = write(tmp_path, "a,b,c\n1,,3\nNA,2,nan\n4,NULL,6\n7,8,9\n")
    data = read_csv(path, missing="ignore")
    expected = [[1, np.nan, 3], [np.nan, 2, np.nan], [4, np.nan, 6], [7, 8, 9]]
    np.testing.assert_array_equal(data.data, expected)
    assert data.n_missing == 4


@pytest.mark.parametrize("cell", ["", "NA", "nan", "NaN", "NULL"])
def test_missing_cell_error_names_row_column_and_option(tmp_path, cell):
    path = write(tmp_path, f"a,b\n1,2\n3,{cell}\n")
    with pytest.raises(ValueError, match=r"column 'b', data row 2 is missing.*--missing ignore"):
        read_csv(path)


def test_a_row_with_every_used_cell_missing_is_refused(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n,NA,5\n")
    with pytest.raises(ValueError, match="data row 2 has every used cell missing"):
        read_csv(path, columns=["a", "b"], missing="ignore")
    assert read_csv(path, missing="ignore").n_missing == 2


def test_weights_column_is_taken_out_of_the_data(tmp_path):
    path = write(tmp_path, "a,w,b\n1,2,3\n4,0,6\n7,1.5,9\n")
    data = read_csv(path, weights="w")
    assert data.feature_names == ("a", "b")
    np.testing.assert_array_equal(data.data, [[1, 3], [4, 6], [7, 9]])
    np.testing.assert_array_equal(data.sample_weight, [2, 0, 1.5])
    assert data.weights_column == "w"
    chosen = load_data(path, ["b"], weights="w")
    assert chosen.feature_names == ("b",)
    np.testing.assert_array_equal(chosen.sample_weight, [2, 0, 1.5])


@pytest.mark.parametrize(
    ("text", "columns", "match"),
    [
        ("a,w\n1,2\n", None, None),
        ("a,w\n1,2\n3,-1\n", None, r"column 'w', data row 2: weight -1 is negative"),
        ("a,w\n1,2\n3,\n", None, r"column 'w', data row 2 is missing.*weight must be given"),
        ("a,w\n1,2\n3,x\n", None, r"column 'w', data row 2 is not a number"),
        ("a,w\n1,0\n3,0\n", None, "zero for every row"),
        ("a,w\n1,1\n", ["a", "w"], "is also in --columns"),
        ("a,b\n1,1\n", None, "no column named 'w' for --weights"),
    ],
)
def test_bad_weights_columns(tmp_path, text, columns, match):
    path = write(tmp_path, text)
    if match is None:
        assert read_csv(path, columns, weights="w").sample_weight.tolist() == [2.0]
        return
    with pytest.raises(ValueError, match=match):
        read_csv(path, columns, weights="w")


def test_weights_from_a_built_in_data_set():
    data = load_data("faithful", weights="eruptions")
    assert data.feature_names == ("waiting",)
    assert data.sample_weight.shape == (272,)
    assert data.data.shape == (272, 1)


def test_bad_missing_option(tmp_path):
    with pytest.raises(ValueError, match="missing must be 'error' or 'ignore'"):
        read_csv(write(tmp_path, "a\n1\n"), missing="drop")
