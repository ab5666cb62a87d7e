"""estimates.json is an API: its schema version, every documented field, and --prior FILE."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from latentmix.priors import ConjugatePrior
from latentmix.report import SCHEMA_VERSION
from latentmix.report.analysis import TIMING_KEYS
from latentmix.report.context import warnings_list

DOC = Path(__file__).parents[2] / "docs" / "estimates-json.md"


def documented_keys(section: str) -> set[str]:
    """The keys in the first table under ``## {section}`` of docs/estimates-json.md."""
    text = DOC.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    table = body.split("\n\n|", 1)[1] if not body.lstrip().startswith("|") else body
    keys = set()
    for line in table.splitlines():
        if not line.startswith("|"):
            if keys:
                break
            continue
        keys.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return keys


@pytest.fixture(scope="module")
def record(shared_report):
    return json.loads((shared_report / "estimates.json").read_text())


def test_schema_version_and_every_documented_top_level_key(record):
    assert record["schema_version"] == SCHEMA_VERSION == 2
    assert isinstance(record["schema_version"], int)
    assert set(record) == documented_keys("Top level")


@pytest.mark.parametrize("block", ["data", "settings", "prior", "em", "diagnostics"])
def test_every_key_of_a_block_is_documented(record, block):
    assert set(record[block]) == documented_keys(f"`{block}`")


def test_timings_are_seconds_under_fixed_keys(record):
    timings = record["timings_seconds"]
    assert set(timings) <= set(TIMING_KEYS) == documented_keys("`timings_seconds`")
    assert {"figures", "write"} <= set(timings)
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())


def test_one_diagnostics_block_and_glossary_names(record, shared_analysis):
    assert "sampling" not in record
    diag = record["diagnostics"]
    assert diag["n_chains"] == record["settings"]["chains"] == 2
    assert diag["thresholds"] == {
        "max_r_hat": 1.01, "min_ess": 200, "min_ebfmi": 0.3, "max_pareto_k": 0.7,
    }  # fmt: skip
    s = record["settings"]
    assert s["covariance_type"] == "diag" and s["level"] == 0.95 and s["seed"] == 0
    assert s["sampler"] == "nutpie" and s["prior"] == "default"
    assert record["comparison"]["level"] == 0.95
    # The warning box, in its order: the sampler's problems first.
    assert record["warnings"] == warnings_list(shared_analysis)
    assert record["warnings"][: len(diag["problems"])] == diag["problems"]
    text = json.dumps(record)
    for old in ('"kind"', '"method"', "rhat", '"interval"', "relabel_method", "n_permuted"):
        assert old not in text, old


def test_components_and_rows_are_counted_from_zero(record, shared_analysis):
    means = record["comparison"]["tables"]["means"]
    assert [e["index"] for e in means[:4]] == [[0, 0], [0, 1], [0, 2], [1, 0]]
    assert means[0]["label"].startswith("means[1, ")  # text for people: from 1
    X = shared_analysis.X
    for rec in record["comparison"]["membership"]["top"]:
        assert list(rec["x"].values()) == pytest.approx(X[rec["row"]].tolist())


def test_numbers_match_the_draws(record, shared_report):
    import arviz as az

    draws = az.from_netcdf(shared_report / "posterior.nc").posterior["means"].values
    entry = record["comparison"]["tables"]["means"][4]
    k, j = entry["index"]
    assert entry["mean"] == pytest.approx(draws[:, :, k, j].mean(), rel=1e-12)
    tail = (1 - record["settings"]["level"]) / 2
    assert entry["lower"] == pytest.approx(np.quantile(draws[:, :, k, j], tail), rel=1e-12)


def test_prior_reads_back_from_a_report(shared_report, shared_analysis):
    from latentmix.commands import parse_prior

    path = shared_report / "estimates.json"
    # As ConjugatePrior.read, and as --prior FILE on the command line.
    for prior in (ConjugatePrior.read(path), parse_prior(str(path))):
        for name in ConjugatePrior.HYPERPARAMETERS:
            np.testing.assert_allclose(
                getattr(prior, name), getattr(shared_analysis.prior, name), rtol=1e-15
            )
