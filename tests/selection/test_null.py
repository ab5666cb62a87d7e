"""The LRT null study on a tiny run (the committed study is reports/select-lrt-null)."""

import json

import numpy as np
import pytest
from scipy.stats import chisquare

from latentmix.selection import null as N


def test_the_null_study_runs_resumes_and_writes_its_page(tmp_path):
    config = N.null_config(n=40, replications=3, bootstrap=4, n_init=1, seed=5)
    out = tmp_path / "null"
    records = N.run_null(config, out, scheduler="synchronous", quiet=True)
    assert len(records) == 6 and all(r["status"] == "ok" for r in records)
    for r in records:
        # p = (1 + #{LRTS* >= LRTS}) / (B + 1), from the stored bootstrap statistics.
        count = sum(b >= r["lrts"] for b in r["boot_lrts"])
        assert r["p_value"] == (1 + count) / 5 and len(r["boot_lrts"]) == 4
    again = N.run_null(config, out, scheduler="synchronous", quiet=True)
    assert again == records
    html, md = N.write_null_pages(records, config, out)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["truths"]) == {"one", "two"}
    one = summary["truths"]["one"]
    assert one["n_replicates"] == 3 and 0 <= one["ks_p_value"] <= 1
    assert sum(one["counts"]) == 3 and len(one["counts"]) == 5 and summary["n_init"] == 1
    # The data's statistics beside their 3 x 4 replicates', and the four tests together.
    assert one["lrts_quantiles"]["n_bootstrap"] == 12 and len(summary["family"]["tests"]) == 4
    # With B = 4 the smallest p-value is 0.2: no test at 0.05 or 0.10 can be made.
    assert one["rejections"] == {}
    assert "data:image/png;base64," in html.read_text()
    text = md.read_text()
    assert "uniform on {1/(B + 1), ..., 1}" in text
    # The restarts are said as they are: not select's default here.
    assert "1 restarts; latentmix select's default is 10" in text
    assert "Monte Carlo p-values" in text
    assert "after Holm's adjustment for the 4 tests" in text


def test_the_study_defaults_to_selects_restarts():
    from latentmix.selection.grid import N_INIT

    assert N.null_config()["n_init"] == N_INIT


def test_rejection_rates_are_measured_against_the_attainable_level():
    config = N.null_config(replications=4, bootstrap=19)
    p = [0.05, 0.1, 0.5, 1.0]
    records = [{"status": "ok", "truth": "one", "p_value": v} for v in p]
    summary = N.summarise_null(records, config)["truths"]["one"]
    five = summary["rejections"]["0.05"]
    assert five["nominal"] == 0.05 and five["count"] == 1 and five["rate"] == 0.25
    assert summary["rejections"]["0.1"]["count"] == 2
    assert np.isclose(summary["rejections"]["0.1"]["nominal"], 0.1)
    assert summary["n_replicates"] == 4 and summary["n_failed_runs"] == 0


# The K = 1 p-values of the earlier committed run (B = 19, 60 data sets): counts of 1/20..1.
EARLIER = [0, 1, 4, 7, 0, 1, 2, 2, 4, 3, 1, 5, 3, 1, 0, 6, 4, 4, 6, 5, 1][1:]


def _p_values(counts):
    return np.repeat(np.arange(1, len(counts) + 1) / len(counts), counts)


def test_the_ks_distance_is_taken_between_the_two_staircases():
    from scipy.stats import kstest

    p = _p_values(EARLIER)
    assert p.size == 60
    tests = N.uniformity_tests(p, 19, np.random.default_rng(0), draws=20_000)
    assert tests["counts"] == EARLIER
    # The largest gap: at 0.70, 34 of 60 data sets against 0.70 of them.
    assert tests["ks_statistic"] == pytest.approx(0.70 - 34 / 60)
    # scipy's continuous test compares the law at 0.75 with the empirical CDF just below it
    # (34/60 at the first of the tied 0.75s): 1/20 too large, and its p-value 0.031.
    cdf = lambda x: np.floor(np.asarray(x) * 20 + 1e-9) / 20  # noqa: E731
    scipy = kstest(p, cdf)
    assert scipy.statistic == pytest.approx(0.75 - 34 / 60) and scipy.pvalue < 0.05
    # Against the discrete law the same p-values are not evidence against uniformity.
    assert 0.14 < tests["ks_p_value"] < 0.21
    assert tests["chi2_statistic"] == pytest.approx(chisquare(EARLIER).statistic)
    assert 0.05 < tests["chi2_p_value"] < 0.10


