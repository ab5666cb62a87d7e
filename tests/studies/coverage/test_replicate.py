import numpy as np
import pytest

from latentmix.matching import match_components
from latentmix.params import MixtureParams
from latentmix.studies import coverage as C
from latentmix.studies.coverage.replicate import _fit_em


def _strip_times(record):
    if isinstance(record, dict):
        return {k: _strip_times(v) for k, v in record.items() if "seconds" not in k}
    return record


def test_every_source_is_recorded_and_dask_threads_give_the_same_numbers(tmp_path):
    name, truth = C.load_truth("well_separated")
    config = C.study_config(truth, name, [40], 3, random_state=5, n_boot=4, draws=0)
    serial = C.run_coverage(config, tmp_path / "serial", scheduler="synchronous", quiet=True)
    threads = C.run_coverage(config, tmp_path / "threads", scheduler="threads", quiet=True)
    assert len(serial) == len(threads) == 3
    assert [_strip_times(r) for r in serial] == [_strip_times(r) for r in threads]
    assert all(r["status"] == "ok" for r in serial)
    assert set(serial[0]["sources"]) == {
        "wald",
        "bootstrap_nonparametric",
        "bootstrap_parametric",
        "laplace",
        "vb",
    }
    wald = serial[0]["sources"]["wald"]["parameters"]["means[0,0]"]
    assert wald["lower"] <= wald["estimate"] <= wald["upper"]


def test_estimates_are_put_in_the_truths_order_by_the_one_matching_rule():
    _, truth = C.load_truth("well_separated")
    swapped = truth.permute([1, 0])
    from latentmix.params import sample_mixture

    X, _ = sample_mixture(swapped, 400, 0)
    fitted = _fit_em(X, truth, None, 0)
    np.testing.assert_array_equal(match_components(fitted, truth), np.arange(2))
    np.testing.assert_allclose(fitted.means, truth.means, atol=0.5)


@pytest.mark.compiles
def test_the_posterior_arm_runs_on_one_compiled_model(tmp_path):
    # A 1-D diag truth: the cheapest model to compile; the code path is the same for all.
    truth = MixtureParams(np.array([0.4, 0.6]), np.array([[0.0], [4.0]]), np.ones((2, 1)), "diag")
    config = C.study_config(
        truth, "1d", [40], 2, random_state=1, n_boot=4, bootstrap=[], draws=60, tune=80, chains=2
    )
    records = C.run_coverage(config, tmp_path, scheduler="synchronous", quiet=True)
    posts = [r["sources"]["posterior"] for r in records]
    assert all(p["status"] == "ok" for p in posts), posts
    # The second replicate reused the sampler the first compiled or loaded from disk.
    assert posts[0]["compile_source"] in ("compiled", "disk", "memory")
    assert posts[1]["compile_source"] == "memory"
    assert set(posts[0]["parameters"]) == {
        "weights[0]",
        "weights[1]",
        "means[0,0]",
        "means[1,0]",
        "covariances[0,0]",
        "covariances[1,0]",
    }
    estimates = [p["parameters"]["means[1,0]"]["estimate"] for p in posts]
    assert estimates[0] != estimates[1]  # the data really changed between replicates
    for p in posts:
        assert 0 <= p["n_relabelled"] <= 120 and p["max_r_hat"] > 0.9
        for v in p["parameters"].values():
            assert v["lower"] <= v["upper"]
    summary = C.summarise(records, config)
    assert {o["source"] for o in summary["overall"]} == {"wald", "laplace", "vb", "posterior"}
    assert summary["posterior"]["n_fits"] == 2
    assert summary["posterior"]["compile_sources"]["memory"] >= 1
