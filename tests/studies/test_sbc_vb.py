"""SBC on mean-field variational Bayes, and the overlap setting of the SBC prior.

With one component, VB's q(mu, sigma^2) is the conjugate posterior itself (q(z) is trivial and
q keeps the normal-inverse-gamma coupling), so VB must pass SBC there: the control. With two
overlapping components mean field is too narrow and SBC must fail with a U shape.
"""

import numpy as np
import pytest
from scipy import stats

from latentmix.params import sample_mixture
from latentmix.studies import sbc as S


def test_with_one_component_vb_draws_are_the_exact_posterior():
    prior = S.sbc_prior(1)
    rng = np.random.default_rng(0)
    truth = S.draw_prior(prior, 1, rng)
    X, _ = sample_mixture(truth, 40, rng)
    w, m, v, info = S.vb_draws(X, 1, prior, 4000, 3)
    m_exact, v_exact = S.exact_posterior_draws(X, prior, 4000, np.random.default_rng(4))
    assert w.shape == m.shape == v.shape == (4000, 1)
    np.testing.assert_allclose(w, 1.0)
    assert info["converged"]
    # Two samples of one distribution (Kolmogorov-Smirnov, 4000 draws each).
    assert stats.ks_2samp(m[:, 0], m_exact[:, 0]).pvalue > 0.01
    assert stats.ks_2samp(v[:, 0], v_exact[:, 0]).pvalue > 0.01


def test_vb_passes_sbc_with_one_component(tmp_path):
    config = S.sbc_config(150, 20, 1, random_state=3, draws=99, thin=1, sampler="vb")
    records = S.run_sbc(config, tmp_path / "vb", scheduler="synchronous", quiet=True)
    summary = S.summarise_sbc(records, config)
    assert summary["L"] == 99 and summary["n_ok"] == 150
    assert summary["passed"], [(r["quantity"], r["p_value"]) for r in summary["quantities"]]


def test_vb_fails_sbc_with_overlapping_components_as_a_u_shape(tmp_path):
    config = S.sbc_config(
        60, 40, 2, random_state=1, draws=99, thin=1, sampler="vb", overlap="overlapping"
    )
    records = S.run_sbc(config, tmp_path / "vb", scheduler="synchronous", quiet=True)
    summary = S.summarise_sbc(records, config)
    assert summary["n_failed"] == 0 and not summary["passed"]
    rows = {r["quantity"]: r for r in summary["quantities"]}
    for name in ("sorted_means[0]", "sorted_weights[0]"):
        ranks = np.asarray(rows[name]["ranks"])
        # Under uniform ranks 10% fall in the outer 5% each side; q too narrow puts far more.
        outer = np.mean((ranks < 5) | (ranks > 94))
        assert rows[name]["p_value"] < 0.001 and outer > 0.3, (name, outer)
    _, md = S.write_sbc_page(records, config, tmp_path / "vb")
    text = md.read_text()
    assert "FAILED" in text and "mean-field variational Bayes" in text
    assert "VB fits that reached max" in text  # (max_iter, escaped in Markdown)
    assert "N(0, variance / 2) (overlapping)" in text
    assert "--sampler vb --overlap overlapping" in text


def test_the_overlap_setting_moves_the_means_together_and_is_stored_only_when_set():
    rng = np.random.default_rng(0)
    gaps = {}
    for overlap in ("separated", "overlapping"):
        prior = S.sbc_prior(2, overlap)
        draws = [S.draw_prior(prior, 2, rng) for _ in range(400)]
        gaps[overlap] = np.median(
            [abs(np.diff(p.means[:, 0]))[0] / np.sqrt(p.covariances.mean()) for p in draws]
        )
    # |mu_1 - mu_2| / sigma ~ |N(0, 2 / kappa)|: median 0.674 * sqrt(2 / kappa).
    assert gaps["separated"] == pytest.approx(0.674 * np.sqrt(20), rel=0.2)
    assert gaps["overlapping"] == pytest.approx(0.674, rel=0.2)
    assert "overlap" not in S.sbc_config(10, 20, 2)  # earlier studies' settings, unchanged
    assert S.sbc_config(10, 20, 2, overlap="overlapping")["overlap"] == "overlapping"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": "advi"}, "sampler must be one of 'nuts', 'exact', 'vb'"),
        ({"overlap": "apart"}, "--overlap must be one of separated, overlapping"),
        ({"sampler": "vb", "draws": 8, "thin": 1}, "at least 9 thinned draws"),
    ],
)
def test_bad_settings_name_the_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        S.sbc_config(10, 20, 2, **kwargs)


def test_vb_draws_count_is_draws_over_thin_whatever_the_chains():
    config = S.sbc_config(10, 20, 2, draws=200, chains=4, thin=2, sampler="vb")
    assert S.n_ranked_draws(config) == 100
    assert S.n_ranked_draws(S.sbc_config(10, 20, 2, draws=200, chains=4, thin=2)) == 400


def test_the_comparison_page_puts_studies_side_by_side(tmp_path):
    dirs = []
    for overlap in ("separated", "overlapping"):
        config = S.sbc_config(
            20, 30, 2, random_state=2, draws=19, thin=1, sampler="vb", overlap=overlap
        )
        out = tmp_path / f"vb-{overlap}"
        S.write_sbc_page(S.run_sbc(config, out, scheduler="synchronous", quiet=True), config, out)
        dirs.append(out)
    html, md = S.write_comparison_page(dirs, tmp_path)
    rows = S.compare_studies(dirs)
    assert [r["overlap"] for r in rows] == ["separated", "overlapping"]
    for r in rows:
        ranks = r["ranks"]["sorted_means[0]"]
        assert r["outside90"]["sorted_means[0]"] == S.outside_central(ranks, 19)
        assert len(ranks) == r["n_simulations"] == 20 and r["L"] == 19
    text = md.read_text()
    assert "| overlapping | 30 | VB (mean field) | 20 | 19 |" in text
    assert "--sampler vb --overlap overlapping" in text and "--out vb-overlapping" in text
    assert (tmp_path / "figures" / "sbc_compared.png").exists()
    assert "data:image/png;base64," in html.read_text()


def test_outside_central_is_one_minus_the_mass_for_uniform_ranks():
    L = 99
    ranks = np.arange(L + 1)  # every rank once: exactly uniform
    assert S.outside_central(ranks, L) == pytest.approx(0.10)
    assert S.outside_central(np.zeros(10, int), L) == 1.0


def test_the_command_runs_vb_and_its_page_gives_the_command_back(tmp_path):
    from latentmix import cli

    out = tmp_path / "sbc"
    argv = ["study", "sbc", "--simulations", "4", "--n", "30", "-k", "2", "--draws", "20"]
    argv += ["--thin", "1", "--sampler", "vb", "--overlap", "overlapping", "--seed", "3"]
    assert cli.main([*argv, "--out", str(out), "--scheduler", "synchronous", "--quiet"]) == 0
    config = S.sbc_config(
        4, 30, 2, random_state=3, draws=20, thin=1, sampler="vb", overlap="overlapping"
    )
    records = S.run_sbc(config, out, scheduler="synchronous", quiet=True)  # all stored: resumed
    assert len(records) == 4 and all(r["n_draws"] == 20 for r in records)
    text = (out / "report.md").read_text()
    assert S.command_line(config) in text
    # The page's command, parsed, makes the same study.
    shown = S.command_line(config).split()[1:]
    args = cli.build_parser().parse_args([*shown[:-1], str(out)])
    assert (args.sampler, args.overlap, args.draws, args.thin) == ("vb", "overlapping", 20, 1)
