"""The PyMC model is the EM model: same log-density to 1e-8, same mode to 1e-4.

The EM side is latentmix's own EMGaussianMixture (log_likelihood_ + log_prior_, with every
normalising constant, in latentmix.em.estep and latentmix.priors).
"""

import numpy as np
import pytest

from latentmix import ConjugatePrior, EMGaussianMixture, MixtureParams, PyMCGaussianMixture
from latentmix.bayes.model import build_model, params_to_point
from latentmix.bayes.spec import covariance_dims
from latentmix.datasets import load, synthetic_3d
from latentmix.em.estep import log_likelihood
from latentmix.params import COVARIANCE_TYPES, PARAMETER_NAMES, covariances_shape
from latentmix.priors import log_prior
from latentmix.threads import single_threaded_blas

DATASETS = {
    "faithful": (load("faithful").data, 2),
    "synthetic3d": (synthetic_3d().data, 3),
}
CASES = [(name, covariance_type) for name in DATASETS for covariance_type in COVARIANCE_TYPES]


@pytest.fixture(scope="module")
def em_fits():
    """EM MAP and, started from it, the EM MLE of every case."""
    fits = {}
    for name, covariance_type in CASES:
        X, K = DATASETS[name]
        em_map = EMGaussianMixture(
            K, covariance_type=covariance_type, prior="default", n_init=3, random_state=0
        )
        em_map.fit(X)
        em_mle = EMGaussianMixture(K, covariance_type=covariance_type, init=em_map.params_).fit(X)
        fits[name, covariance_type] = em_map, em_mle
    return fits


def _assert_params_close(actual: MixtureParams, expected: MixtureParams, rtol):
    for name in PARAMETER_NAMES:
        a, b = getattr(actual, name), getattr(expected, name)
        # Relative to the array's scale: off-diagonal covariances can be near zero.
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max(), err_msg=name)


@pytest.mark.compiles
@pytest.mark.parametrize(("name", "covariance_type"), CASES)
def test_logp_without_jacobian_is_the_em_objective(em_fits, name, covariance_type):
    X, K = DATASETS[name]
    em_map, _ = em_fits[name, covariance_type]
    model = build_model(X, K, covariance_type, em_map.prior_)
    with single_threaded_blas():
        logp = model.compile_logp(jacobian=False)(params_to_point(model, em_map.params_))
    np.testing.assert_allclose(logp, em_map.objective_, rtol=1e-8)
    np.testing.assert_allclose(logp, em_map.log_likelihood_ + em_map.log_prior_, rtol=1e-8)


@pytest.mark.compiles
@pytest.mark.parametrize(("name", "covariance_type"), CASES)
def test_find_map_from_the_mle_arrives_at_the_em_map(em_fits, name, covariance_type):
    X, K = DATASETS[name]
    em_map, em_mle = em_fits[name, covariance_type]
    # The MLE is a genuinely different point (covariances differ by 2-10%), so the
    # optimiser has work to do.
    distance = np.abs(em_mle.covariances_ - em_map.covariances_).max()
    assert distance > 1e-2 * np.abs(em_map.covariances_).max()
    gm = PyMCGaussianMixture(K, covariance_type=covariance_type)
    found = gm.find_map(X, start=em_mle.params_)
    _assert_params_close(found, em_map.params_, rtol=1e-4)
    # and the mode is at least as high as EM's (both climb the same function).
    prior = ConjugatePrior.default(X, K, covariance_type)
    found_objective = log_likelihood(X, found) + log_prior(found, prior)
    assert found_objective >= em_map.objective_ - 1e-8 * abs(em_map.objective_)


@pytest.mark.compiles
def test_find_map_from_a_jittered_map_in_one_dimension():
    X = load("galaxies").data
    em_map = EMGaussianMixture(3, prior="default", random_state=0).fit(X)
    rng = np.random.default_rng(0)
    p = em_map.params_
    weights = p.weights * np.exp(0.1 * rng.normal(size=3))
    start = MixtureParams(
        weights / weights.sum(),
        p.means + 0.2 * rng.normal(size=p.means.shape),
        p.covariances * np.exp(0.2 * rng.normal(size=p.covariances.shape)),
        "full",
    )
    found = PyMCGaussianMixture(3).find_map(X, start=start)
    _assert_params_close(found, p, rtol=1e-4)


