"""Paired predictive differences: the se of a difference from its pointwise differences.

The reference is ``arviz.compare``'s ``dse`` (ArviZ 0.23, ``compare(dict_of_ELPDData)``, the
default ``method="stacking"``): ``sqrt(n * np.var(diff))`` of the pointwise ``loo_i``.
"""

import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import arviz as az
import numpy as np
import pytest

from latentmix.comparison import compare
from latentmix.comparison.predictive import paired_differences, paired_se
from latentmix.comparison.results import PredictiveComparison, PredictiveRow
from latentmix.params import sample_mixture
from latentmix.report.context import headline

DOC = Path(__file__).parents[2] / "docs" / "estimates-json.md"


def naive_se(a, b):
    """The paired se by a plain loop: sqrt(n * mean((d_i - mean d)^2))."""
    d = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(d) / len(d)
    return (len(d) * sum((x - mean) ** 2 for x in d) / len(d)) ** 0.5


def elpd_data(log_lik):
    """``az.loo`` of a fake model whose log-likelihood is ``log_lik`` (C, S, n)."""
    idata = az.from_dict(
        posterior={"mu": np.zeros(log_lik.shape[:2])}, log_likelihood={"y": log_lik}
    )
    return az.loo(idata, pointwise=True)


def test_paired_se_is_arviz_compare_dse():
    rng = np.random.default_rng(11)
    n = 60
    # Two models that score the points much alike: a shared per-point level plus small
    # model-specific noise over 2 chains x 150 draws.
    level = rng.normal(-1.5, 1.0, n)
    ll_a = level + 0.1 * rng.standard_normal((2, 150, n))
    ll_b = level - 0.05 + 0.3 * rng.standard_normal((2, 150, n))
    loo_a, loo_b = elpd_data(ll_a), elpd_data(ll_b)
    table = az.compare({"a": loo_a, "b": loo_b})
    a_i, b_i = np.asarray(loo_a.loo_i), np.asarray(loo_b.loo_i)
    worse = table.index[1]
    se = paired_se(a_i, b_i)
    assert se == pytest.approx(table.loc[worse, "dse"], rel=1e-12)
    assert se == pytest.approx(naive_se(a_i.tolist(), b_i.tolist()), rel=1e-12)
    (pair,) = paired_differences({"a": a_i, "b": b_i}, "out_of_sample")
    assert (pair.first, pair.second) == (table.index[0], worse)
    assert pair.difference == pytest.approx(table.loc[worse, "elpd_diff"], rel=1e-12)
    assert pair.se == se and pair.n == n and pair.on == "out_of_sample"
    # The point of pairing: far below the se of either total.
    assert se < 0.2 * min(loo_a.se, loo_b.se)


def test_predictive_keeps_pointwise_terms_of_its_totals(truth, fake_idata):
    X, _ = sample_mixture(truth, 120, random_state=3)
    X_test, _ = sample_mixture(truth, 30, random_state=4)
    idata = fake_idata(truth, seed=5)
    mle = truth._replace(means=truth.means + 0.05)
    pred = compare(X, idata, truth, mle=mle, X_test=X_test).predictive
    assert pred.pointwise["out_of_sample"]["posterior"].shape == (120,)
    assert pred.pointwise["held_out"]["MAP"].shape == (30,)
    for on in ("out_of_sample", "held_out"):
        terms = pred.pointwise[on]
        assert list(terms) == ["MLE", "MAP", "posterior"]
        for name, t in terms.items():
            assert t.sum() == pytest.approx(getattr(pred.row(name), on), rel=1e-12)
        # Three pairs per column, each against a naive loop.
        pairs = [p for p in pred.paired if p.on == on]
        assert len(pairs) == 3
        for p in pairs:
            a, b = terms[p.first], terms[p.second]
            assert p.difference == pytest.approx(a.sum() - b.sum(), rel=1e-12)
            assert p.difference >= 0
            assert p.se == pytest.approx(naive_se(a.tolist(), b.tolist()), rel=1e-10)
            assert p.n == len(a)
    # The posterior's pointwise terms are ArviZ's loo_i.
    loo = az.loo(idata, pointwise=True)
    np.testing.assert_allclose(pred.pointwise["out_of_sample"]["posterior"], loo.loo_i)
    assert pred.pair("posterior", "MLE") is pred.pair("MLE", "posterior") is not None
    assert pred.pair("MLE", "MAP", on="held_out").on == "held_out"


