"""``latentmix study select``: the older road into ``latentmix select``, with the posterior."""

import json

import numpy as np
import pytest

from latentmix import cli
from latentmix.output import MANIFEST
from latentmix.studies import select as SEL


def _fake_loo(X, K, covariance_type, prior, *, draws, tune, chains, random_state, reference,
              missing="error", sample_weight=None):  # fmt: skip
    """A PSIS-LOO record from made-up pointwise values: K = 2 predicts best."""
    import arviz as az

    rng = np.random.default_rng(K)
    n = X.shape[0]
    shift = {1: -0.4, 2: 0.0}.get(K, -0.05)
    log_lik = rng.normal(-2.0 + shift, 0.05, size=(chains, draws, n))
    idata = az.from_dict(posterior={"t": log_lik.sum(-1)}, log_likelihood={"x": log_lik})
    loo = az.loo(idata, pointwise=True)
    return {
        "elpd_loo": float(loo.elpd_loo), "se": float(loo.se), "p_loo": float(loo.p_loo),
        "n_samples": int(loo.n_samples), "n_data_points": n, "warning": False,
        "scale": "log", "good_k": float(loo.good_k), "loo_i": loo.loo_i.values.tolist(),
        "pareto_k": loo.pareto_k.values.tolist(), "n_bad_k": 0, "max_k": 0.1,
        "max_r_hat": 1.001, "divergences": 0, "warnings": ["R-hat of x is high"] * (K == 3),
        "compile_seconds": 0.0, "sample_seconds": 0.0,
    }  # fmt: skip


def test_study_select_keeps_its_options_and_runs_the_select_road(tmp_path, monkeypatch):
    from latentmix.selection import loo

    monkeypatch.setattr(loo, "posterior_loo", _fake_loo)
    out = tmp_path / "sel"
    argv = ["study", "select", "faithful", "-k", "1..3", "--covariance", "full", "--draws",
            "100", "--tune", "50", "--chains", "2", "--seed", "1", "--out", str(out),
            "--scheduler", "synchronous", "--quiet"]  # fmt: skip
    assert cli.main(argv) == 0
    assert json.loads((out / MANIFEST).read_text())["command"] == "study select"
    config = json.loads((out / "study.json").read_text())
    assert config["posterior"] and config["covariance_types"] == ["full"]
    assert config["bootstrap"] == 0 and (config["draws"], config["tune"]) == (100, 50)
    loo_summary = json.loads((out / "summary.json").read_text())["loo"]
    rows = {r["K"]: r for r in loo_summary["rows"]}
    assert loo_summary["k"] == 2 and rows[2]["rank"] == 0 and rows[2]["elpd_diff"] == 0
    assert rows[1]["elpd_diff"] > 0 and rows[1]["dse"] > 0
    assert sum(r["weight_stacking"] for r in rows.values()) == pytest.approx(1.0)
    assert sum(r["weight_pseudo_bma"] for r in rows.values()) == pytest.approx(1.0)
    md = (out / "report.md").read_text()
    assert "PSIS-LOO of the posterior" in md and "R-hat of x is high" in md
    assert "latentmix study select faithful -k 1..3 --covariance full" in md
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # BIC, ICL, LOO, the model
    (out / "report.html").unlink()
    SEL.rewrite_pages(out)
    assert (out / "report.html").read_text() == html
    # The old defaults: K = 1..6, full covariances, the posterior always on.
    args = cli.build_parser().parse_args(["study", "select", "galaxies", "--out", "o"])
    assert args.components == [1, 2, 3, 4, 5, 6] and args.covariance == "full"
    assert args.posterior and args.bootstrap == 0 and args.draws == 1000


@pytest.mark.compiles
def test_study_select_on_galaxies_samples_and_compares_two_k(tmp_path):
    out = tmp_path / "sel"
    argv = ["study", "select", "galaxies", "-k", "1..2", "--draws", "100", "--tune", "150",
            "--chains", "2", "--out", str(out), "--scheduler", "synchronous",
            "--quiet"]  # fmt: skip
    assert cli.main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["K"]: r for r in summary["loo"]["rows"]}
    for r in rows.values():
        assert r["status"] == "ok" and np.isfinite(r["elpd_loo"]) and r["se"] > 0
    # Galaxies is far from one Gaussian: every criterion prefers two components to one.
    assert rows[2]["elpd_loo"] > rows[1]["elpd_loo"] and summary["loo"]["k"] == 2
    bic = {c["K"]: c["mle"]["bic"] for c in summary["cells"]}
    assert bic[2] > bic[1]
    assert rows[2]["weight_stacking"] > 0.5
    assert "data:image/png;base64," in (out / "report.html").read_text()
