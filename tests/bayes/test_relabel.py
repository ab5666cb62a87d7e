"""Relabelling undoes label switching exactly, and diagnostics report problems loudly."""

import warnings

import arviz as az
import numpy as np
import pytest

from latentmix import MixtureParams, relabel
from latentmix.bayes.diagnostics import SamplingWarning, check_run_size, diagnose
from latentmix.bayes.relabel import RELABELLINGS
from latentmix.bayes.spec import covariance_dims
from latentmix.datasets import synthetic_3d
from latentmix.params import COVARIANCE_TYPES, sample_mixture

N_CHAINS, N_DRAWS = 2, 400


def _reference(covariance_type) -> MixtureParams:
    truth = synthetic_3d().truth
    covariances = {
        "full": truth.covariances,
        "tied": truth.covariances.mean(axis=0),
        "diag": np.diagonal(truth.covariances, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(truth.covariances, axis1=1, axis2=2).mean(axis=1),
    }[covariance_type]
    return MixtureParams(truth.weights, truth.means, covariances, covariance_type)


def _draws_near(reference: MixtureParams, rng, shift=0.0):
    """Posterior-like draws around ``reference``, in its component order."""
    K, d = reference.n_components, reference.n_features
    shape = (N_CHAINS, N_DRAWS)
    weights = reference.weights * np.exp(0.05 * rng.normal(size=(*shape, K)))
    weights /= weights.sum(-1, keepdims=True)
    means = reference.means + shift + 0.1 * rng.normal(size=(*shape, K, d))
    cov = reference.covariances
    if reference.covariance_type in ("full", "tied"):
        # scale by a random factor near one: stays positive definite
        factor = np.exp(0.05 * rng.normal(size=(*shape, *cov.shape[:-2])))
        covariances = cov * factor[..., None, None]
    else:
        covariances = cov * np.exp(0.05 * rng.normal(size=(*shape, *cov.shape)))
    return weights, means, covariances


def _idata(reference, weights, means, covariances, X=None, diverging=None):
    covariance_type = reference.covariance_type
    d = reference.n_features
    features = [f"x{j + 1}" for j in range(d)]
    coords = {"component": np.arange(reference.n_components), "feature": features}
    coords["feature_bis"] = features
    dims = {
        "weights": ["component"],
        "means": ["component", "feature"],
        "covariances": list(covariance_dims(covariance_type)),
    }
    sample_stats = {
        "diverging": np.zeros((N_CHAINS, N_DRAWS), dtype=bool) if diverging is None else diverging,
        "energy": np.random.default_rng(0).normal(size=(N_CHAINS, N_DRAWS)).cumsum(axis=1) * 0.1
        + np.random.default_rng(1).normal(size=(N_CHAINS, N_DRAWS)),
    }
    observed = None if X is None else {"x": X}
    return az.from_dict(
        posterior={"weights": weights, "means": means, "covariances": covariances},
        sample_stats=sample_stats,
        observed_data=observed,
        coords={**coords, "observation": np.arange(0 if X is None else X.shape[0])},
        dims={**dims, "x": ["observation", "feature"]},
    )


def _permute(weights, means, covariances, covariance_type, rng):
    """Apply an independent random permutation to every draw; return them too."""
    K = weights.shape[-1]
    orders = np.array([rng.permutation(K) for _ in range(N_CHAINS * N_DRAWS)])
    orders = orders.reshape(N_CHAINS, N_DRAWS, K)
    w = np.take_along_axis(weights, orders, axis=2)
    m = np.take_along_axis(means, orders[..., None], axis=2)
    if covariance_type == "tied":
        c = covariances
    else:
        idx = orders.reshape(orders.shape + (1,) * (covariances.ndim - 3))
        c = np.take_along_axis(covariances, idx, axis=2)
    return w, m, c, orders


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("relabelling", RELABELLINGS)
def test_permuted_draws_come_back_in_reference_order_exactly(covariance_type, relabelling):
    rng = np.random.default_rng(7)
    reference = _reference(covariance_type)
    weights, means, covariances = _draws_near(reference, rng)
    X, _ = sample_mixture(reference, 200, random_state=3)
    w, m, c, orders = _permute(weights, means, covariances, covariance_type, rng)
    out = relabel(_idata(reference, w, m, c, X=X), reference, relabelling=relabelling)
    np.testing.assert_array_equal(out.posterior["weights"].values, weights)
    np.testing.assert_array_equal(out.posterior["means"].values, means)
    np.testing.assert_array_equal(out.posterior["covariances"].values, covariances)
    # the record: position k now holds the permuted draw's component argsort(orders)[k],
    # and how many draws moved
    np.testing.assert_array_equal(
        out.sample_stats["component_order"].values, np.argsort(orders, axis=-1)
    )
    identity = (orders == np.arange(3)).all(axis=-1)
    assert out.posterior.attrs["n_relabelled"] == int((~identity).sum())
    assert out.posterior.attrs["relabelling"] == relabelling


def test_relabel_returns_a_copy_and_leaves_ordered_draws_alone():
    rng = np.random.default_rng(1)
    reference = _reference("full")
    weights, means, covariances = _draws_near(reference, rng)
    idata = _idata(reference, weights, means, covariances)
    out = relabel(idata, reference)
    assert out.posterior.attrs["n_relabelled"] == 0
    assert "component_order" not in idata.sample_stats
    np.testing.assert_array_equal(out.posterior["means"].values, means)


def test_assignment_relabelling_is_scale_free():
    # Rescaling and shifting the data (and so every parameter) leaves the labels unchanged,
    # also for draws far enough from the reference that some matchings are close calls.
    rng = np.random.default_rng(2)
    reference = _reference("full")
    weights, means, covariances = _draws_near(reference, rng)
    means = means + 0.8 * rng.normal(size=means.shape)
    w, m, c, _ = _permute(weights, means, covariances, "full", rng)
    A = np.diag([1000.0, 0.01, 3.0])
    b = np.array([5.0, -2.0, 1e4])
    moved = MixtureParams(
        reference.weights, reference.means @ A.T + b, A @ reference.covariances @ A.T
    )
    before = relabel(_idata(reference, w, m, c), reference)
    after = relabel(_idata(moved, w, m @ A.T + b, A @ c @ A.T), moved)
    np.testing.assert_array_equal(
        after.sample_stats["component_order"].values,
        before.sample_stats["component_order"].values,
    )
    assert before.posterior.attrs["n_relabelled"] > 0


def test_label_switching_breaks_rhat_and_relabelling_restores_it():
    rng = np.random.default_rng(3)
    reference = _reference("diag")
    weights, means, covariances = _draws_near(reference, rng)
    # chain 1 uses another component order throughout, as after a switch
    swap = np.array([1, 2, 0])
    switched = [a.copy() for a in (weights, means, covariances)]
    for a in switched:
        a[1] = a[1][:, swap]
    idata = _idata(reference, *switched)
    with pytest.warns(SamplingWarning, match="R-hat"):
        before = diagnose(idata)
    assert before.max_r_hat > 1.5
    after = diagnose(relabel(idata, reference))
    assert after.max_r_hat < 1.01
    # Every draw of the switched chain moved, none of the other.
    assert (after.n_relabelled, after.relabelling) == (N_DRAWS, "assignment")
    assert after.ok


def test_divergences_and_rhat_are_reported_loudly():
    rng = np.random.default_rng(4)
    reference = _reference("spherical")
    weights, means, covariances = _draws_near(reference, rng)
    diverging = np.zeros((N_CHAINS, N_DRAWS), dtype=bool)
    diverging[0, [3, 50]] = True
    # shift one chain so that the chains disagree
    means[1] += 1.0
    idata = _idata(reference, weights, means, covariances, diverging=diverging)
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


def test_problems_name_entries_as_people_count_components():
    rng = np.random.default_rng(8)
    reference = _reference("diag")
    weights, means, covariances = _draws_near(reference, rng)
    # Only the first component's second feature disagrees between chains.
    means[1, :, 0, 1] += 1.0
    idata = _idata(reference, weights, means, covariances)
    result = diagnose(idata, warn=False)
    assert "R-hat up to" in result.problems[0]
    assert "(means[1, x2])" in result.problems[0]
    # The table keeps ArviZ's names, whose coordinates are the data's (0-based).
    assert result.table["r_hat"].idxmax() == "means[0, x2]"


def test_diagnostics_fields_match_arviz():
    rng = np.random.default_rng(5)
    reference = _reference("tied")
    idata = _idata(reference, *_draws_near(reference, rng))
    result = diagnose(idata)
    rhat = az.rhat(idata, var_names=["weights", "means", "covariances"])
    ess = az.ess(idata, var_names=["weights", "means", "covariances"], method="bulk")
    assert result.max_r_hat == pytest.approx(max(float(rhat[v].max()) for v in rhat))
    assert result.min_ess_bulk == pytest.approx(min(float(ess[v].min()) for v in ess))
    # Draws that were never relabelled say so.
    assert result.n_relabelled is None and result.to_dict()["relabelling"] is None
    assert len(result.ebfmi) == N_CHAINS
    assert (result.n_chains, result.n_draws) == (N_CHAINS, N_DRAWS)
    assert set(result.table.columns) >= {"r_hat", "ess_bulk", "ess_tail"}


@pytest.mark.parametrize(("chains", "draws"), [(1, 1000), (4, 50)])
def test_too_few_draws_for_diagnostics(chains, draws):
    with pytest.raises(ValueError, match=r"too few to diagnose.*chains=4, draws=1000"):
        check_run_size(chains, draws)


def test_relabel_bad_arguments():
    rng = np.random.default_rng(6)
    reference = _reference("full")
    idata = _idata(reference, *_draws_near(reference, rng))
    with pytest.raises(ValueError, match="relabelling must be one of assignment, stephens"):
        relabel(idata, reference, relabelling="ecr")
    with pytest.raises(ValueError, match="reference must be a MixtureParams"):
        relabel(idata, {"weights": reference.weights})
    with pytest.raises(ValueError, match="needs the data"):
        relabel(idata, reference, relabelling="stephens")
    two = MixtureParams(
        reference.weights[:2] / reference.weights[:2].sum(),
        reference.means[:2],
        reference.covariances[:2],
    )
    with pytest.raises(ValueError, match="3 components in 3 dimensions but the reference has 2"):
        relabel(idata, two)
