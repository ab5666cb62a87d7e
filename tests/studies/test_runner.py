import json
import os
import signal
import time

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


def interrupting_task(config, n, index):
    CALLS.append((n, index))
    if index == config.get("interrupt"):
        raise KeyboardInterrupt
    if index == config.get("swallow"):
        # A library that catches Ctrl-C and returns what it has (nutpie's partial trace).
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:
            return {"value": float("nan")}
    return {"value": float(index)}


@pytest.fixture
def default_ctrl_c():
    """Python's own SIGINT handler for the test, whatever an earlier test left."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("how", ["interrupt", "swallow"])
def test_an_interrupted_replicate_is_not_stored_and_is_redone(tmp_path, how, default_ctrl_c):
    reps = replicates([10], 3)
    CALLS.clear()
    with pytest.raises(KeyboardInterrupt, match="n00010-r0001 was not stored"):
        run_study(interrupting_task, {how: 1}, reps, tmp_path, command=COMMAND, quiet=True,
                  scheduler="synchronous")  # fmt: skip
    assert CALLS == [(10, 0), (10, 1)]
    assert sorted(p.name for p in (tmp_path / "replicates").iterdir()) == ["n00010-r0000.json"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    CALLS.clear()
    records = run_study(interrupting_task, {how: 1}, reps[:1] + reps[2:], tmp_path,
                        command=COMMAND, quiet=True, scheduler="synchronous")  # fmt: skip
    assert CALLS == [(10, 2)] and [r["status"] for r in records] == ["ok", "ok"]


def test_records_carry_their_settings_and_others_are_redone(tmp_path, capsys):
    reps = replicates([10], 3)
    first = _run({"seed": 1}, reps, tmp_path)
    assert len({r["config"] for r in first}) == 1
    (tmp_path / "study.json").unlink()
    CALLS.clear()
    progress = run_study(counting_task, {"seed": 2}, reps, tmp_path, command=COMMAND,
                         scheduler="synchronous")  # fmt: skip
    assert len(CALLS) == 3
    assert "redoing 3 stored replicate(s) made under other settings" in capsys.readouterr().err
    assert [r["value"] for r in progress] != [r["value"] for r in first]
    fresh = _run({"seed": 2}, reps, tmp_path / "b")
    assert [r["value"] for r in progress] == [r["value"] for r in fresh]


def test_records_of_an_earlier_release_resume_only_under_their_study_json(tmp_path):
    reps = replicates([10], 2)
    _run({"seed": 1}, reps, tmp_path)
    for path in (tmp_path / "replicates").iterdir():
        record = json.loads(path.read_text())
        del record["config"]
        path.write_text(json.dumps(record))
    CALLS.clear()
    assert len(_run({"seed": 1}, reps, tmp_path)) == 2 and CALLS == []
    # Without study.json nothing says what settings they were made with: redone.
    (tmp_path / "study.json").unlink()
    CALLS.clear()
    _run({"seed": 1}, reps, tmp_path)
    assert CALLS == [(10, 0), (10, 1)]


@pytest.mark.parametrize(
    "stored",
    [{"status": "ok"}, {"status": "ok", "key": "n00010-r0001", "n": 10, "index": 1}, [1, 2],
     {"status": "failed", "key": "n00010-r0001", "n": 10, "index": 1}, "\udcff"],
    ids=["status-only", "no-value", "a-list", "failed-without-error", "not-utf8"],
)  # fmt: skip
def test_a_malformed_record_is_redone_and_the_progress_says_so(tmp_path, capsys, stored):
    reps = replicates([10], 3)
    run = dict(command=COMMAND, scheduler="synchronous", required=("value",))
    run_study(counting_task, {"seed": 1}, reps, tmp_path, quiet=True, **run)
    path = replicate_path(tmp_path, Replicate(10, 1))
    if isinstance(stored, str):
        path.write_bytes(b'{"status": "ok", "\xff": 1}')
    else:
        record = json.loads(path.read_text())
        path.write_text(json.dumps(stored if not isinstance(stored, dict) or len(stored) == 1
                                   else {**stored, "config": record["config"]}))  # fmt: skip
    CALLS.clear()
    records = run_study(counting_task, {"seed": 1}, reps, tmp_path, **run)
    assert CALLS == [(10, 1)] and len(records) == 3
    assert "redoing 1 stored replicate(s) malformed: n00010-r0001" in capsys.readouterr().err


def test_a_corrupt_study_json_names_the_file_and_the_fix(tmp_path):
    from latentmix.studies.runner import read_stored

    reps = replicates([10], 1)
    _run({"seed": 1}, reps, tmp_path)
    (tmp_path / "study.json").write_text('{"seed": 1')
    with pytest.raises(ValueError, match=r"study\.json is not valid JSON .*delete it and re-run"):
        _run({"seed": 1}, reps, tmp_path)
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(ValueError, match=r"study\.json is not valid JSON"):
        read_stored(tmp_path)
    (tmp_path / "study.json").write_text("[]")
    with pytest.raises(ValueError, match="does not hold a study's settings"):
        _run({"seed": 1}, reps, tmp_path)


def test_a_study_in_which_everything_failed_exits_non_zero(tmp_path, capsys):
    from latentmix.studies.runner import finish_status

    records = _run({"seed": 3, "fail": [0, 1]}, replicates([10], 2), tmp_path)
    assert finish_status(records, tmp_path) == 1
    err = capsys.readouterr().err
    assert "all 2 of 2 replicates failed" in err and str(tmp_path / "replicates") in err
    assert finish_status([], tmp_path) == 1
    records = _run({"seed": 3, "fail": [0]}, replicates([10], 2), tmp_path / "some")
    assert finish_status(records, tmp_path) == 0
    assert finish_status(records, tmp_path, lambda r: True) == 1


@pytest.mark.parametrize(
    ("scheduler", "workers", "message"),
    [("serial", 2, "--scheduler must be one of"), ("local", 0, "--workers must be at least 1")],
)
def test_scheduler_and_workers_are_checked_before_the_output_is_claimed(
    tmp_path, scheduler, workers, message
):
    with pytest.raises(ValueError, match=message):
        _run({"seed": 1}, replicates([10], 1), tmp_path / "o", scheduler=scheduler,
             n_workers=workers)  # fmt: skip
    assert not (tmp_path / "o").exists()


def interrupting_thread_task(config, n, index):
    # Ctrl-C while a worker thread runs this replicate; the sampler then fails for it (as
    # nutpie's partial trace would make the posterior arm fail): not a result to keep.
    if index == 1:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)
        raise ValueError("cannot reshape array of size 0")
    if index > 1:
        time.sleep(0.5)
    return {"value": float(index)}


def test_ctrl_c_in_a_threaded_study_stores_no_failure(tmp_path, default_ctrl_c):
    reps = replicates([10], 3)
    with pytest.raises(KeyboardInterrupt, match=r"not stored .*re-run the same command"):
        run_study(interrupting_thread_task, {}, reps, tmp_path, command=COMMAND, quiet=True,
                  scheduler="threads")  # fmt: skip
    time.sleep(0.6)  # let the worker threads end
    stored = [json.loads(p.read_text()) for p in (tmp_path / "replicates").glob("*.json")]
    assert all(r["status"] == "ok" for r in stored)
    assert "n00010-r0001" not in {r["key"] for r in stored}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    records = run_study(interrupting_thread_task, {}, reps[:1] + reps[2:], tmp_path,
                        command=COMMAND, quiet=True, scheduler="threads")  # fmt: skip
    assert [r["status"] for r in records] == ["ok", "ok"]


def test_a_worker_interrupted_alone_stores_no_record(tmp_path):
    # A Ctrl-C that reached only a worker: the task is interrupted (KeyboardInterrupt) or a
    # library swallows it (the SIGINT is seen); the marker is not stored, and the study ends
    # as interrupted once the others are in.
    from latentmix.studies.runner import INTERRUPTED, run_guarded

    rep = Replicate(10, 1)
    for how in ("interrupt", "swallow"):
        marker = run_guarded(interrupting_task, {how: 1}, rep)
        assert marker == {"status": INTERRUPTED, "key": rep.key, "n": 10, "index": 1}
    assert run_guarded(interrupting_task, {}, rep)["status"] == "ok"
    reps = replicates([10], 3)
    with pytest.raises(KeyboardInterrupt, match=r"replicate\(s\) n00010-r0001 and any still"):
        run_study(interrupting_task, {"interrupt": 1}, reps, tmp_path, command=COMMAND,
                  quiet=True, scheduler="threads")  # fmt: skip
    keys = sorted(p.stem for p in (tmp_path / "replicates").glob("*.json"))
    assert keys == ["n00010-r0000", "n00010-r0002"]
