"""Diagnostics match ArviZ and report problems loudly, naming entries as people count them."""

import warnings

import arviz as az
import numpy as np
import pytest

from latentmix.bayes.diagnostics import (
    SamplingWarning,
    check_run_size,
    diagnose,
    entry_diagnostics,
)


def test_divergences_and_rhat_are_reported_loudly(posterior_like):
    rng = np.random.default_rng(4)
    reference = posterior_like.reference("spherical")
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    diverging = np.zeros((posterior_like.N_CHAINS, posterior_like.N_DRAWS), dtype=bool)
    diverging[0, [3, 50]] = True
    # shift one chain so that the chains disagree
    means[1] += 1.0
    idata = posterior_like.idata(reference, weights, means, covariances, diverging=diverging)
    with pytest.warns(SamplingWarning) as record:
        result = diagnose(idata)
    message = str(record[0].message)
    assert "2 divergent transition(s)" in message
    assert "R-hat up to" in message
    assert result.n_divergent == 2
    assert not result.ok
    assert len(result.problems) >= 2
    assert result.to_dict()["problems"] == list(result.problems)
    # warn=False still fills the problems field
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = diagnose(idata, warn=False)
    assert quiet.problems == result.problems


def test_problems_name_entries_as_people_count_components(posterior_like):
    rng = np.random.default_rng(8)
    reference = posterior_like.reference("diag")
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    # Only the first component's second feature disagrees between chains.
    means[1, :, 0, 1] += 1.0
    idata = posterior_like.idata(reference, weights, means, covariances)
    result = diagnose(idata, warn=False)
    assert "R-hat up to" in result.problems[0]
    assert "(means[1, x2])" in result.problems[0]
    # The table keeps ArviZ's names, whose coordinates are the data's (0-based).
    assert result.table["r_hat"].idxmax() == "means[0, x2]"


@pytest.mark.parametrize(
    ("covariance_type", "label"),
    [("tied_diag", "(covariances[x2])"), ("tied_spherical", "(covariances)")],
)
def test_a_shared_covariance_is_named_without_a_component(posterior_like, covariance_type, label):
    rng = np.random.default_rng(8)
    reference = posterior_like.reference(covariance_type)
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    # Only the shared variance (of the second feature, for tied_diag) disagrees.
    if covariance_type == "tied_diag":
        covariances[1, :, 1] *= 1.5
    else:
        covariances[1] *= 1.5
    result = diagnose(posterior_like.idata(reference, weights, means, covariances), warn=False)
    assert "R-hat up to" in result.problems[0]
    assert label in result.problems[0]


def test_diagnostics_fields_match_arviz(posterior_like):
    rng = np.random.default_rng(5)
    reference = posterior_like.reference("tied")
    idata = posterior_like.idata(reference, *posterior_like.draws_near(reference, rng))
    result = diagnose(idata)
    rhat = az.rhat(idata, var_names=["weights", "means", "covariances"])
    ess = az.ess(idata, var_names=["weights", "means", "covariances"], method="bulk")
    assert result.max_r_hat == pytest.approx(max(float(rhat[v].max()) for v in rhat))
    assert result.min_ess_bulk == pytest.approx(min(float(ess[v].min()) for v in ess))
    # Draws that were never relabelled say so.
    assert result.n_relabelled is None and result.to_dict()["relabelling"] is None
    assert len(result.ebfmi) == posterior_like.N_CHAINS
    assert (result.n_chains, result.n_draws) == (posterior_like.N_CHAINS, posterior_like.N_DRAWS)
    assert set(result.table.columns) >= {"r_hat", "ess_bulk", "ess_tail"}


@pytest.mark.parametrize(("chains", "draws"), [(1, 1000), (4, 50)])
def test_too_few_draws_for_diagnostics(chains, draws):
    with pytest.raises(ValueError, match=r"too few to diagnose.*chains=4, draws=1000"):
        check_run_size(chains, draws)


# Covariance entries that are zero in every draw have no R-hat: ArviZ warns and gives NaN.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_entry_diagnostics_are_arviz_per_entry(posterior_like):
    rng = np.random.default_rng(9)
    reference = posterior_like.reference("full")
    idata = posterior_like.idata(reference, *posterior_like.draws_near(reference, rng))
    result = entry_diagnostics(idata)
    rhat = az.rhat(idata.posterior)
    ess_tail = az.ess(idata.posterior, method="tail")
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(
            result["r_hat"][name], rhat[name].values, rtol=1e-12, equal_nan=True
        )
        np.testing.assert_allclose(result["ess_tail"][name], ess_tail[name].values, rtol=1e-12)
    # The largest of them is the run's max_r_hat.
    largest = max(float(np.nanmax(a)) for a in result["r_hat"].values())
    assert diagnose(idata, warn=False).max_r_hat == pytest.approx(largest, rel=1e-12)
    # Too few draws: nothing to estimate, no error.
    assert entry_diagnostics(idata.sel(chain=[0], draw=slice(0, 5))) == {}
