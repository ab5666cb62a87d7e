"""``latentmix select`` and ``study select`` on CSV data with missing cells and weights."""

import json
import warnings

import numpy as np
import pytest

from latentmix import EMGaussianMixture, cli
from latentmix.datasets import load_data
from latentmix.selection import lrt as L
from latentmix.selection import run as R

#: Two groups in 2-D, 24 distinct rows; the counts of the weights column.
ROWS = np.concatenate(
    [
        np.random.default_rng(7).normal(-2.5, 0.8, (12, 2)),
        np.random.default_rng(8).normal(2.5, 0.6, (12, 2)),
    ]
)
COUNTS = np.tile([1, 2, 3], 8)


def _write(path, rows, header="a,b", cells=None):
    lines = [header]
    for i, row in enumerate(rows):
        values = [f"{v:.6f}" for v in row]
        for (r, c), text in (cells or {}).items():
            if r == i:
                values[c] = text
        lines.append(",".join(values))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    """The rows with a count column, repeated, with missing cells, and with both."""
    where = tmp_path_factory.mktemp("data")
    weighted = np.column_stack([ROWS, COUNTS])
    holes = {(1, 0): "", (4, 1): "NA", (9, 0): "nan", (15, 1): "", (20, 0): "NA"}
    counts = COUNTS.copy()
    counts[6] = 0
    return {
        "both": _write(where / "both.csv", np.column_stack([ROWS, counts]), "a,b,count", holes),
        "weighted": _write(where / "weighted.csv", weighted, "a,b,count"),
        "repeated": _write(where / "repeated.csv", np.repeat(ROWS, COUNTS, axis=0)),
        "holes": _write(where / "holes.csv", ROWS, cells=holes),
    }


def _argv(data, out, *extra, command=("select",)):
    return [*command, str(data), "-k", "1..2", "--covariance", "full,spherical",
            "--n-init", "3", "--bootstrap", "0", "--prior", "none", "--out", str(out),
            "--scheduler", "synchronous", "--quiet", *extra]  # fmt: skip


def _table(out):
    summary = json.loads((out / "summary.json").read_text())
    rows = {(c["K"], c["covariance_type"]): c["mle"] for c in summary["cells"]}
    return summary, rows


def test_integer_weights_give_the_table_of_repeated_rows(csvs, tmp_path):
    weighted, repeated = tmp_path / "w", tmp_path / "r"
    assert cli.main(_argv(csvs["weighted"], weighted, "--weights", "count")) == 0
    assert cli.main(_argv(csvs["repeated"], repeated)) == 0
    summary, by_weight = _table(weighted)
    _, by_rows = _table(repeated)
    assert by_weight.keys() == by_rows.keys() and len(by_rows) == 4
    for key, fit in by_rows.items():
        for name in ("log_likelihood", "bic", "icl", "aic", "entropy"):
            assert by_weight[key][name] == pytest.approx(fit[name], rel=1e-6, abs=1e-6), name
    assert summary["n_features"] == 2 and summary["feature_names"] == ["a", "b"]
    assert summary["data"]["weights"] == {
        "column": "count", "total": 48.0, "min": 1.0, "max": 3.0, "n_zero": 0
    }  # fmt: skip
    md = (weighted / "report.md").read_text()
    assert "Observation weights from column count (total 48" in md
    assert "the BIC's n is the total weight" in md and "--weights count" in md


def test_missing_cells_ignored_give_the_estimators_log_likelihoods(csvs, tmp_path):
    out = tmp_path / "m"
    assert cli.main(_argv(csvs["holes"], out, "--missing", "ignore")) == 0
    summary, rows = _table(out)
    X = load_data(str(csvs["holes"]), missing="ignore").data
    assert np.isnan(X).sum() == 5
    for (K, covariance_type), fit in rows.items():
        em = EMGaussianMixture(
            K, covariance_type=covariance_type, prior=None, missing="ignore", n_init=3,
            random_state=0,
        ).fit(X)  # fmt: skip
        assert fit["log_likelihood"] == pytest.approx(em.log_likelihood_, rel=1e-6)
        # Every row is one likelihood term: the BIC's n is the number of rows.
        assert fit["bic"] == pytest.approx(
            2 * fit["log_likelihood"] - fit["n_parameters"] * np.log(24)
        )
    notes = summary["data"]
    assert notes["n_missing_cells"] == 5 and notes["n_incomplete_rows"] == 5
    assert notes["missing_by_column"] == {"a": 3, "b": 2} and notes["weights"] is None
    md = (out / "report.md").read_text()
    assert "5 of 48 cells (10.4%) are missing, in 5 rows (a 3, b 2)" in md
    assert "--missing ignore" in md


def test_missing_cells_without_the_option_name_row_column_and_option(csvs, tmp_path, capsys):
    assert cli.main(_argv(csvs["holes"], tmp_path / "e")) == 2
    err = capsys.readouterr().err
    assert "row" in err and "'a'" in err and "--missing ignore" in err
    assert not (tmp_path / "e").exists()  # refused before the output is claimed


def test_study_select_takes_both_flags_and_gives_them_to_every_task(csvs, tmp_path, monkeypatch):
    from latentmix.selection import loo

    given = {}

    def fake_loo(X, K, covariance_type, prior, *, missing, sample_weight, **sampler):
        given[K] = (np.isnan(X).sum(), missing, sample_weight)
        raise FloatingPointError("no sampler in this test")

    monkeypatch.setattr(loo, "posterior_loo", fake_loo)
    out = tmp_path / "s"
    argv = ["study", "select", str(csvs["both"]), "-k", "1..2", "--missing", "ignore",
            "--weights", "count", "--n-init", "2", "--draws", "100", "--chains", "2",
            "--out", str(out), "--scheduler", "synchronous", "--quiet"]  # fmt: skip
    assert cli.main(argv) == 1  # every posterior failed (the fake's error)
    config = json.loads((out / "study.json").read_text())
    assert config["missing"] == "ignore" and config["weights"] == "count"
    assert given.keys() == {1, 2}
    for n_missing, missing, weights in given.values():
        assert n_missing == 5 and missing == "ignore" and weights.sum() == 47
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["n_missing_cells"] == 5 and summary["data"]["weights"]["n_zero"] == 1
    assert summary["vb"]["n_kept"] >= 1  # VB fitted the incomplete, weighted rows


