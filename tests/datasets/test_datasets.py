"""Built-in data sets, CSV reading with clear errors, and synthetic data with known truth."""

import numpy as np
import pytest

from latentmix.datasets import (
    Dataset,
    load,
    load_data,
    make_synthetic,
    names,
    read_csv,
    synthetic_3d,
)


@pytest.mark.parametrize(
    ("name", "shape", "first"),
    [
        # R: head(faithful, 1) 3.600 79; MASS::galaxies[1] 9172 (km/s, here / 1000);
        # mclust::acidity[1] 2.928524; head(iris, 1) 5.1 3.5 1.4 0.2 setosa.
        ("faithful", (272, 2), [3.6, 79.0]),
        ("galaxies", (82, 1), [9.172]),
        ("acidity", (155, 1), [2.928524]),
        ("iris", (150, 4), [5.1, 3.5, 1.4, 0.2]),
    ],
)
def test_builtin_data_sets(name, shape, first):
    data = load(name)
    assert data.name == name
    assert data.data.shape == shape
    np.testing.assert_allclose(data.data[0], first, rtol=1e-6)
    assert len(data.feature_names) == shape[1]
    assert data.description
    assert np.all(np.isfinite(data.data))


def test_names_and_labels():
    assert names() == ["acidity", "faithful", "galaxies", "iris", "house_prices", "synthetic3d"]
    iris = load("iris")
    assert iris.feature_names == ("Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width")
    assert sorted(set(iris.target)) == ["setosa", "versicolor", "virginica"]
    assert load("faithful").target is None


def test_simulated_names_are_reproducible():
    a, b = load("house_prices"), load("house_prices")
    np.testing.assert_array_equal(a.data, b.data)
    assert a.truth is not None and a.target is not None
    assert load("synthetic3d").data.shape == (300, 3)


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown data set 'geyser'; built-in data sets are"):
        load("geyser")


def test_load_data_by_name_with_columns():
    data = load_data("faithful", ["waiting"])
    assert data.data.shape == (272, 1) and data.feature_names == ("waiting",)
    with pytest.raises(ValueError, match="faithful: no column named 'height'"):
        load_data("faithful", ["height"])


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_csv(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,x\n3,4.5,y\n")
    data = read_csv(path, ["a", "b"])
    np.testing.assert_array_equal(data.data, [[1.0, 2.0], [3.0, 4.5]])
    assert data.name == "d" and data.feature_names == ("a", "b")
    assert load_data(str(path), ["b"]).data.shape == (2, 1)


@pytest.mark.parametrize(
    ("text", "columns", "match"),
    [
        ("a,b\n1,2\n3,x\n", None, r"column 'b', data row 2 is not a number \('x'\)"),
        ("a,b\n1,2\n,4\n", None, "column 'a', data row 2 is missing"),
        ("a,b\n1,NA\n", None, "column 'b', data row 1 is missing"),
        ("a,b\n1,inf\n", None, "column 'b', data row 1 is not finite"),
        ("a,b\n1,2,3\n", None, "line 2: 3 cells but the header has 2 columns"),
        ("a,b\n", None, "has a header but no data rows"),
        ("", None, "is empty"),
        ("a,b\n1,2\n", ["c"], "no column named 'c'; the columns are 'a', 'b'"),
    ],
)
def test_read_csv_errors(tmp_path, text, columns, match):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        read_csv(path, columns)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_csv(tmp_path / "absent.csv")


def test_synthetic_data_has_its_truth():
    data = synthetic_3d(500, random_state=1)
    assert data.data.shape == (500, 3) and data.target.shape == (500,)
    truth = data.truth
    for k in range(3):
        np.testing.assert_allclose(data.data[data.target == k].mean(0), truth.means[k], atol=0.35)
    again = make_synthetic(truth, 500, random_state=1)
    np.testing.assert_array_equal(again.data, data.data)
    np.testing.assert_allclose(np.bincount(data.target) / 500, truth.weights, atol=0.06)


@pytest.mark.parametrize(
    ("text", "columns", "match"),
    [
        ("a,a\n1,2\n", None, "the column name 'a' appears more than once; rename"),
        ("a,b,a,b\n1,2,3,4\n", None, "the column names 'a', 'b' appear more than once"),
        ("a,\n1,2\n", None, "column 2 has an empty name; .*--columns"),
        (" ,b\n1,2\n", None, "column 1 has an empty name"),
        ("a,a,b\n1,2,3\n", ["a"], "the column name 'a' appears more than once"),
        ("a,b\n1,2\n", ["a", "a"], "--columns: the column name 'a' .* once in --columns"),
    ],
)
def test_repeated_or_empty_column_names_are_refused_when_read(tmp_path, text, columns, match):
    # A report used to fail only after sampling, in the diagnostics.
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        read_csv(path, columns)
    with pytest.raises(ValueError, match=match):
        load_data(str(path), columns)


def test_repeated_or_empty_names_outside_the_chosen_columns_are_fine(tmp_path):
    path = write(tmp_path, "a,a,,b,c\n1,2,3,4,5\n6,7,8,9,10\n")
    data = read_csv(path, ["c", "b"])
    assert data.feature_names == ("c", "b")
    np.testing.assert_array_equal(data.data, [[5.0, 4.0], [10.0, 9.0]])


def test_repeated_names_are_refused_for_built_in_data_and_datasets():
    with pytest.raises(ValueError, match="faithful: --columns: the column name 'waiting'"):
        load_data("faithful", ["waiting", "waiting"])
    with pytest.raises(ValueError, match="the column name 'x' appears more than once"):
        Dataset("mine", np.zeros((3, 2)), ("x", "x"))


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_header_of_one_column_holding_another_delimiter_says_so(tmp_path, delimiter, name):
    path = write(tmp_path, f"a{delimiter}b\n1{delimiter}2\n3{delimiter}4\n")
    with pytest.raises(ValueError, match=f"one column, .* which holds {name}; .* commas"):
        read_csv(path)


def test_a_one_column_file_whose_name_holds_a_semicolon_is_read(tmp_path):
    path = write(tmp_path, "price;usd\n1\n2\n")
    assert read_csv(path).feature_names == ("price;usd",)


def test_a_ragged_row_after_blank_lines_gives_its_line_in_the_file(tmp_path):
    path = write(tmp_path, "a,b\n\n1,2\n\n\n3,4,5\n")
    with pytest.raises(ValueError, match="line 6: 3 cells but the header has 2 columns"):
        read_csv(path)
    path = write(tmp_path, '\na,b\n"x\ny",2\n1\n')
    with pytest.raises(ValueError, match="line 5: 1 cells"):
        read_csv(path)