def test_the_monte_carlo_p_values_hold_their_level_on_uniform_p_values():
    # 400 samples of 60 p-values from the discrete law itself: each test rejects at 5% about
    # 5% of them (26 and 17 here), while scipy's continuous test rejects 51, twice as many
    # (the too-large distance at ties outweighs its conservative continuous p-value).
    rng = np.random.default_rng(1)
    from scipy.stats import kstest

    cdf = lambda x: np.floor(np.asarray(x) * 20 + 1e-9) / 20  # noqa: E731
    ours = {"ks": 0, "chi2": 0}
    continuous = 0
    for _ in range(400):
        p = rng.integers(1, 21, size=60) / 20
        tests = N.uniformity_tests(p, 19, rng, draws=2000)
        for key in ours:
            ours[key] += tests[f"{key}_p_value"] <= 0.05
        continuous += kstest(p, cdf).pvalue <= 0.05
    assert 8 <= ours["ks"] <= 32 and 8 <= ours["chi2"] <= 32
    assert continuous >= 40


def test_p_values_off_the_grid_are_refused():
    with pytest.raises(ValueError, match=r"1/20, \.\.\., 1"):
        N.uniformity_tests([0.05, 0.07], 19, np.random.default_rng(0), draws=10)


def test_failed_data_sets_are_counted_with_their_truth():
    config = N.null_config(replications=3, bootstrap=19)
    records = [
        {"status": "ok", "n": 0, "truth": "one", "p_value": 0.5, "redraws": 2},
        {"status": "ok", "n": 1, "truth": "two", "p_value": 0.05, "redraws": 0},
        {"status": "failed", "n": 1, "error": "RuntimeError: the fit of the data failed"},
    ]
    truths = N.summarise_null(records, config, draws=100)["truths"]
    assert truths["one"]["n_failed_runs"] == 0 and truths["one"]["redraws"] == 2
    assert truths["two"]["n_failed_runs"] == 1 and truths["two"]["n_replicates"] == 1


def test_the_tests_of_every_truth_are_taken_together_with_holms_adjustment():
    truths = {
        "one": {"n_replicates": 60, "ks_p_value": 0.04, "chi2_p_value": 0.5,
                "null_either_rejects": 0.08},
        "two": {"n_replicates": 60, "ks_p_value": 0.01, "chi2_p_value": 0.03,
                "null_either_rejects": 0.08},
    }  # fmt: skip
    fam = N.family(truths)
    holm = {(t["truth"], t["test"]): t["holm"] for t in fam["tests"]}
    # Sorted 0.01, 0.03, 0.04, 0.5: times 4, 3, 2, 1, never falling.
    assert holm == pytest.approx(
        {("two", "ks"): 0.04, ("two", "chi2"): 0.09, ("one", "ks"): 0.09, ("one", "chi2"): 0.5}
    )
    assert fam["rejected"] == 3 and fam["rejected_holm"] == 1
    assert fam["chance_any"] == pytest.approx(1 - 0.92**2)


def test_the_pair_of_tests_false_alarm_rate_is_measured_on_the_null_samples():
    tests = N.uniformity_tests(_p_values(EARLIER), 19, np.random.default_rng(3), draws=20_000)
    # Each test alone rejects at most 5% of uniform samples; the pair between 5% and 10%.
    assert 0.05 < tests["null_either_rejects"] < 0.10