class _Sampler:
    """A stand-in for PyMCGaussianMixture: draws jittered around the weighted EM fit (K = 1)."""

    def __init__(self, K, *, covariance_type, prior, missing):
        self.settings = {"K": K, "missing": missing}

    def fit(self, X, *, draws, chains, sample_weight, **sampler):
        import types

        import arviz as az

        em = EMGaussianMixture(1, prior=None, missing="ignore").fit(X, sample_weight=sample_weight)
        rng = np.random.default_rng(1)
        means = em.means_ + rng.normal(0, 0.05, (chains, draws, 1, 2))
        covariances = np.broadcast_to(em.covariances_, (chains, draws, 1, 2, 2))
        self.idata_ = az.from_dict(
            posterior={"weights": np.ones((chains, draws, 1)), "means": means,
                       "covariances": covariances.copy()}
        )  # fmt: skip
        self.diagnostics_ = types.SimpleNamespace(max_r_hat=1.0, n_divergent=0)
        _Sampler.last = {**self.settings, "sample_weight": sample_weight, "idata": self.idata_}
        return self


def test_psis_loo_takes_each_row_with_its_weight_and_leaves_out_weight_zero(csvs, monkeypatch):
    import arviz as az
    from scipy.stats import multivariate_normal

    from latentmix.bayes import estimator
    from latentmix.selection.loo import posterior_loo

    monkeypatch.setattr(estimator, "PyMCGaussianMixture", _Sampler)
    data = load_data(str(csvs["both"]), missing="ignore", weights="count")
    X, w = data.data, data.sample_weight
    record = posterior_loo(X, 1, "full", "default", draws=100, tune=100, chains=2,
                           random_state=0, missing="ignore", sample_weight=w)  # fmt: skip
    assert _Sampler.last["missing"] == "ignore" and _Sampler.last["sample_weight"] is w
    # Independently: w_i log N(observed cells of row i) for every draw, rows of weight > 0.
    post = _Sampler.last["idata"].posterior
    means, covs = post["means"].values, post["covariances"].values
    rows = np.flatnonzero(w > 0)
    log_lik = np.empty((2, 100, rows.size))
    for j, i in enumerate(rows):
        o = ~np.isnan(X[i])
        for c in range(2):
            for t in range(100):
                log_lik[c, t, j] = w[i] * multivariate_normal.logpdf(
                    X[i, o], means[c, t, 0, o], covs[c, t, 0][np.ix_(o, o)]
                )
    want = az.from_dict(posterior={"t": log_lik.sum(-1)}, log_likelihood={"x": log_lik})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the jittered draws are not a posterior: high k
        want = az.loo(want, pointwise=True)
    assert record["n_data_points"] == len(record["loo_i"]) == 23  # the weight-0 row is out
    assert record["loo_i"] == pytest.approx(want.loo_i.values, rel=1e-8)
    assert record["elpd_loo"] == pytest.approx(float(want.elpd_loo), rel=1e-8)


def test_resuming_under_other_flags_is_refused(csvs, tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(_argv(csvs["both"], out, "--missing", "ignore")) == 0
    capsys.readouterr()
    assert cli.main(_argv(csvs["both"], out, "--missing", "ignore", "--weights", "count")) == 2
    err = capsys.readouterr().err
    assert "settings differ: weights" in err
    assert cli.main(_argv(csvs["both"], out, "--missing", "ignore")) == 0  # the same: resumed


def test_a_weighted_lrt_replicate_keeps_the_cells_and_the_weights():
    X = ROWS.copy()
    holes = np.zeros_like(X, dtype=bool)
    holes[[1, 4, 9], [0, 1, 0]] = True
    fits = [
        EMGaussianMixture(K, prior=None, n_init=2, random_state=0).fit(X, sample_weight=COUNTS)
        for K in (1, 2)
    ]
    null, alt = (f.params_ for f in fits)
    simulated = L.simulate_like(null, 24, np.random.default_rng(3), holes)
    assert np.array_equal(np.isnan(simulated), holes)
    rng = [np.random.default_rng(11) for _ in range(2)]
    a = L.bootstrap_replicate(null, alt, 24, rng[0], n_init=2, holes=holes, sample_weight=COUNTS)
    # The replicate's null fit is the weighted, observed-cell fit of the same draw.
    Xb = L.simulate_like(null, 24, rng[1], holes)
    em = EMGaussianMixture(1, prior=None, missing="ignore").fit(Xb, sample_weight=COUNTS)
    assert a["log_likelihood_null"] == pytest.approx(em.log_likelihood_, rel=1e-8)
    assert a["lrts"] >= 0 and np.isfinite(a["lrts"])


def test_select_config_stores_the_flags_and_old_settings_read_as_complete(csvs):
    config = R.select_config(str(csvs["weighted"]), [1, 2], bootstrap=0, weights="count")
    assert config["missing"] == "error" and config["weights"] == "count"
    X = R.load_config_data(config)
    assert X.shape == (24, 2)
    old = {k: v for k, v in config.items() if k not in ("missing", "weights")}
    old["data"] = str(csvs["repeated"])
    assert R.load_config_dataset(old).sample_weight is None
