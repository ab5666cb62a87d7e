"""The bootstrap LRT's machinery: the p-value, one replicate, redraws, the sequence, resuming.

That its p-values are uniform under the null is the committed study
``reports/select-lrt-null`` (``benchmarks``-sized; see its page).
"""

import inspect
import json

import numpy as np
import pytest

from latentmix.params import MixtureParams
from latentmix.selection import grid as G
from latentmix.selection import lrt as L
from latentmix.selection import run as R

NULL = MixtureParams(np.array([1.0]), np.array([[0.0]]), np.array([[[1.0]]]), "full")
ALT = MixtureParams(
    np.array([0.5, 0.5]), np.array([[-0.5], [0.5]]), np.array([[[0.8]], [[0.8]]]), "full"
)


def test_p_value_is_mclusts_count():
    boot = np.array([0.5, 1.0, 2.0, 3.0, 7.0])
    # (1 + #(boot >= observed)) / (B + 1), ties counted as at least as extreme.
    assert L.p_value(2.0, boot) == (1 + 3) / 6
    assert L.p_value(100.0, boot) == 1 / 6
    assert L.p_value(-1.0, boot) == 1.0
    assert L.lrts(-10.0, -7.5) == 5.0


def test_one_replicate_is_reproducible_and_fitted_as_the_data_were():
    a = L.bootstrap_replicate(NULL, ALT, 80, np.random.default_rng(5), n_init=2)
    b = L.bootstrap_replicate(NULL, ALT, 80, np.random.default_rng(5), n_init=2)
    assert a == b and a["redraws"] == 0
    assert a["lrts"] == pytest.approx(2 * (a["log_likelihood_alt"] - a["log_likelihood_null"]))
    # Data from one Gaussian: two components gain little, never much below nothing.
    assert -1e-6 < a["lrts"] < 30
    # Both fits are the grid's fits of the drawn rows, with the data's restarts and a seed
    # from the replicate's stream (the same function, starts and tolerance as the data's).
    rng = np.random.default_rng(5)
    X = L.simulate_like(NULL, 80, rng)
    seeds = [int(s) for s in rng.integers(0, 2**32, size=2)]
    for K, seed, key in zip(
        (1, 2), seeds, ("log_likelihood_null", "log_likelihood_alt"), strict=True
    ):
        fit = G.fit_estimate(X, K, "full", None, seed, 2)
        assert fit["status"] == "ok" and a[key] == fit["log_likelihood"]


def test_the_replicates_restarts_are_the_datas():
    # More restarts may find a higher maximum: the replicate's n_init is the one it is given
    # (the data's), select's N_INIT by default.
    calls = []

    def spy(X, K, covariance_type, prior, random_state, n_init, **kw):
        calls.append((K, n_init, prior))
        return {"status": "ok", "log_likelihood": float(-K)}

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(G, "fit_estimate", spy)
        L.bootstrap_replicate(NULL, ALT, 30, np.random.default_rng(0), n_init=7)
        L.bootstrap_replicate(NULL, ALT, 30, np.random.default_rng(0))
    assert calls == [(1, 7, None), (2, 7, None), (1, G.N_INIT, None), (2, G.N_INIT, None)]
    with pytest.raises(ValueError, match="K \\+ 1 = 2 components"):
        L.bootstrap_replicate(NULL, NULL, 30, np.random.default_rng(0))


def test_the_statistic_and_its_search_ignore_a_shift_and_scaling():
    # What makes the bootstrap exact for one Gaussian against two: the replicates are drawn
    # from the fitted N(mean, variance) instead of the truth's, and the statistic of the
    # same search (same seeds) is the same on a + b X as on X, failures included.
    rng = np.random.default_rng(0)
    both_failed = 0
    for seed in range(6):
        X = rng.normal(size=(100, 1))
        stats = []
        for Y in (X, 3.0 + 5.0 * X):
            try:
                stats.append(L.lrts(*(L.fit_replicate(Y, K, "full", seed, 3) for K in (1, 2))))
            except ValueError as err:
                stats.append(str(err).split(":")[0])
        if stats[0] == "DegenerateMixtureError":
            both_failed += 1
            assert stats[1] == stats[0]
        else:
            assert stats[1] == pytest.approx(stats[0], abs=1e-5)
    assert both_failed < 6


