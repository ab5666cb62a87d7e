import json

import numpy as np
import pytest

from latentmix.output import MANIFEST
from latentmix.studies.runner import (
    Replicate,
    replicate_path,
    replicate_rng,
    replicates,
    run_study,
    write_pages,
)

CALLS = []
COMMAND = "study test"


def counting_task(config, n, index):
    CALLS.append((n, index))
    rng = replicate_rng(config["seed"], n, index)
    if index in config.get("fail", []):
        raise FloatingPointError(f"replicate {index} blew up")
    return {"value": float(rng.normal())}


def _run(config, reps, out, scheduler="synchronous", **kwargs):
    return run_study(
        counting_task,
        config,
        reps,
        out,
        command=COMMAND,
        scheduler=scheduler,
        quiet=True,
        **kwargs,
    )


def test_seeds_depend_only_on_study_seed_n_and_index():
    a = replicate_rng(7, 200, 3).normal(size=3)
    b = replicate_rng(7, 200, 3).normal(size=3)
    c = replicate_rng(7, 200, 4).normal(size=3)
    d = replicate_rng(7, 50, 3).normal(size=3)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, d)


def test_resuming_skips_finished_replicates(tmp_path):
    config = {"seed": 1}
    reps = replicates([10, 20], 3)
    CALLS.clear()
    first = _run(config, reps, tmp_path)
    assert len(CALLS) == 6 and len(first) == 6
    # An interruption after some replicates: delete two, leave a torn temporary file.
    replicate_path(tmp_path, Replicate(20, 1)).unlink()
    replicate_path(tmp_path, Replicate(10, 0)).write_text('{"val')
    CALLS.clear()
    second = _run(config, reps, tmp_path)
    assert sorted(CALLS) == [(10, 0), (20, 1)]
    assert [r["value"] for r in second] == [r["value"] for r in first]
    CALLS.clear()
    _run(config, reps, tmp_path)
    assert CALLS == []
    with pytest.raises(ValueError, match="different study"):
        _run({"seed": 2}, reps, tmp_path)


def test_a_failing_replicate_is_recorded_not_dropped(tmp_path):
    records = _run({"seed": 3, "fail": [1]}, replicates([10], 3), tmp_path)
    assert [r["status"] for r in records] == ["ok", "failed", "ok"]
    assert "FloatingPointError: replicate 1 blew up" in records[1]["error"]
    stored = json.loads(replicate_path(tmp_path, Replicate(10, 1)).read_text())
    assert stored["status"] == "failed" and "traceback" in stored


def test_progress_counts_every_replicate_and_says_when_resuming(tmp_path, capsys):
    reps = replicates([10], 3)
    run_study(counting_task, {"seed": 1}, reps, tmp_path, command=COMMAND, scheduler="synchronous")
    err = capsys.readouterr().err
    assert "[3/3] n00010-r0002 ok" in err
    replicate_path(tmp_path, Replicate(10, 2)).unlink()
    run_study(counting_task, {"seed": 1}, reps, tmp_path, command=COMMAND, scheduler="synchronous")
    assert "resuming: 2 of 3 tasks already stored" in capsys.readouterr().err


@pytest.mark.parametrize("scheduler", [None, "threads"])
def test_dask_local_schedulers_store_the_same_records(tmp_path, scheduler):
    reps = replicates([10, 20], 2)
    serial = _run({"seed": 4}, reps, tmp_path / "s")
    other = _run({"seed": 4}, reps, tmp_path / "o", scheduler=scheduler)
    assert [r["value"] for r in other] == [r["value"] for r in serial]
    assert len(list((tmp_path / "o" / "replicates").glob("*.json"))) == 4


def test_an_unknown_scheduler_is_refused(tmp_path):
    with pytest.raises(ValueError, match="scheduler must be"):
        _run({"seed": 4}, replicates([10], 1), tmp_path, scheduler="serial")


@pytest.mark.cluster
def test_a_local_cluster_and_a_scheduler_address_give_the_same_numbers(tmp_path):
    from distributed import LocalCluster

    reps = replicates([10], 4)
    serial = _run({"seed": 4}, reps, tmp_path / "s")
    local = _run({"seed": 4}, reps, tmp_path / "l", scheduler="local", processes=False)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        remote = _run({"seed": 4}, reps, tmp_path / "r", scheduler=cluster.scheduler_address)
    assert [r["value"] for r in local] == [r["value"] for r in serial]
    assert [r["value"] for r in remote] == [r["value"] for r in serial]


def test_the_output_is_claimed_and_foreign_paths_are_refused(tmp_path):
    reps = replicates([10], 1)
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    with pytest.raises(ValueError, match="did not write"):
        _run({"seed": 1}, reps, foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        _run({"seed": 1}, reps, a_file)
    assert a_file.read_text() == "mine"
    out = tmp_path / "study"
    _run({"seed": 1}, reps, out)
    assert json.loads((out / MANIFEST).read_text())["command"] == COMMAND
    with pytest.raises(ValueError, match="not of"):
        run_study(counting_task, {"seed": 1}, reps, out, command="study other", quiet=True)


def test_pages_are_replaced_and_replicates_and_foreign_files_stay(tmp_path):
    out = tmp_path / "study"
    reps = replicates([10], 2)
    _run({"seed": 1}, reps, out)

    def render(version):
        def write(directory):
            (directory / "report.html").write_text(f"page {version}")
            return directory / "report.html"

        return write

    assert write_pages(out, COMMAND, render(1)) == out.absolute() / "report.html"
    (out / "notes.txt").write_text("mine")
    write_pages(out, COMMAND, render(2))
    assert (out / "report.html").read_text() == "page 2"
    assert (out / "notes.txt").read_text() == "mine"
    assert len(list((out / "replicates").glob("*.json"))) == 2
    CALLS.clear()
    _run({"seed": 1}, reps, out)  # still recognised as its own output: resumes, nothing to do
    assert CALLS == []
