import json

import numpy as np
import pytest

from latentmix import cli
from latentmix.studies import coverage as C
from latentmix.studies.runner import (
    Replicate,
    replicate_path,
    replicate_rng,
    replicates,
    run_study,
)

CALLS = []


def counting_task(config, n, index):
    CALLS.append((n, index))
    rng = replicate_rng(config["seed"], n, index)
    if index in config.get("fail", []):
        raise FloatingPointError(f"replicate {index} blew up")
    return {"value": float(rng.normal())}


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
    first = run_study(counting_task, config, reps, tmp_path, scheduler="serial", quiet=True)
    assert len(CALLS) == 6 and len(first) == 6
    # An interruption after some replicates: delete two, leave a torn temporary file.
    replicate_path(tmp_path, Replicate(20, 1)).unlink()
    replicate_path(tmp_path, Replicate(10, 0)).write_text('{"val')
    CALLS.clear()
    second = run_study(counting_task, config, reps, tmp_path, scheduler="serial", quiet=True)
    assert sorted(CALLS) == [(10, 0), (20, 1)]
    assert [r["value"] for r in second] == [r["value"] for r in first]
    CALLS.clear()
    run_study(counting_task, config, reps, tmp_path, scheduler="serial", quiet=True)
    assert CALLS == []
    with pytest.raises(ValueError, match="different study"):
        run_study(counting_task, {"seed": 2}, reps, tmp_path, scheduler="serial", quiet=True)


def test_a_failing_replicate_is_recorded_not_dropped(tmp_path):
    config = {"seed": 3, "fail": [1]}
    records = run_study(
        counting_task, config, replicates([10], 3), tmp_path, scheduler="serial", quiet=True
    )
    assert [r["status"] for r in records] == ["ok", "failed", "ok"]
    assert "FloatingPointError: replicate 1 blew up" in records[1]["error"]
    stored = json.loads(replicate_path(tmp_path, Replicate(10, 1)).read_text())
    assert stored["status"] == "failed" and "traceback" in stored


def _strip_times(record):
    if isinstance(record, dict):
        return {k: _strip_times(v) for k, v in record.items() if "seconds" not in k}
    return record


def test_dask_gives_the_same_numbers_as_serial(tmp_path):
    name, truth = C.load_truth("well_separated")
    config = C.study_config(truth, name, [40], 3, seed=5, n_boot=4, draws=0)
    serial = C.run_coverage(config, tmp_path / "serial", scheduler="serial", quiet=True)
    dask = C.run_coverage(config, tmp_path / "dask", processes=False, n_workers=2, quiet=True)
    assert len(serial) == len(dask) == 3
    assert [_strip_times(r) for r in serial] == [_strip_times(r) for r in dask]
    assert all(r["status"] == "ok" for r in dask)
    assert set(serial[0]["methods"]) == {"mle_wald", "mle_boot_np", "mle_boot_par", "map_laplace"}


def test_an_existing_scheduler_address_is_used(tmp_path):
    from dask.distributed import LocalCluster

    config = {"seed": 4}
    reps = replicates([10], 4)
    serial = run_study(counting_task, config, reps, tmp_path / "s", scheduler="serial", quiet=True)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        remote = run_study(
            counting_task,
            config,
            reps,
            tmp_path / "r",
            scheduler=cluster.scheduler_address,
            quiet=True,
        )
    assert [r["value"] for r in remote] == [r["value"] for r in serial]


def test_coverage_summary_counts_failed_methods_and_replicates(tmp_path):
    name, truth = C.load_truth("unequal_weights")
    # n_boot=1 makes every bootstrap fail with a ValueError: it must be counted, not dropped.
    config = C.study_config(truth, name, [60], 2, seed=2, n_boot=1, draws=0)
    records = C.run_coverage(config, tmp_path, scheduler="serial", quiet=True)
    records.append(
        {"status": "failed", "error": "RuntimeError: lost", "key": "x", "n": 60, "index": 2}
    )
    summary = C.summarise(records, config)
    overall = {o["method"]: o for o in summary["overall"]}
    assert overall["mle_boot_np"]["failed"] == 3 and overall["mle_boot_np"]["ok"] == 0
    assert overall["mle_wald"]["ok"] == 2 and overall["mle_wald"]["failed"] == 1
    assert len(summary["failed"]) == 1
    wald = [r for r in summary["rows"] if r["method"] == "mle_wald"]
    assert len(wald) == len(summary["names"]) == 12
    by_hand = np.mean(
        [rec["methods"]["mle_wald"]["parameters"]["means[0,0]"]["covered"] for rec in records[:2]]
    )
    assert next(r for r in wald if r["parameter"] == "means[0,0]")["coverage"] == by_hand


