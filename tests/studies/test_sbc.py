"""SBC machinery.

The calibration checks use the conjugate one-component case with exact posterior draws: a
NUTS-based SBC that can tell right from wrong needs a few hundred posterior fits, minutes of
sampling, which is beyond the test budget. The exact case checks everything but the sampler
(prior draws, simulation, ranks, the uniformity test and its verdict); one small NUTS run checks
that the sampler path produces valid ranks. The full NUTS SBC, right and wrong, is run by
`latentmix study sbc` (see reports/study-coverage/sbc*).
"""

import shutil

import numpy as np
import pytest

from latentmix import cli
from latentmix.studies import sbc as S


def test_uniformity_test_accepts_uniform_and_rejects_u_shaped_ranks():
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 50, size=300)
    p_uniform, (z, lo, hi) = S.uniformity_test(uniform, 49)
    assert p_uniform > 0.05
    assert np.all(lo <= z) and np.all(z <= hi)
    # Too-narrow posteriors put the truth at the extremes.
    u_shaped = np.where(rng.random(300) < 0.5, rng.integers(0, 8, 300), rng.integers(42, 50, 300))
    assert S.uniformity_test(u_shaped, 49)[0] < 0.001


def test_quantities_do_not_depend_on_the_component_order():
    rng = np.random.default_rng(1)
    w, m, v = rng.dirichlet([2, 2, 2], 5), rng.normal(size=(5, 3)), rng.gamma(2, size=(5, 3))
    order = [2, 0, 1]
    np.testing.assert_allclose(
        S.quantities(w, m, v), S.quantities(w[:, order], m[:, order], v[:, order])
    )
    assert S.quantities(w, m, v).shape == (5, len(S.quantity_names(3)))


def test_exact_posterior_passes_and_the_one_sided_prior_change_fails(tmp_path):
    verdicts = {}
    for wrong in (False, True):
        config = S.sbc_config(
            200, 20, 1, random_state=3, draws=99, chains=1, thin=1, wrong=wrong, sampler="exact"
        )
        records = S.run_sbc(config, tmp_path / str(wrong), scheduler="synchronous", quiet=True)
        summary = S.summarise_sbc(records, config)
        verdicts[wrong] = {r["quantity"]: r["p_value"] for r in summary["quantities"]}
        assert summary["passed"] is (not wrong)
        S.write_sbc_page(records, config, tmp_path / str(wrong))
    assert min(verdicts[False].values()) > 0.05
    # Data simulated with 4x the prior variance scale: the variance ranks pile up at the top.
    assert verdicts[True]["sorted_variances[0]"] < 0.001
    page = tmp_path / "True" / "report.md"
    assert "FAILED" in page.read_text()
    html = (tmp_path / "True" / "report.html").read_text()
    assert "<td>sorted_variances[1]</td>" in html  # 1-based on the page
    # The page is made again from summary.json and study.json alone.
    text = page.read_text()
    shutil.rmtree(tmp_path / "True" / "replicates")
    S.rewrite_pages(tmp_path / "True")
    assert page.read_text() == text


@pytest.mark.compiles
def test_nuts_sbc_smoke_run_gives_valid_ranks(tmp_path, capsys):
    out = tmp_path / "sbc"
    argv = [
        "study",
        "sbc",
        "--simulations",
        "3",
        "--n",
        "30",
        "-k",
        "2",
        "--draws",
        "40",
        "--tune",
        "60",
        "--chains",
        "1",
        "--thin",
        "1",
        "--out",
        str(out),
        "--scheduler",
        "synchronous",
        "--quiet",
    ]
    assert cli.main(argv) == 0
    records = S.run_sbc(
        S.sbc_config(3, 30, 2, draws=40, tune=60, chains=1, thin=1),
        out,
        scheduler="synchronous",
        quiet=True,
    )
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
    for r in records:
        assert r["n_draws"] == 40
        assert all(0 <= v <= 40 for v in r["ranks"].values())
    assert (out / "report.html").exists()
