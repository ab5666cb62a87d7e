"""What a study prints on stderr: its progress lines, no library warnings, no killed workers."""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

# PyTensor's words when it finds no BLAS (pytensor/link/c/cmodule.py, PyTensor 2.x), said
# once per process when a model is first compiled.
BLAS_WARNING = (
    "PyTensor could not link to a BLAS installation. Operations that might benefit from BLAS "
    "will be severely degraded."
)

# A replicate that does what a posterior replicate does to its worker, without the minutes
# of compiling: PyTensor's BLAS warning, and an exit that takes longer than the 4 s dask
# waits by default (a worker holding a compiled PyMC model takes seconds to shut down).
_TASK = textwrap.dedent(
    f"""
    import atexit, time, warnings

    _SLOW = []

    def task(config, n, index):
        warnings.warn({BLAS_WARNING!r}, UserWarning)
        if not _SLOW:
            _SLOW.append(atexit.register(time.sleep, 5.0))
        return {{"value": float(index)}}
    """
)

_STUDY = textwrap.dedent(
    """
    import sys
    from latentmix.studies.runner import replicates, run_study
    from slow_exit_task import task

    records = run_study(task, {"seed": 0}, replicates([10], 4), sys.argv[1],
                        command="study test", scheduler="local", n_workers=2)
    assert [r["status"] for r in records] == ["ok"] * 4, records
    """
)


@pytest.mark.cluster
def test_a_study_on_worker_processes_prints_no_blas_warning_and_kills_no_worker(tmp_path):
    (tmp_path / "slow_exit_task.py").write_text(_TASK)
    # The spawned workers import the task from there.
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", _STUDY, str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "[4/4]" in run.stderr  # the progress lines are there
    assert "BLAS" not in run.stderr, run.stderr
    assert "still alive" not in run.stderr, run.stderr
    assert "killing" not in run.stderr, run.stderr


def test_compiling_a_replicate_model_says_nothing_of_blas(monkeypatch):
    import types

    from latentmix.bayes import sample
    from latentmix.priors import ConjugatePrior
    from latentmix.studies import posterior

    trace = types.SimpleNamespace(
        posterior=types.SimpleNamespace(
            attrs={"compile_seconds": 1.0, "sample_seconds": 2.0, "compile_source": "compiled"}
        )
    )

    def sample_model(model, **kwargs):
        # As PyTensor does on its first compile.
        warnings.warn(BLAS_WARNING, UserWarning, stacklevel=2)
        assert kwargs["cores"] == 1 and kwargs["structure"] is not None
        return trace

    monkeypatch.setattr(sample, "sample_model", sample_model)
    X = np.random.default_rng(5).normal(size=(20, 1))
    prior = ConjugatePrior(1.0, np.zeros(1), 0.1, 4.0, np.ones(1))
    config = {"draws": 10, "tune": 10, "chains": 1}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = posterior.sample_swappable(X, 2, "diag", prior, config, random_state=1)
    assert got == (trace, 1.0, 2.0)
    assert not [w for w in caught if "BLAS" in str(w.message)]
