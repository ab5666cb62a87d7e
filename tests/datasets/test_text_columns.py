"""A CSV file's text columns: left out by name without --columns, an error when chosen."""

import warnings

import numpy as np
import pytest

from latentmix.datasets import DataWarning, load_data, numeric_columns, read_csv
from latentmix.report.labels import csv_columns, take_labels


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


PEOPLE = "name,x,city,y\nAnn,1.0,Paris,2.0\nBob,1.5,,3.0\nCy,0.25,Oslo,2.5\n"


def test_text_columns_are_left_out_by_name(tmp_path):
    path = write(tmp_path, PEOPLE)
    with pytest.warns(DataWarning) as record:
        data = read_csv(path)
    assert data.feature_names == ("x", "y")
    np.testing.assert_array_equal(data.data, [[1.0, 2.0], [1.5, 3.0], [0.25, 2.5]])
    assert len(record) == 1
    message = str(record[0].message)
    # Each column with its first cell, so that a person sees what the column holds.
    assert "left out 2 columns of text" in message
    assert "'name' (data row 1: 'Ann')" in message
    assert "'city' (data row 1: 'Paris')" in message  # the empty cell is missing, not text
    assert "the numeric columns 'x', 'y'" in message and "--columns" in message
    assert issubclass(DataWarning, UserWarning)


def test_load_data_and_numeric_columns_agree(tmp_path):
    path = write(tmp_path, PEOPLE)
    with pytest.warns(DataWarning, match="'name'"):
        assert load_data(str(path)).feature_names == ("x", "y")
    with pytest.warns(DataWarning, match="'name'"):
        assert numeric_columns(path) == ["x", "y"]
    # Excluded columns (labels, weights) are neither used nor named.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert numeric_columns(path, exclude=("name", "city")) == ["x", "y"]


def test_chosen_columns_say_nothing_and_a_chosen_text_column_is_an_error(tmp_path):
    path = write(tmp_path, PEOPLE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_csv(path, ["y", "x"]).feature_names == ("y", "x")
    with pytest.raises(
        ValueError,
        match=r"column 'city', data row 1 is not a number \('Paris'\); leave the column out "
        "of --columns",
    ):
        read_csv(path, ["x", "city"])


def test_a_stray_word_in_a_column_of_numbers_is_an_error_not_a_lost_column(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,u\n3,oops,v\n4,5,w\n")
    match = (
        r"column 'b', data row 2 is not a number \('oops'\); the column's other cells are "
        r"numbers: correct the cell, write a missing value as NA .*leave the column out"
    )
    # 'c' (every cell text) is left out; 'b' has numbers, so its stray word is an error.
    with pytest.raises(ValueError, match=match), pytest.warns(DataWarning, match="'c'"):
        read_csv(path)


def test_text_columns_with_missing_cells_and_the_missing_option(tmp_path):
    # Missing cells count for neither: 'note' is text; 'x' is numbers with a missing cell.
    path = write(tmp_path, "note,x,y\n,1,2\nNA,,3\nsee,2,5\n")
    with pytest.warns(DataWarning, match=r"'note' \(data row 3: 'see'\)"):
        data = read_csv(path, missing="ignore")
    assert data.feature_names == ("x", "y") and data.n_missing == 1
    with pytest.warns(DataWarning), pytest.raises(ValueError, match="column 'x', data row 2"):
        read_csv(path)


def test_no_numeric_column_is_a_clear_error(tmp_path):
    path = write(tmp_path, "name,city\nAnn,Paris\nBob,Rome\n")
    with pytest.raises(ValueError, match=r"no column of numbers to fit \(text in 'name' "
                       r"\(data row 1: 'Ann'\), 'city' \(data row 1: 'Paris'\)\)"):  # fmt: skip
        read_csv(path)
    # The weights column is not data: a file of text and weights has nothing to fit.
    path = write(tmp_path, "name,w\nAnn,1\nBob,2\n", "w.csv")
    with pytest.raises(ValueError, match=r"no column of numbers to fit \(.*'name'.*; 'w' is not"):
        read_csv(path, weights="w")


def test_the_weights_column_is_not_called_text_or_a_row_number(tmp_path):
    path = write(tmp_path, "kind,x,w\na,0.5,1\nb,1.5,2\nc,0.75,3\n")
    with pytest.warns(DataWarning) as record:
        data = read_csv(path, weights="w")
    assert data.feature_names == ("x",) and data.sample_weight.tolist() == [1, 2, 3]
    assert len(record) == 1 and "'kind'" in str(record[0].message)
    assert "'w'" not in str(record[0].message)


@pytest.mark.parametrize(("start", "cells"), [(1, "1,2,3,4"), (0, "0,1,2,3"), (1, "1.0,2,3,4")])
def test_a_column_of_row_numbers_is_used_and_named(tmp_path, start, cells):
    ids = cells.split(",")
    rows = [f"{i},{x},{y}" for i, x, y in zip(ids, (0.5, 2, 1, 3), (1, 4, 2, 2.5), strict=True)]
    path = write(tmp_path, "id,x,y\n" + "\n".join(rows) + "\n")
    with pytest.warns(DataWarning) as record:
        data = read_csv(path)
    assert data.feature_names == ("id", "x", "y")  # numeric, so kept: the warning says so
    np.testing.assert_array_equal(data.data[:, 0], np.arange(4) + start)
    (w,) = record
    assert str(w.message).endswith(
        f"column 'id' holds the integers {start}..{start + 3} in row order, like a row "
        "identifier, and is used as data; if it numbers the rows, leave it out: --columns "
        "x,y (Python: columns=['x', 'y'])."
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_csv(path, ["x", "y"]).feature_names == ("x", "y")


@pytest.mark.parametrize(
    "ids",
    [
        "2,3,4,5",  # starts at 2
        "1,3,2,4",  # not in row order
        "1,2,,4",  # a missing cell (read with --missing ignore)
        "1,2,3,4.5",  # not integers
    ],
)
def test_columns_that_are_not_row_numbers_say_nothing(tmp_path, ids):
    rows = [f"{i},{x}" for i, x in zip(ids.split(","), (0.5, 2, 1, 3), strict=True)]
    path = write(tmp_path, "id,x\n" + "\n".join(rows) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_csv(path, missing="ignore").feature_names == ("id", "x")


def test_the_only_numeric_column_being_row_numbers_is_said(tmp_path):
    path = write(tmp_path, "n,name\n1,a\n2,b\n3,c\n")
    with pytest.warns(DataWarning) as record:
        read_csv(path)
    assert "the fit would be of row numbers" in str(record[-1].message)


def test_labels_column_is_left_out_of_the_data_and_not_warned_about(tmp_path):
    # report --labels kind: 'kind' is labels, 'note' is another text column, left out.
    path = write(tmp_path, "a,kind,note,b\n1,x,p,2\n2.5,y,q,3.5\n0.5,x,r,1\n")
    with pytest.warns(DataWarning) as record:
        columns = csv_columns(path, "kind", None, None)
    assert columns == ["a", "b"]
    (w,) = record
    assert "'note'" in str(w.message) and "'kind'" not in str(w.message)
    dataset, target = take_labels(read_csv(path, columns), path, "kind")
    assert dataset.feature_names == ("a", "b") and target.tolist() == ["x", "y", "x"]
    # A numeric labels column is not data either, and is not called a row identifier.
    path = write(tmp_path, "g,a,b\n1,0.5,2\n2,1.5,1\n3,0.25,3\n", "g.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert csv_columns(path, "g", None, None) == ["a", "b"]
