"""EM MLE against scikit-learn's GaussianMixture from the same starting point.

Reference: scikit-learn 1.9.1, ``GaussianMixture(K, covariance_type=covariance_type,
weights_init=w, means_init=m, precisions_init=P, reg_covar=r, tol=0, max_iter=T).fit(X)``,
which runs exactly T EM iterations from (w, m, P); its log-likelihood is ``score(X) * n``.
Our ``run_em`` with ``EMOptions(tol=0, max_iter=T)`` runs the same T iterations.
"""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.mixture import GaussianMixture

from latentmix.datasets import load, synthetic_3d
from latentmix.em.fit import EMOptions, run_em
from latentmix.em.init import initial_params

# scikit-learn has four of our six covariance types; tests/em/test_mclust.py checks
# tied_diag and tied_spherical against mclust and a direct maximiser instead.
SKLEARN_TYPES = ("full", "tied", "diag", "spherical")


def sklearn_precisions(params):
    # Test-only explicit inverse: scikit-learn takes precisions, not covariances.
    if params.covariance_type in ("full", "tied"):
        return np.linalg.inv(params.covariances)
    return 1.0 / params.covariances


def sklearn_fit(X, start, n_iter, reg_covar):
    model = GaussianMixture(
        start.n_components,
        covariance_type=start.covariance_type,
        weights_init=start.weights,
        means_init=start.means,
        precisions_init=sklearn_precisions(start),
        reg_covar=reg_covar,
        tol=0.0,
        max_iter=n_iter,
        init_params="random_from_data",  # cheap; the *_init arguments override it
    )
    with pytest.warns(SklearnConvergenceWarning):
        model.fit(X)
    return model


@pytest.mark.parametrize("reg_covar", [0.0, 1e-6])
@pytest.mark.parametrize("covariance_type", SKLEARN_TYPES)
def test_mle_matches_sklearn_from_same_start(covariance_type, reg_covar):
    X = synthetic_3d(300, random_state=4).data
    start = initial_params(X, 3, covariance_type, np.random.default_rng(7))
    n_iter = 25
    ours = run_em(X, start, EMOptions(tol=0.0, max_iter=n_iter, reg_covar=reg_covar))
    ref = sklearn_fit(X, start, n_iter, reg_covar)
    assert ours.n_iter == n_iter
    ref_ll = ref.score(X) * X.shape[0]
    assert ours.log_likelihood == pytest.approx(ref_ll, rel=1e-8)
    np.testing.assert_allclose(ours.params.weights, ref.weights_, rtol=1e-7)
    np.testing.assert_allclose(ours.params.means, ref.means_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.params.covariances, ref.covariances_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ["galaxies", "acidity"])
def test_mle_matches_sklearn_in_one_dimension(name):
    X = load(name).data
    start = initial_params(X, 3, "full", np.random.default_rng(1))
    ours = run_em(X, start, EMOptions(tol=0.0, max_iter=40))
    ref = sklearn_fit(X, start, 40, 0.0)
    assert ours.log_likelihood == pytest.approx(ref.score(X) * X.shape[0], rel=1e-8)