def test_model_variables_dims_and_coords():
    X, K = DATASETS["synthetic3d"]
    for covariance_type in COVARIANCE_TYPES:
        model = build_model(X, K, covariance_type, feature_names=["a", "b", "c"])
        assert model.named_vars_to_dims["weights"] == ("component",)
        assert model.named_vars_to_dims["means"] == ("component", "feature")
        assert model.named_vars_to_dims["covariances"] == covariance_dims(covariance_type)
        assert model.named_vars_to_dims["x"] == ("observation", "feature")
        assert list(model.coords["feature"]) == ["a", "b", "c"]
        assert list(model.coords["feature_bis"]) == ["a", "b", "c"]
        assert len(model.coords["observation"]) == X.shape[0]
        assert {rv.name for rv in model.free_RVs} == {"weights", "means", "covariances"}


def test_no_prior_is_refused_with_the_reason():
    X = load("faithful").data
    with pytest.raises(ValueError, match=r"no posterior.*improper.*prior='default'"):
        PyMCGaussianMixture(2, prior=None).build_model(X)
    with pytest.raises(ValueError, match="no posterior"):
        PyMCGaussianMixture(2, prior=None).fit(X)
    with pytest.raises(ValueError, match="no posterior"):
        PyMCGaussianMixture(2, prior=None).find_map(X)


def test_bad_prior_arguments():
    X = load("faithful").data
    with pytest.raises(ValueError, match="'default' or a ConjugatePrior; got 'flat'"):
        PyMCGaussianMixture(2, prior="flat").build_model(X)
    with pytest.raises(ValueError, match="got dict"):
        PyMCGaussianMixture(2, prior={"mean": 0}).build_model(X)
    # a prior for other data: wrong width, wrong scale shape for the type
    other = ConjugatePrior.default(synthetic_3d().data, 2, "full")
    with pytest.raises(ValueError, match="3 but the data have 2 features"):
        PyMCGaussianMixture(2, prior=other).build_model(X)
    diag_prior = ConjugatePrior.default(X, 2, "diag")
    with pytest.raises(ValueError, match="'full' prior needs scale of shape"):
        PyMCGaussianMixture(2, prior=diag_prior).build_model(X)
    # an improper inverse-Wishart (dof <= d - 1) is refused
    improper = ConjugatePrior(1.0, X.mean(0), 0.01, 0.5, np.cov(X.T))
    with pytest.raises(ValueError, match="degrees_of_freedom must exceed d - 1"):
        PyMCGaussianMixture(2, prior=improper).build_model(X)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((3, 2, 2)), "must be 2-D"),
        (np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]), "NaN"),
        (np.ones((1, 2)), "at least as many samples as components"),
        ([["a", "b"]], "must be numeric"),
    ],
)
def test_bad_data(X, match):
    with pytest.raises(ValueError, match=match):
        PyMCGaussianMixture(2).build_model(X)


def test_bad_settings():
    X = load("faithful").data
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        PyMCGaussianMixture(2, covariance_type="VVV").build_model(X)
    with pytest.raises(ValueError, match="n_components must be"):
        PyMCGaussianMixture(0).build_model(X)
    with pytest.raises(ValueError, match="feature_names has 3 names"):
        build_model(X, 2, feature_names=["a", "b", "c"])


def test_start_and_points_are_checked():
    X = load("faithful").data
    model = build_model(X, 2)
    good = EMGaussianMixture(2, prior="default", n_init=1, random_state=0).fit(X).params_
    wrong = MixtureParams(good.weights, good.means, good.covariances[:, 0], "diag")
    with pytest.raises(ValueError, match="covariance_type 'diag' but the model is 'full'"):
        PyMCGaussianMixture(2).find_map(X, start=wrong)
    with pytest.raises(ValueError, match="must be a MixtureParams"):
        PyMCGaussianMixture(2).find_map(X, start={"weights": good.weights})
    three = MixtureParams(np.ones(3) / 3, np.zeros((3, 2)), np.stack([np.eye(2)] * 3))
    with pytest.raises(ValueError, match="weights has shape"):
        params_to_point(model, three)


@pytest.mark.compiles
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_prior_predictive_draws_have_the_model_shapes(covariance_type):
    import pymc as pm

    X, K = DATASETS["synthetic3d"]
    model = build_model(X[:50], K, covariance_type)
    with model:
        prior = pm.sample_prior_predictive(draws=20, random_seed=1)
    assert prior.prior["covariances"].shape[2:] == covariances_shape(covariance_type, K, 3)
    assert prior.prior["means"].shape[2:] == (K, 3)
    assert prior.prior_predictive["x"].shape[2:] == (50, 3)
    np.testing.assert_allclose(prior.prior["weights"].sum("component"), 1.0)
