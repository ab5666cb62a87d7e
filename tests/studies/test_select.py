import numpy as np
import pytest

from latentmix import cli
from latentmix.comparison import PARETO_K_MAX
from latentmix.studies import select as SEL


def _record(K, elpd_pointwise, bic, status="ok"):
    return {
        "status": status,
        "key": f"k{K:05d}-r0000",
        "n": K,
        "K": K,
        "em": {"status": "ok", "log_likelihood": -bic / 2, "bic": bic, "icl": bic + 1.0},
        "posterior": {
            "status": "ok",
            "elpd_loo": float(np.sum(elpd_pointwise)),
            "se": 3.0,
            "p_loo": float(K * 3),
            "n_bad_k": 0,
            "elpd_pointwise": list(elpd_pointwise),
            "warnings": [],
        },
    }


def test_selection_table_differences_and_failures(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(-2.0, 0.3, size=40)
    records = [
        _record(1, base - 0.2, 180.0),
        _record(2, base, 170.0),
        _record(3, base - 0.05 + 0.1 * rng.normal(size=40), 175.0),
        {
            "status": "failed",
            "error": "RuntimeError: sampler crashed",
            "key": "k00004-r0000",
            "n": 4,
        },
    ]
    rows = SEL.selection_table(records)
    by_k = {r["K"]: r for r in rows}
    assert by_k[2]["elpd_diff"] == 0.0 and by_k[2]["diff_se"] == 0.0
    assert by_k[1]["elpd_diff"] == pytest.approx(0.2 * 40)
    # A constant pointwise difference has no spread: its SE is zero.
    assert by_k[1]["diff_se"] == pytest.approx(0.0, abs=1e-9)
    assert by_k[3]["diff_se"] > 0
    assert by_k[4]["elpd_loo"] is None and "sampler crashed" in by_k[4]["posterior_error"]
    config = {
        "data": "toy",
        "covariance_type": "full",
        "ks": [1, 2, 3, 4],
        "draws": 100,
        "tune": 100,
        "chains": 2,
    }
    summary = SEL.summarise_select(records)
    directory = tmp_path / "page"
    html, md = SEL.render(summary, {**config, "seed": 0, "columns": None}, directory)
    text = md.read_text()
    assert "Best K: BIC 2, ICL 2, LOO 2" in text and "sampler crashed" in text
    assert f"<th>Pareto k &gt; {PARETO_K_MAX}</th>" in html.read_text()
    assert "latentmix study select toy -k 1..4 --covariance full" in text


@pytest.mark.compiles
def test_select_command_on_galaxies_runs_em_and_loo(tmp_path):
    out = tmp_path / "sel"
    argv = [
        "study",
        "select",
        "galaxies",
        "-k",
        "1..2",
        "--draws",
        "100",
        "--tune",
        "150",
        "--chains",
        "2",
        "--out",
        str(out),
        "--scheduler",
        "synchronous",
        "--quiet",
    ]
    assert cli.main(argv) == 0
    rows = SEL.selection_table(
        SEL.run_select(
            SEL.select_config("galaxies", [1, 2], draws=100, tune=150, chains=2),
            out,
            scheduler="synchronous",
            quiet=True,
        )
    )
    assert [r["K"] for r in rows] == [1, 2]
    for r in rows:
        assert np.isfinite(r["bic"]) and np.isfinite(r["elpd_loo"]) and r["se"] > 0
    # Galaxies is far from one Gaussian: every criterion prefers two components to one.
    assert rows[1]["bic"] < rows[0]["bic"] and rows[1]["elpd_loo"] > rows[0]["elpd_loo"]
    assert "data:image/png;base64," in (out / "report.html").read_text()
