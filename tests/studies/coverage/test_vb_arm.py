"""The coverage study's variational Bayes arm and the weighted-likelihood bootstrap."""

import json

import numpy as np
import pytest

from latentmix.params import sample_mixture
from latentmix.studies import coverage as C
from latentmix.studies.coverage.replicate import _fit_vb
from latentmix.studies.runner import config_hash, replicate_path, replicates


def _config(**extra):
    name, truth = C.load_truth("well_separated")
    return C.study_config(
        truth, name, [40], 2, random_state=5, n_boot=4, bootstrap=[], draws=0, **extra
    )


def test_the_arm_is_on_by_default_and_stored_only_when_on():
    assert _config()["vb"] is True
    off = _config(vb=False)
    assert "vb" not in off  # the settings of a study made before the arm existed
    assert config_hash(off) != config_hash(_config())


def test_records_made_without_the_arm_are_redone_when_it_is_asked_for(tmp_path, capsys):
    out = tmp_path / "cov"
    without = C.run_coverage(_config(vb=False), out, scheduler="synchronous", quiet=True)
    assert all("vb" not in r["sources"] for r in without)
    (out / "study.json").unlink()  # the user asks for the arm on the same replicates
    capsys.readouterr()
    with_vb = C.run_coverage(_config(), out, scheduler="synchronous")
    assert "made under other settings" in capsys.readouterr().err
    assert all(r["sources"]["vb"]["status"] == "ok" for r in with_vb)
    # The sources that existed before keep their numbers: VB's seeds are drawn after theirs.
    for a, b in zip(without, with_vb, strict=True):
        assert a["sources"]["wald"]["parameters"] == b["sources"]["wald"]["parameters"]
        assert a["sources"]["laplace"]["parameters"] == b["sources"]["laplace"]["parameters"]
    stored = json.loads(replicate_path(out, replicates([40], 2)[0]).read_text())
    assert stored["config"] == config_hash(_config())
    summary = C.summarise(with_vb, _config())
    assert {o["source"] for o in summary["overall"]} == {"wald", "laplace", "vb"}
    assert summary["source_labels"]["vb"] == "variational Bayes (mean field)"
    _, md = C.write_coverage_page(with_vb, _config(), out)
    text = md.read_text()
    assert "| variational Bayes (mean field) | 40 | 2 | 0 |" in text
    assert "mean-field VB under the same prior" in text and "--no-vb" not in text


def test_a_study_without_the_arm_says_so_and_its_command_has_no_vb():
    from latentmix.studies.coverage.page import command_line

    assert command_line(_config(vb=False)).endswith("--no-vb")
    assert "--no-vb" not in command_line(_config())


def test_vb_estimates_are_put_in_the_truths_order_and_cover_it():
    _, truth = C.load_truth("well_separated")
    X, _ = sample_mixture(truth.permute([1, 0]), 400, 0)
    fitted = _fit_vb(X, truth, C.population_prior(truth), 0)
    res = fitted.intervals(level=0.95, reference=truth, random_state=1)
    assert res.source == "vb"
    means = res.estimate[[res.names.index(f"means[{k},{j}]") for k in range(2) for j in range(2)]]
    np.testing.assert_allclose(means, truth.means.ravel(), atol=0.3)
    assert np.all(res.lower < res.estimate) and np.all(res.estimate < res.upper)


def test_the_weighted_bootstrap_is_a_source_and_unknown_schemes_name_the_choices():
    name, truth = C.load_truth("well_separated")
    config = C.study_config(
        truth, name, [40], 1, random_state=5, n_boot=4, bootstrap=["weighted"], draws=0, vb=False
    )
    record = C.coverage_replicate(config, 40, 0)
    assert record["sources"]["bootstrap_weighted"]["status"] == "ok"
    assert "bootstrap_nonparametric" not in record["sources"]
    with pytest.raises(ValueError, match="'nonparametric', 'parametric' or 'weighted'"):
        C.study_config(truth, name, [40], 1, bootstrap=["wlbs"])


def test_the_command_skips_the_arm_with_no_vb_and_the_page_says_how_to_again(tmp_path):
    from latentmix import cli

    out = tmp_path / "cov"
    argv = ["study", "coverage", "--truth", "well_separated", "--n", "40", "--replications"]
    argv += ["1", "--bootstrap", "none", "--draws", "0", "--seed", "5", "--no-vb"]
    assert cli.main([*argv, "--out", str(out), "--scheduler", "synchronous", "--quiet"]) == 0
    config = json.loads((out / "study.json").read_text())
    assert "vb" not in config
    record = json.loads(next((out / "replicates").glob("*.json")).read_text())
    assert set(record["sources"]) == {"wald", "laplace"}
    text = (out / "report.md").read_text()
    assert "not run (--no-vb" in text and "--no-vb" in text.split("```")[-2]
