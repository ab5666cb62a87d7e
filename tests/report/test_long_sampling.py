"""Before a long sampling: the estimate, the stop with the choices, and the progress lines."""

import io

import numpy as np
import pytest
import xarray as xr

from latentmix.bayes.sample import iterations_done, sampling_seconds
from latentmix.progress import Progress
from latentmix.report import analysis
from latentmix.report.analysis import _SamplingMonitor, analyse
from latentmix.report.settings import ReportSettings


def test_a_sampling_estimated_over_the_limit_stops_before_sampling(monkeypatch):
    monkeypatch.setattr(analysis, "LONG_SAMPLING_SECONDS", 1e-9)
    stream = io.StringIO()
    settings = ReportSettings(n_components=2, seed=0, n_init=2).check()
    with pytest.raises(ValueError, match="stopped before sampling") as err:
        analyse("faithful", settings, progress=Progress(stream=stream))
    message = str(err.value)
    for choice in ("--draws 250 --tune 250", "--chains 2", "--posterior-rows 20", "--allow-long"):
        assert choice in message
    assert "sampling should take about" in stream.getvalue()
    assert "compiling" not in stream.getvalue()  # it stopped before the sampler was built


def test_the_estimate_counts_rounds_of_chains():
    # 4 chains on 2 cores: two rounds of 2000 iterations of 8 gradients.
    assert sampling_seconds(1e-3, 1000, 1000, 4, cores=2) == pytest.approx(2 * 2000 * 8e-3)
    assert sampling_seconds(1e-3, 1000, 1000, 4, cores=4) == pytest.approx(2000 * 8e-3)


def test_iterations_done_skips_the_padding_of_shorter_chains():
    energy = np.full((3, 5), np.nan)
    energy[0, :5] = 1.0  # chain 1 has 5 tuning steps, chain 2 has 2, chain 3 none yet
    energy[1, :2] = 1.0
    draws = np.full((3, 4), np.nan)
    draws[0, :4] = 1.0
    groups = {
        "warmup_sample_stats": xr.Dataset({"energy": (("chain", "draw"), energy)}),
        "sample_stats": xr.Dataset({"energy": (("chain", "draw"), draws)}),
    }

    class Trace:  # what iterations_done reads of nutpie's partial InferenceData
        def groups(self):
            return list(groups)

        def __getitem__(self, name):
            return groups[name]

    assert iterations_done(Trace()) == 5 + 2 + 4


def test_monitor_lines_say_how_far_and_how_long():
    stream = io.StringIO()
    monitor = _SamplingMonitor(Progress(stream=stream), expected=300.0)
    monitor(0, 8000, 0.0)
    monitor(2000, 8000, 60.0)
    lines = stream.getvalue().splitlines()
    assert "sampling 8000 iterations, about 5.0 min" in lines[0]
    assert "2000 of 8000 iterations (25%) in 60 s; about 3.0 min left" in lines[1]
