"""latentmix.matching: the one rule (KL assignment) that lines up mixture components."""

import numpy as np
import pytest
from scipy import stats

from latentmix.matching import align, kl_cost, match_components, match_draws, solve_orders
from latentmix.params import COVARIANCE_TYPES, MixtureParams

K, D = 4, 3


def stack(params_list):
    """Many MixtureParams of one type as one with a leading draw axis."""
    first = params_list[0]
    arrays = [np.stack([np.asarray(p[i]) for p in params_list]) for i in range(3)]
    return MixtureParams(*arrays, first.covariance_type)


def kl_by_hand(mu0, cov0, mu1, cov1):
    """KL(N0 || N1) from the textbook formula."""
    inv1 = np.linalg.inv(cov1)
    diff = mu1 - mu0
    d = len(mu0)
    return 0.5 * (
        np.trace(inv1 @ cov0)
        + diff @ inv1 @ diff
        - d
        + np.linalg.slogdet(cov1)[1]
        - np.linalg.slogdet(cov0)[1]
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_permutation_is_recovered_for_every_covariance_type(covariance_type, random_params):
    rng = np.random.default_rng(0)
    reference = random_params(rng, covariance_type, K, D)
    for _ in range(5):
        order = rng.permutation(K)
        shuffled = reference.permute(order)
        found = match_components(shuffled, reference)
        # Component found[k] of the shuffled mixture is reference component k.
        np.testing.assert_array_equal(order[found], np.arange(K))
        back = align(shuffled, reference)
        for a, b in zip(back[:3], reference[:3], strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_kl_cost_is_the_kl_divergence(covariance_type, random_params):
    rng = np.random.default_rng(1)
    reference = random_params(rng, covariance_type, K, D)
    other = random_params(rng, covariance_type, K, D)
    cost = kl_cost(stack([other]), reference)[0]
    ref_cov, cov = reference.full_covariances(), other.full_covariances()
    for j in range(K):
        for k in range(K):
            expected = kl_by_hand(other.means[j], cov[j], reference.means[k], ref_cov[k])
            assert cost[j, k] == pytest.approx(expected, rel=1e-10, abs=1e-10)
    # The divergence of a component from itself is 0.
    self_cost = kl_cost(stack([reference]), reference)[0]
    np.testing.assert_allclose(np.diag(self_cost), 0.0, atol=1e-10)


def test_kl_matches_scipy_entropy_identity():
    """KL(N0||N1) = cross-entropy - entropy, checked by Monte Carlo with scipy densities."""
    mu0, cov0 = np.zeros(2), np.array([[1.0, 0.3], [0.3, 0.5]])
    mu1, cov1 = np.array([0.5, -0.2]), np.array([[2.0, -0.4], [-0.4, 1.0]])
    x = stats.multivariate_normal(mu0, cov0).rvs(200_000, random_state=0)
    mc = np.mean(
        stats.multivariate_normal(mu0, cov0).logpdf(x)
        - stats.multivariate_normal(mu1, cov1).logpdf(x)
    )
    p0 = MixtureParams(np.array([1.0]), mu0[None], cov0[None])
    p1 = MixtureParams(np.array([1.0]), mu1[None], cov1[None])
    assert kl_cost(stack([p0]), p1)[0, 0, 0] == pytest.approx(mc, rel=0.01)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_batched_equals_one_by_one(covariance_type, random_params):
    rng = np.random.default_rng(2)
    reference = random_params(rng, covariance_type, K, D)
    draws = []
    for _ in range(6):
        noisy = reference._replace(means=reference.means + 0.5 * rng.normal(size=(K, D)))
        draws.append(noisy.permute(rng.permutation(K)))
    batched = match_draws(stack(draws), reference)
    assert batched.shape == (6, K)
    for s, draw in enumerate(draws):
        np.testing.assert_array_equal(batched[s], match_components(draw, reference))
    np.testing.assert_array_equal(solve_orders(kl_cost(stack(draws), reference)), batched)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_invariant_to_units(covariance_type, random_params):
    """Rescaling a feature (metres to millimetres) and shifting the origin change no match."""
    rng = np.random.default_rng(3)
    reference = random_params(rng, covariance_type, K, D)
    draws = [
        reference._replace(means=reference.means + rng.normal(size=(K, D))).permute(
            rng.permutation(K)
        )
        for _ in range(8)
    ]
    orders = match_draws(stack(draws), reference)
    # diag and spherical covariances stay in their type only under a common (spherical) scale;
    # full and tied take any per-feature scale.
    if covariance_type in ("full", "tied"):
        scale = np.array([1000.0, 0.01, 3.0])
    else:
        scale = np.full(D, 1000.0)
    shift = np.array([5.0, -2.0, 1e4])

    def rescale(p):
        means = p.means * scale + shift
        cov = np.asarray(p.covariances)
        if p.covariance_type == "full" or p.covariance_type == "tied":
            cov = cov * np.outer(scale, scale)
        elif p.covariance_type == "diag":
            cov = cov * scale**2
        else:
            cov = cov * scale[0] ** 2
        return MixtureParams(p.weights, means, cov, p.covariance_type)

    rescaled = match_draws(stack([rescale(p) for p in draws]), rescale(reference))
    np.testing.assert_array_equal(rescaled, orders)


def test_match_sees_shape_not_only_location():
    """Two components at one mean, one wide and one narrow: KL tells them apart."""
    reference = MixtureParams(
        np.array([0.5, 0.5]), np.zeros((2, 1)), np.array([0.1, 10.0]), "spherical"
    )
    swapped = reference.permute([1, 0])
    np.testing.assert_array_equal(match_components(swapped, reference), [1, 0])


def test_shapes_must_agree():
    a = MixtureParams(np.ones(2) / 2, np.zeros((2, 2)), np.ones(2), "spherical")
    b = MixtureParams(np.ones(3) / 3, np.zeros((3, 2)), np.ones(3), "spherical")
    with pytest.raises(ValueError, match=r"cannot match components: means of shape \(2, 2\)"):
        match_components(a, b)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_kl_cost_is_invariant_under_an_affine_map(covariance_type, random_params):
    """means -> A m + b and covariances -> A S A^T leave every divergence as it was."""
    rng = np.random.default_rng(4)
    reference = random_params(rng, covariance_type, K, D)
    draws = stack([random_params(rng, covariance_type, K, D) for _ in range(3)])
    A = rng.normal(size=(D, D)) + 2 * np.eye(D)
    b = rng.normal(size=D)

    def mapped(p):
        return p._replace(
            means=p.means @ A.T + b,
            covariances=np.einsum("ij,...jk,lk->...il", A, p.covariances, A),
        )

    np.testing.assert_allclose(
        kl_cost(mapped(draws), mapped(reference)), kl_cost(draws, reference), rtol=1e-8, atol=1e-9
    )
