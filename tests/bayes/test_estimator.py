"""PyMCGaussianMixture's settings as a scikit-learn estimator's: clone, get/set_params."""

import numpy as np
from sklearn.base import clone

from latentmix import ConjugatePrior, PyMCGaussianMixture


def test_clone_and_params_round_trip_without_sampling():
    prior = ConjugatePrior(2.0, np.zeros(2), 0.01, 4.0, np.eye(2))
    gm = PyMCGaussianMixture(3, covariance_type="full", prior=prior)
    params = gm.get_params()
    assert params.keys() == {"n_components", "covariance_type", "prior", "missing", "cache"}
    assert params["missing"] == "error"
    assert params["prior"] is prior and params["n_components"] == 3
    twin = clone(gm)  # copies the prior: a clone shares nothing mutable
    assert twin is not gm and type(twin) is PyMCGaussianMixture
    assert isinstance(twin.prior, ConjugatePrior) and twin.prior is not prior
    np.testing.assert_array_equal(twin.prior.scale, prior.scale)
    assert twin.n_components == 3 and twin.covariance_type == "full"
    assert twin.set_params(n_components=2, prior="default", missing="ignore") is twin
    assert twin.get_params()["n_components"] == 2 and gm.n_components == 3
    assert twin.missing == "ignore" and gm.missing == "error"
    assert PyMCGaussianMixture(**twin.get_params()).get_params() == twin.get_params()
    assert repr(PyMCGaussianMixture(2)) == "PyMCGaussianMixture(n_components=2)"
