"""Starting points (latentmix.em.init): every start is a proper mixture of its type."""

import numpy as np
import pytest

from latentmix.em.init import START_TYPES, initial_params, params_from_labels
from latentmix.params import COVARIANCE_TYPES, check_params, covariances_shape
from latentmix.priors import ConjugatePrior


def data(seed=0, n=90):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 3.0, 0.5]
    X[: n // 3] += 6.0
    return X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("start", START_TYPES)
@pytest.mark.parametrize("with_prior", [False, True])
def test_every_start_is_a_proper_mixture_of_its_type(covariance_type, start, with_prior):
    X = data()
    prior = ConjugatePrior.default(X, 3, covariance_type) if with_prior else None
    params = initial_params(
        X, 3, covariance_type, np.random.default_rng(1), prior=prior, start=start
    )
    assert np.shape(params.covariances) == covariances_shape(covariance_type, 3, 3)
    check_params(params, n_components=3, n_features=3, covariance_type=covariance_type)


def test_scales_start_of_the_shared_diagonal_types_is_the_data_scale():
    # One covariance for all components: the data's variances (or their mean) times K^(-2/d).
    X = data(2)
    var = np.var(X, axis=0)
    for covariance_type, expected in [
        ("tied_diag", var * 3 ** (-2 / 3)),
        ("tied_spherical", var.mean() * 3 ** (-2 / 3)),
    ]:
        params = initial_params(X, 3, covariance_type, np.random.default_rng(0), start="scales")
        np.testing.assert_allclose(params.covariances, expected, rtol=1e-12)
        np.testing.assert_array_equal(params.weights, np.full(3, 1 / 3))


def test_an_mle_partition_start_with_a_constant_feature_within_clusters_is_repaired():
    # Feature 2 is constant within each cluster: the pooled within-cluster variance is zero
    # there (1e-16 after round-off), so the tied_diag MLE of the labels is singular and the
    # start falls back to the data's variances. tied_spherical pools the features too and
    # is proper: its start is the MLE.
    X = data(3)
    labels = np.repeat([0, 1, 2], 30)
    X[:, 2] = labels.astype(float)
    params = params_from_labels(X, labels, 3, "tied_diag", prior=None)
    np.testing.assert_allclose(params.covariances, np.var(X, axis=0), rtol=1e-12)
    spherical = params_from_labels(X, labels, 3, "tied_spherical", prior=None)
    within = np.mean([X[labels == k].var(axis=0) for k in range(3)], axis=0).mean()
    assert float(spherical.covariances) == pytest.approx(within, rel=1e-12)
