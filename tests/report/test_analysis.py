"""The analysis without the sampler: the train/test split and the diagnostics block."""

import numpy as np
import pytest

from latentmix.report import ReportSettings
from latentmix.report.analysis import diagnostics_summary, split_rows


def test_split_rows_is_a_seeded_partition():
    train, test = split_rows(100, 0.25, 2, seed=0)
    assert len(test) == 25 and len(train) == 75
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(100))
    again = split_rows(100, 0.25, 2, seed=0)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    with pytest.raises(ValueError, match="held-out"):
        split_rows(5, 0.01, 2, seed=0)
    with pytest.raises(ValueError, match="training rows"):
        split_rows(5, 0.9, 3, seed=0)


def test_diagnostics_summary_is_the_one_diagnostics_block(shared_analysis):
    diag = diagnostics_summary(shared_analysis.idata)
    assert set(diag) == {
        "max_r_hat", "min_ess_bulk", "min_ess_tail", "n_divergent", "ebfmi", "n_chains",
        "n_draws", "n_relabelled", "n_switched", "relabelling", "problems",
    }  # fmt: skip
    assert diag["n_chains"] == 2 and diag["n_draws"] == 100
    assert diag == shared_analysis.diagnostics


def test_a_spurious_mle_reaches_the_warning_box_and_estimates_json(shared_analysis):
    from dataclasses import replace

    from latentmix.datasets import load
    from latentmix.progress import Progress
    from latentmix.report.analysis import _fit_em
    from latentmix.report.context import report_context, warnings_list
    from latentmix.report.record import estimates_record
    from latentmix.report.write import render_pages

    X = load("galaxies").data
    settings = ReportSettings(8, "full", seed=0)
    mle, messages = _fit_em("MLE", X, settings, None, Progress(quiet=True))
    spurious = [m for m in messages if "spurious local maximiser" in m]
    assert len(spurious) == 1 and spurious[0].startswith("EM MLE: component ")
    assert "prior='default'" in spurious[0]
    analysis = replace(shared_analysis, em_warnings=messages, mle=mle)
    assert spurious[0] in warnings_list(analysis)
    page, md = render_pages(report_context(analysis, []))
    assert "spurious local maximiser" in page and "spurious local maximiser" in md
    record = estimates_record(analysis, warnings_list(analysis))
    assert record["em"]["mle"]["spurious_components"] == [int(k) for k in mle.spurious_components_]
    assert record["em"]["map"]["spurious_components"] == []


def test_a_data_frame_names_the_features_everywhere():
    import pandas as pd

    from latentmix.report.analysis import dataset_from_frame

    frame = pd.DataFrame({"eruptions": [1.0, 2.0, np.nan], "waiting": [3.0, 4.0, 5.0], "x": 0})
    dataset = dataset_from_frame(frame, ["waiting", "eruptions"], name="geysers")
    assert dataset.feature_names == ("waiting", "eruptions") and dataset.name == "geysers"
    np.testing.assert_array_equal(dataset.data, [[3.0, 1.0], [4.0, 2.0], [5.0, np.nan]])
    with pytest.raises(ValueError, match="has no column 'wait'"):
        dataset_from_frame(frame, ["wait"])
    with pytest.raises(ValueError, match="the column name 'a' appears"):
        dataset_from_frame(pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]))


def test_what_the_reader_says_about_the_data_goes_to_the_progress_lines(tmp_path, monkeypatch):
    """A text column left out and a column of row numbers are said in the progress lines
    (and kept for the warning box), not printed by Python's warning machinery."""
    import io
    import warnings

    from latentmix.progress import Progress
    from latentmix.report import analysis as report_analysis

    rng = np.random.default_rng(0)
    rows = [
        f"{i + 1},s{i},{x:.4f},{y:.4f}"
        for i, (x, y) in enumerate(rng.normal(size=(40, 2)) + np.repeat([[0], [4]], 20, 0))
    ]
    path = tmp_path / "people.csv"
    path.write_text("id,name,x,y\n" + "\n".join(rows) + "\n")

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(report_analysis, "_sample", stop)
    stream = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing about the data escapes as a warning
        with pytest.raises(Stop):
            report_analysis.analyse(
                str(path), ReportSettings(2, "full", n_init=2), progress=Progress(stream=stream)
            )
    text = stream.getvalue()
    assert "Data: " in text and "'name'" in text and "'id'" in text