def test_json_view_has_the_pairs_not_the_pointwise_terms(truth, fake_idata):
    X, _ = sample_mixture(truth, 80, random_state=8)
    result = compare(X, fake_idata(truth, seed=9), truth)
    record = result.to_dict()["predictive"]
    assert "pointwise" not in record
    assert [(p["first"], p["second"]) for p in record["paired"]] == [
        tuple(sorted(("MAP", "posterior"), key=lambda e: -result.predictive.row(e).out_of_sample))
    ]
    # Every key of the block is documented in docs/estimates-json.md.
    body = DOC.read_text().split("\n`predictive`:\n", 1)[1].split("\n\n`", 1)[0]
    documented = {
        k for line in body.splitlines()[2:] for k in re.findall(r"`([a-z_]+)`", line.split("|")[1])
    }
    assert set(record) == documented
    assert set(record["paired"][0]) == {"first", "second", "on", "difference", "se", "n"}


def fake_predictive(level, offsets, noise, seed=0):
    """A PredictiveComparison of three estimates scoring ``level`` plus offsets and noise."""
    rng = np.random.default_rng(seed)
    names = ("MLE", "MAP", "posterior")
    terms = {
        name: level + off + sd * rng.standard_normal(level.size)
        for name, off, sd in zip(names, offsets, noise, strict=True)
    }
    loo_se = float(np.sqrt(level.size * np.var(terms["posterior"])))
    rows = tuple(
        PredictiveRow(
            name,
            float(t.sum()),
            float(t.sum()),
            loo_se if name == "posterior" else None,
            "PSIS-LOO" if name == "posterior" else "-AIC/2",
        )
        for name, t in terms.items()
    )
    pred = PredictiveComparison(
        rows=rows, n_train=level.size, n_test=0, n_parameters=5, p_loo=3.0, pareto_k_bad=0,
        pareto_k_max=0.3, paired=paired_differences(terms, "out_of_sample"),
        pointwise={"out_of_sample": terms},
    )  # fmt: skip
    return pred, loo_se


def predictive_line(comparison, pred):
    analysis = SimpleNamespace(comparison=replace(comparison, predictive=pred), vb=None)
    return next(x for x in headline(analysis) if x.startswith("Estimated out-of-sample"))


def test_headline_judges_by_the_paired_se(truth, fake_idata):
    X, _ = sample_mixture(truth, 200, random_state=1)
    comparison = compare(X, fake_idata(truth, seed=2), truth, mle=truth)
    level = np.random.default_rng(3).normal(-2.0, 1.5, 200)
    # MLE ahead of MAP by 2 and of the posterior by 1: both far inside the PSIS-LOO se (~21)
    # but several paired se (~0.3) away.
    pred, loo_se = fake_predictive(level, (0.01, 0.0, 0.005), (0.02, 0.0, 0.02))
    gap = pred.row("MLE").out_of_sample - pred.row("MAP").out_of_sample
    pairs = [pred.pair("MLE", "MAP"), pred.pair("MLE", "posterior")]
    assert gap < loo_se and all(p.first == "MLE" and p.difference > 2 * p.se for p in pairs)
    line = predictive_line(comparison, pred)
    assert "within one standard error" not in line
    assert line.endswith(
        "; highest: MLE, ahead of "
        + " and ".join(f"{p.second} by {p.difference:.2f} (paired se {p.se:.2f})" for p in pairs)
        + "."
    )
    # Noisy pointwise differences: the same kind of gaps fall within one paired se.
    pred, _ = fake_predictive(level, (0.01, 0.0, 0.005), (1.0, 0.0, 1.0), seed=4)
    best = max(pred.rows, key=lambda r: r.out_of_sample).estimate
    pairs = [p for p in pred.paired if best in (p.first, p.second)]
    assert all(p.difference < p.se for p in pairs)
    line = predictive_line(comparison, pred)
    assert "; the differences are within one standard error of the paired differences (" in line
    # One close and one far: both said.
    pred, _ = fake_predictive(level, (0.01, 0.0, 0.0), (0.02, 0.0, 1.0), seed=5)
    line = predictive_line(comparison, pred)
    assert "; highest: MLE, ahead of MAP by " in line
    assert ", but within one standard error of posterior by " in line


def test_held_out_sentence_uses_the_held_out_pairs(truth, fake_idata):
    X, _ = sample_mixture(truth, 150, random_state=12)
    X_test, _ = sample_mixture(truth, 50, random_state=13)
    mle = truth._replace(means=truth.means + 0.1)
    comparison = compare(X, fake_idata(truth, seed=14), truth, mle=mle, X_test=X_test)
    pred = comparison.predictive
    lines = headline(SimpleNamespace(comparison=comparison, vb=None))
    line = next(x for x in lines if x.startswith("On the 50 held-out rows"))
    best = max(pred.rows, key=lambda r: r.held_out).estimate
    pairs = [pred.pair(best, r.estimate, on="held_out") for r in pred.rows if r.estimate != best]
    for p in pairs:
        assert p.n == 50 and p.first == best
        assert f"{p.second} by {p.difference:.2f} (paired se {p.se:.2f})" in line
