"""Built-in data sets, CSV reading with clear errors, and synthetic data with known truth."""

import numpy as np
import pytest

from latentmix.datasets import (
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
