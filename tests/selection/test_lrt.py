"""The bootstrap LRT's machinery: the p-value, one replicate, redraws, the sequence, resuming.

That its p-values are uniform under the null is the committed study
``reports/select-lrt-null`` (``benchmarks``-sized; see its page).
"""

import numpy as np
import pytest

from latentmix.params import MixtureParams
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


def test_one_replicate_is_reproducible_and_fits_both_models():
    a = L.bootstrap_replicate(NULL, ALT, 80, np.random.default_rng(5))
    b = L.bootstrap_replicate(NULL, ALT, 80, np.random.default_rng(5))
    assert a == b and a["redraws"] == 0
    assert a["lrts"] == pytest.approx(2 * (a["log_likelihood_alt"] - a["log_likelihood_null"]))
    # Data from one Gaussian: two components gain little, never much below nothing.
    assert -1e-6 < a["lrts"] < 30


def test_a_replicate_whose_fit_fails_is_drawn_again_then_failed(monkeypatch):
    calls = {"n": 0}
    real = L._fit_from

    def flaky(X, params, max_iter=1000, sample_weight=None):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ValueError("every EM start collapsed")
        return real(X, params, max_iter, sample_weight)

    def no_refit(X, params, rng, sample_weight=None):
        raise ValueError("every EM start collapsed")

    monkeypatch.setattr(L, "_fit_from", flaky)
    monkeypatch.setattr(L, "_refit", no_refit)
    record = L.bootstrap_replicate(NULL, ALT, 50, np.random.default_rng(0))
    assert record["redraws"] == 2 and record["refits"] == 0
    # A fitted start that collapses is fitted again from fresh starts, not redrawn; and
    # fresh starts that do better than the fitted start are kept.
    calls["n"] = 1
    monkeypatch.setattr(
        L, "_refit", lambda X, params, rng, w=None: 1e6 if params.n_components == 2 else -1e6
    )
    record = L.bootstrap_replicate(NULL, ALT, 50, np.random.default_rng(0))
    # The null from fresh starts only (its fitted start failed), the alternative from both.
    assert record["redraws"] == 0 and record["refits"] == 2 and record["log_likelihood_alt"] == 1e6

    def broken(X, params, max_iter=1000, sample_weight=None):
        raise ValueError("every EM start collapsed")

    monkeypatch.setattr(L, "_fit_from", broken)
    monkeypatch.setattr(L, "_refit", no_refit)
    with pytest.raises(RuntimeError, match="21 bootstrap draws in a row could not be fitted"):
        L.bootstrap_replicate(NULL, ALT, 50, np.random.default_rng(0))


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


def test_too_few_replicates_to_reject_are_refused(two_groups):
    with pytest.raises(ValueError, match=r"--bootstrap 9 cannot reject at --level 0\.05.*19"):
        R.select_config(str(two_groups), [1, 2], bootstrap=9)
    assert R.select_config(str(two_groups), [1, 2], bootstrap=9, level=0.1)["bootstrap"] == 9
