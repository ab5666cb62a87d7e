"""Hard-assignment EM is k-means: same centres and labels as scikit-learn's Lloyd iterations.

Reference: scikit-learn ``sklearn.cluster.KMeans(n_clusters=K, init=<the same starting
centres>, n_init=1, algorithm="lloyd", tol=0, max_iter=300)`` (scikit-learn >= 1.4, the test
extra), run in the test itself; ``tol=0`` makes it iterate until the labels stop changing, which
is our stopping rule.
"""

import numpy as np
import pytest
from sklearn.cluster import KMeans

from latentmix.datasets import house_prices, load, synthetic_3d
from latentmix.teach.examples import poor_start
from latentmix.teach.hard import hard_assign, hard_em

DATA = {
    "house_prices": lambda: house_prices(random_state=0).data,
    "faithful": lambda: load("faithful").data,
    "synthetic_3d": lambda: synthetic_3d(300, random_state=1).data,
}


def _kmeans(X, init):
    km = KMeans(
        n_clusters=init.shape[0], init=init, n_init=1, algorithm="lloyd", tol=0, max_iter=300
    )
    return km.fit(X)


@pytest.mark.parametrize("name", sorted(DATA))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hard_em_is_kmeans_from_the_same_start(name, seed):
    X = DATA[name]()
    K = 3
    rng = np.random.default_rng(seed)
    init = X[rng.choice(X.shape[0], K, replace=False)]
    ours = hard_em(X, init)
    ref = _kmeans(X, init.copy())
    assert ours.converged
    np.testing.assert_allclose(ours.means, ref.cluster_centers_, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(ours.labels, ref.labels_)
    assert ours.inertia == pytest.approx(ref.inertia_, rel=1e-9)
    # Lloyd's objective never rises along the path.
    inertias = [((X - m[hard_assign(X, m)]) ** 2).sum() for m in ours.means_path]
    assert np.all(np.diff(inertias) <= 1e-9 * inertias[0])


def test_hard_em_from_the_poor_start_of_the_walkthrough_is_kmeans():
    X = house_prices(random_state=0).data
    init = poor_start(X, 3).means
    ours = hard_em(X, init)
    ref = _kmeans(X, init.copy())
    np.testing.assert_allclose(ours.means, ref.cluster_centers_, rtol=1e-10)
    np.testing.assert_array_equal(ours.labels, ref.labels_)


def test_the_hard_e_step_is_nearest_mean_whatever_the_shared_variance():
    X = load("faithful").data
    means = X[[0, 5, 9]]
    nearest = np.argmin(((X[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    for variance in [1e-2, 1.0, 1e3]:
        np.testing.assert_array_equal(hard_assign(X, means, variance), nearest)


def test_kmeans_as_a_mixture_and_reordered_keeps_every_point_with_its_centre():
    X = load("faithful").data
    ours = hard_em(X, X[[0, 5, 9]])
    mixture = ours.as_mixture()
    assert mixture.covariance_type == "spherical"
    np.testing.assert_allclose(mixture.weights, 1 / 3)
    # The shared variance is the maximum-likelihood one given the labels.
    assert mixture.covariances == pytest.approx(np.full(3, ours.inertia / (X.shape[0] * 2)))
    order = np.array([2, 0, 1])
    moved = ours.permute(order)
    np.testing.assert_array_equal(moved.means, ours.means[order])
    np.testing.assert_array_equal(moved.means[moved.labels], ours.means[ours.labels])
    np.testing.assert_array_equal(moved.means_path[0], ours.means_path[0][order])
