"""JSON conversion and atomic writing."""

import json
import os

import numpy as np
import pytest

from latentmix import jsonio


def test_to_jsonable_makes_plain_python_and_nan_null():
    value = {
        1: np.array([[1.0, np.nan], [np.inf, -np.inf]]),
        "b": (np.int64(3), np.float32(0.5), np.bool_(True)),
        "c": [float("nan"), None, "x"],
    }
    got = jsonio.to_jsonable(value)
    assert got == {"1": [[1.0, None], [None, None]], "b": [3, 0.5, True], "c": [None, None, "x"]}
    assert type(got["b"][0]) is int and type(got["b"][2]) is bool
    json.dumps(got, allow_nan=False)


def test_write_json_round_trips_and_leaves_no_temporary(tmp_path):
    path = jsonio.write_json(tmp_path / "sub" / "a.json", {"x": np.arange(3)})
    assert json.loads(path.read_text()) == {"x": [0, 1, 2]}
    assert os.listdir(path.parent) == ["a.json"]


def test_write_json_gives_the_permissions_of_a_new_file(tmp_path):
    umask = os.umask(0o022)
    try:
        path = jsonio.write_json(tmp_path / "a.json", {})
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_json_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.json"
    jsonio.write_json(path, {"x": 1})
    with pytest.raises(TypeError):
        jsonio.write_json(path, {"x": object()})
    assert json.loads(path.read_text()) == {"x": 1}
    assert os.listdir(tmp_path) == ["a.json"]