def test_study_command_writes_a_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "cov"
    argv = [
        "study",
        "coverage",
        "--truth",
        "well_separated",
        "--n",
        "40,80",
        "--replications",
        "2",
        "--draws",
        "0",
        "--n-boot",
        "4",
        "--out",
        str(out),
        "--scheduler",
        "serial",
    ]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "[4/4]" in err
    assert len(list((out / "replicates").glob("*.json"))) == 4
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<script" not in html
    assert "MLE, Wald" in (out / "report.md").read_text()
    assert cli.main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main([*argv[:-4], "--seed", "9", "--out", str(out), "--scheduler", "serial"]) == 2
    assert "different study" in capsys.readouterr().err


def test_truth_files_and_errors(tmp_path):
    assert {"well_separated", "overlapping", "unequal_weights"} <= set(C.truth_names())
    spec = tmp_path / "t.toml"
    spec.write_text(
        'covariance_type = "spherical"\nweights = [0.5, 0.5]\nmeans = [[0.0], [3.0]]\n'
        "covariances = [1.0, 2.0]\n"
    )
    name, truth = C.load_truth(str(spec))
    assert name == "t" and truth.covariance_type == "spherical"
    with pytest.raises(ValueError, match="neither a named truth"):
        C.load_truth("no_such_truth")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "weights": [0.7, 0.7],
                "means": [[0], [1]],
                "covariances": [1, 1],
                "covariance_type": "spherical",
            }
        )
    )
    with pytest.raises(ValueError, match="sum to 1"):
        C.load_truth(str(bad))


@pytest.mark.compiles
def test_data_model_swaps_the_observed_data():
    import pymc as pm

    from latentmix.bayes.model import build_model
    from latentmix.params import MixtureParams, sample_mixture
    from latentmix.priors import ConjugatePrior
    from latentmix.studies.runner import data_model, prior_key

    truth = MixtureParams(np.array([0.4, 0.6]), np.array([[0.0], [3.0]]), np.ones((2, 1)), "diag")
    X0, _ = sample_mixture(truth, 30, 0)
    X1, _ = sample_mixture(truth, 30, 1)
    prior = ConjugatePrior(1.0, np.zeros(1), 0.1, 4.0, np.ones(1))
    assert prior_key(prior) == prior_key(ConjugatePrior(1.0, np.zeros(1), 0.1, 4.0, np.ones(1)))
    swapped = data_model(X0, 2, "diag", prior)
    fresh = build_model(X1, 2, "diag", prior)
    point = fresh.initial_point()
    logp_swapped = swapped.compile_logp()
    before = logp_swapped(point)
    with swapped:
        pm.set_data({"x_data": X1})
    after = logp_swapped(point)
    assert after != before
    np.testing.assert_allclose(after, fresh.compile_logp()(point), rtol=1e-12)


@pytest.mark.compiles
def test_coverage_posterior_arm_runs_on_one_compiled_model(tmp_path):
    # A 1-D diag truth: the cheapest model to compile; the code path is the same for all.
    from latentmix.params import MixtureParams

    truth = MixtureParams(np.array([0.4, 0.6]), np.array([[0.0], [4.0]]), np.ones((2, 1)), "diag")
    config = C.study_config(
        truth, "1d", [40], 2, seed=1, n_boot=4, bootstrap=[], draws=60, tune=80, chains=2
    )
    records = C.run_coverage(config, tmp_path, scheduler="serial", quiet=True)
    posts = [r["methods"]["posterior"] for r in records]
    assert all(p["status"] == "ok" for p in posts), posts
    # Both replicates used the model compiled for the first (same n, same prior).
    assert posts[0]["compile_seconds"] == posts[1]["compile_seconds"]
    estimates = [p["parameters"]["means[1,0]"]["estimate"] for p in posts]
    assert set(posts[0]["parameters"]) == {
        "weights[0]",
        "weights[1]",
        "means[0,0]",
        "means[1,0]",
        "covariances[0,0]",
        "covariances[1,0]",
    }
    assert estimates[0] != estimates[1]  # the data really changed between replicates
    for p in posts:
        for v in p["parameters"].values():
            assert v["lower"] <= v["upper"]
    summary = C.summarise(records, config)
    assert {o["method"] for o in summary["overall"]} == {"mle_wald", "map_laplace", "posterior"}