def test_a_replicate_whose_fit_fails_is_drawn_again_then_failed(monkeypatch):
    real = G.fit_estimate
    calls = {"n": 0}

    def flaky(X, K, *args, **kwargs):
        # The K + 1 fit of the first two draws fails (every start collapsed).
        if K == 2:
            calls["n"] += 1
            if calls["n"] <= 2:
                return {"status": "failed", "error": "DegenerateMixtureError: collapsed"}
        return real(X, K, *args, **kwargs)

    monkeypatch.setattr(G, "fit_estimate", flaky)
    record = L.bootstrap_replicate(NULL, ALT, 50, np.random.default_rng(0), n_init=1)
    assert record["redraws"] == 2
    # The statistic is that of the third draw, fitted as any draw: the failed fits leave no
    # trace in it (not a zero, not the null's likelihood).
    rng = np.random.default_rng(0)
    for _ in range(2):
        L.simulate_like(NULL, 50, rng)
        rng.integers(0, 2**32, size=2)
    X = L.simulate_like(NULL, 50, rng)
    seeds = [int(s) for s in rng.integers(0, 2**32, size=2)]
    expected = [
        real(X, K, "full", None, s, 1)["log_likelihood"]
        for K, s in zip((1, 2), seeds, strict=True)
    ]
    assert record["lrts"] == L.lrts(*expected)

    monkeypatch.setattr(
        G, "fit_estimate", lambda *a, **k: {"status": "failed", "error": "Degenerate: collapsed"}
    )
    with pytest.raises(RuntimeError, match="21 bootstrap draws in a row could not be fitted"):
        L.bootstrap_replicate(NULL, ALT, 50, np.random.default_rng(0), n_init=1)


def test_the_result_of_a_test_counts_failed_replicates_apart():
    records = [{"status": "ok", "lrts": v} for v in (1.0, 2.0, 9.0)] + [
        {"status": "failed", "error": "x"}
    ]
    result = L.lrt_result(5.0, records, 0.05)
    assert result["p_value"] == 2 / 4 and result["n_boot"] == 3 and result["n_failed"] == 1
    assert not result["significant"] and result["boot_lrts"] == [1.0, 2.0, 9.0]
    assert L.lrt_result(5.0, [{"status": "failed"}])["p_value"] is None


@pytest.fixture(scope="module")
def two_groups(tmp_path_factory):
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(-3, 1, 60), rng.normal(3, 1, 60)])
    path = tmp_path_factory.mktemp("data") / "two.csv"
    path.write_text("x\n" + "\n".join(f"{v:.6f}" for v in x) + "\n")
    return path


def test_the_sequence_rejects_one_component_then_stops_and_resumes(two_groups, tmp_path):
    config = R.select_config(
        str(two_groups), [1, 2, 3], covariance="full", prior="none", bootstrap=19, n_init=2
    )
    out = tmp_path / "lrt"
    result = R.run_select(config, out, scheduler="synchronous", quiet=True)
    assert result["structure"] == ("full", "mle")
    assert sorted(result["lrt"]) == [1, 2]  # 1 vs 2 rejected, so 2 vs 3 was tested
    from latentmix.selection.summary import summarise

    lrt = summarise(config, result)["lrt"]
    first, second = lrt["tests"]
    assert first["p_value"] == 1 / 20 and first["significant"]
    assert not second["significant"] and lrt["k"] == 2
    stored = {p.name: p.stat().st_ino for p in (out / "replicates").iterdir()}
    assert len(stored) == 3 + 2 * 19 + 1  # the grid, two tests, VB
    again = R.run_select(config, out, scheduler="synchronous", quiet=True)
    assert {p.name: p.stat().st_ino for p in (out / "replicates").iterdir()} == stored
    assert again["lrt"][2] == result["lrt"][2]
    # A directory of an earlier method (the LRT's replicates fitted otherwise, and no
    # "method" in study.json) is not resumed.
    study = out / "study.json"
    earlier = json.loads(study.read_text())
    del earlier["method"]
    study.write_text(json.dumps(earlier))
    with pytest.raises(ValueError, match=r"earlier version of this study.*method 1, now 2"):
        R.run_select(config, out, scheduler="synchronous", quiet=True)


def test_too_few_replicates_to_reject_are_refused(two_groups):
    with pytest.raises(ValueError, match=r"--bootstrap 9 cannot reject at --level 0\.05.*19"):
        R.select_config(str(two_groups), [1, 2], bootstrap=9)
    assert R.select_config(str(two_groups), [1, 2], bootstrap=9, level=0.1)["bootstrap"] == 9


def test_select_and_its_command_line_default_to_the_one_restart_count():
    from latentmix.cli import build_parser

    args = build_parser().parse_args(["select", "iris", "--out", "x"])
    assert args.n_init == G.N_INIT == 10
    assert inspect.signature(R.select_config).parameters["n_init"].default == G.N_INIT
