"""Relabelling undoes label switching exactly, by the assignment rule or Stephens' method."""

import numpy as np
import pytest

from latentmix import MixtureParams, relabel
from latentmix.bayes.diagnostics import SamplingWarning, diagnose
from latentmix.bayes.relabel import RELABELLINGS
from latentmix.params import COVARIANCE_TYPES, sample_mixture


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("relabelling", RELABELLINGS)
def test_permuted_draws_come_back_in_reference_order_exactly(
    covariance_type, relabelling, posterior_like
):
    rng = np.random.default_rng(7)
    reference = posterior_like.reference(covariance_type)
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    X, _ = sample_mixture(reference, 200, random_state=3)
    w, m, c, orders = posterior_like.permute(weights, means, covariances, covariance_type, rng)
    out = relabel(
        posterior_like.idata(reference, w, m, c, X=X), reference, relabelling=relabelling
    )
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


def test_relabel_returns_a_copy_and_leaves_ordered_draws_alone(posterior_like):
    rng = np.random.default_rng(1)
    reference = posterior_like.reference("full")
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    idata = posterior_like.idata(reference, weights, means, covariances)
    out = relabel(idata, reference)
    assert out.posterior.attrs["n_relabelled"] == 0
    assert "component_order" not in idata.sample_stats
    np.testing.assert_array_equal(out.posterior["means"].values, means)


def test_assignment_relabelling_is_scale_free(posterior_like):
    # Rescaling and shifting the data (and so every parameter) leaves the labels unchanged,
    # also for draws far enough from the reference that some matchings are close calls.
    rng = np.random.default_rng(2)
    reference = posterior_like.reference("full")
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    means = means + 0.8 * rng.normal(size=means.shape)
    w, m, c, _ = posterior_like.permute(weights, means, covariances, "full", rng)
    A = np.diag([1000.0, 0.01, 3.0])
    b = np.array([5.0, -2.0, 1e4])
    moved = MixtureParams(
        reference.weights, reference.means @ A.T + b, A @ reference.covariances @ A.T
    )
    before = relabel(posterior_like.idata(reference, w, m, c), reference)
    after = relabel(posterior_like.idata(moved, w, m @ A.T + b, A @ c @ A.T), moved)
    np.testing.assert_array_equal(
        after.sample_stats["component_order"].values,
        before.sample_stats["component_order"].values,
    )
    assert before.posterior.attrs["n_relabelled"] > 0


def test_label_switching_breaks_rhat_and_relabelling_restores_it(posterior_like):
    rng = np.random.default_rng(3)
    reference = posterior_like.reference("diag")
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    # chain 1 uses another component order throughout, as after a switch
    swap = np.array([1, 2, 0])
    switched = [a.copy() for a in (weights, means, covariances)]
    for a in switched:
        a[1] = a[1][:, swap]
    idata = posterior_like.idata(reference, *switched)
    with pytest.warns(SamplingWarning, match="R-hat"):
        before = diagnose(idata)
    assert before.max_r_hat > 1.5
    after = diagnose(relabel(idata, reference))
    assert after.max_r_hat < 1.01
    # Every draw of the switched chain moved, none of the other.
    assert (after.n_relabelled, after.relabelling) == (posterior_like.N_DRAWS, "assignment")
    assert after.ok


def test_relabel_bad_arguments(posterior_like):
    rng = np.random.default_rng(6)
    reference = posterior_like.reference("full")
    idata = posterior_like.idata(reference, *posterior_like.draws_near(reference, rng))
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


def test_stephens_classifies_rows_with_missing_cells_by_their_observed_cells(posterior_like):
    rng = np.random.default_rng(9)
    reference = posterior_like.reference("full")
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    X, _ = sample_mixture(reference, 200, random_state=4)
    X[rng.uniform(size=X.shape) < 0.25] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    w, m, c, orders = posterior_like.permute(weights, means, covariances, "full", rng)
    out = relabel(posterior_like.idata(reference, w, m, c), reference, "stephens", X=X)
    np.testing.assert_array_equal(out.posterior["means"].values, means)
    np.testing.assert_array_equal(
        out.sample_stats["component_order"].values, np.argsort(orders, axis=-1)
    )


def test_a_chain_relabelled_as_a_whole_has_no_switches():
    from latentmix.bayes.relabel import n_switched

    identity, swap = [0, 1, 2], [1, 0, 2]
    # Chain 0 keeps the sampler's labels but for 2 draws; chain 1 sampled the swapped copy
    # of the mode throughout, but for 1 draw.
    order = np.array([[identity] * 8 + [swap] * 2, [swap] * 9 + [identity]])
    assert n_switched(order) == 3
    assert n_switched(np.array([[swap] * 10, [[2, 0, 1]] * 10])) == 0


def test_relabel_records_switches_within_chains(posterior_like):
    rng = np.random.default_rng(1)
    reference = posterior_like.reference("full")
    weights, means, covariances = posterior_like.draws_near(reference, rng)
    # Every draw of chain 0 with components 0 and 1 swapped: relabelled, none switched.
    for values in (weights, means, covariances):
        values[0] = values[0][:, [1, 0, 2]]
    out = relabel(posterior_like.idata(reference, weights, means, covariances), reference)
    assert out.posterior.attrs["n_relabelled"] == weights.shape[1]
    assert out.posterior.attrs["n_switched"] == 0
