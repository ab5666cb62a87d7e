"""Wald, Laplace and bootstrap intervals (latentmix.em.intervals)."""

import numpy as np
import pytest

from latentmix.em.information import observed_information
from latentmix.em.intervals import bootstrap, laplace, refit_from, standard_errors
from latentmix.em.parameterisation import natural_vector
from latentmix.estimator import EMGaussianMixture
from latentmix.matching import align
from latentmix.params import MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior

K, D = 3, 2


def test_bootstrap_relabels_every_replicate_to_the_estimate(random_params):
    rng = np.random.default_rng(4)
    params = random_params(rng, "diag", K, D)
    X, _ = sample_mixture(params, 200, 0)
    calls = []

    def refit(Xb):
        # A refit that returns the components in a different order each time.
        order = rng.permutation(K)
        calls.append(order)
        jitter = params._replace(means=params.means + 1e-3 * rng.normal(size=params.means.shape))
        return jitter.permute(order)

    out = bootstrap(params, X, n_boot=20, random_state=0, refit=refit)
    assert len(calls) == 20 and out.n_failed == 0
    assert any(not np.array_equal(o, np.arange(K)) for o in calls)
    np.testing.assert_allclose(
        out.draws, np.broadcast_to(out.estimate, out.draws.shape), atol=0.01
    )


def test_bootstrap_counts_failed_refits(random_params):
    rng = np.random.default_rng(4)
    params = random_params(rng, "spherical", K, D)
    X, _ = sample_mixture(params, 50, 0)
    state = {"i": 0}

    def refit(Xb):
        state["i"] += 1
        if state["i"] % 2:
            raise ValueError("degenerate")
        return params

    out = bootstrap(params, X, n_boot=10, random_state=0, refit=refit, resample="parametric")
    assert out.n_failed == 5 and out.draws.shape[0] == 5
    assert out.source == "bootstrap_parametric"


def test_bootstrap_and_wald_agree_on_a_large_sample():
    truth = MixtureParams(
        np.array([0.3, 0.7]), np.array([[-2.0], [2.0]]), np.array([1.0, 0.5]), "spherical"
    )
    X, _ = sample_mixture(truth, 2000, 8)
    est = EMGaussianMixture(2, covariance_type="spherical", random_state=0, n_init=1).fit(X)
    wald = standard_errors(est.params_, X)
    boot = bootstrap(est.params_, X, n_boot=60, random_state=1)
    np.testing.assert_allclose(boot.standard_error, wald.standard_error, rtol=0.35)


def test_wald_intervals_cover_at_about_the_nominal_rate():
    # Easy case: two well separated 1-D components, n = 300, 150 data sets.
    truth = MixtureParams(
        np.array([0.4, 0.6]), np.array([[0.0], [5.0]]), np.array([1.0, 1.5]), "spherical"
    )
    true_vec = natural_vector(truth)
    covered = []
    for seed in range(150):
        X, _ = sample_mixture(truth, 300, seed)
        est = EMGaussianMixture(2, covariance_type="spherical", n_init=1, init=truth).fit(X)
        ci = standard_errors(align(est.params_, truth), X)
        covered.append((ci.lower <= true_vec) & (true_vec <= ci.upper))
    rate = np.mean(covered, axis=0)
    # 150 replicates: Monte Carlo sd of a 95% coverage is 1.8 points.
    assert np.all(rate > 0.88) and np.all(rate < 0.995), rate


def test_laplace_matches_wald_on_a_large_sample_and_needs_a_prior():
    truth = MixtureParams(
        np.array([0.5, 0.5]), np.array([[0.0, 0.0], [5.0, 5.0]]), np.ones((2, 2)), "diag"
    )
    X, _ = sample_mixture(truth, 3000, 1)
    est = EMGaussianMixture(
        2, covariance_type="diag", prior="default", random_state=0, n_init=1
    ).fit(X)
    lap = laplace(est.params_, X, prior=est.prior_, n_draws=3000, random_state=0)
    wald = standard_errors(est.params_, X, prior=est.prior_)
    assert lap.source == "laplace" and lap.draws.shape == (3000, len(lap.names))
    np.testing.assert_allclose(lap.standard_error, wald.standard_error, rtol=0.1)
    with pytest.raises(ValueError, match="needs a prior"):
        laplace(est.params_, X)


def test_standard_errors_reject_a_point_that_is_not_a_maximum():
    truth = MixtureParams(
        np.array([0.5, 0.5]), np.array([[0.0], [0.0]]), np.array([1.0, 1.0]), "spherical"
    )
    X, _ = sample_mixture(truth, 100, 0)
    # Two identical components: the weights are not identified, information is singular.
    with pytest.raises(ValueError, match="not positive definite"):
        standard_errors(truth, X)


def test_estimator_methods_are_the_module_functions():
    truth = MixtureParams(
        np.array([0.4, 0.6]), np.array([[0.0, 0.0], [4.0, 4.0]]), np.array([1.0, 0.7]), "spherical"
    )
    X, _ = sample_mixture(truth, 300, 2)
    mle = EMGaussianMixture(2, covariance_type="spherical", n_init=1, random_state=0).fit(X)
    map_ = EMGaussianMixture(
        2, covariance_type="spherical", prior="default", n_init=1, random_state=0
    ).fit(X)
    np.testing.assert_array_equal(
        mle.observed_information(X), observed_information(X, mle.params_)
    )
    np.testing.assert_array_equal(
        mle.observed_information(X, information="opg"),
        observed_information(X, mle.params_, information="opg"),
    )
    opg = mle.standard_errors(X, information="opg")
    np.testing.assert_array_equal(
        opg.standard_error,
        standard_errors(mle.params_, X, information="opg").standard_error,
    )
    # A MAP fit's curvature is the log-posterior's.
    np.testing.assert_array_equal(
        map_.observed_information(X), observed_information(X, map_.params_, map_.prior_)
    )
    wald = mle.standard_errors(X, level=0.9)
    assert wald.level == 0.9 and wald.source == "wald"
    np.testing.assert_array_equal(wald.upper, standard_errors(mle.params_, X, level=0.9).upper)
    boot = mle.bootstrap(X, resample="parametric", n_boot=5, random_state=3)
    np.testing.assert_array_equal(
        boot.draws,
        bootstrap(mle.params_, X, resample="parametric", n_boot=5, random_state=3).draws,
    )
    lap = map_.laplace(X, n_draws=200, random_state=1)
    np.testing.assert_array_equal(
        lap.draws, laplace(map_.params_, X, prior=map_.prior_, n_draws=200, random_state=1).draws
    )
    with pytest.raises(ValueError, match="needs a prior"):
        mle.laplace(X)
    with pytest.raises(ValueError, match="not fitted"):
        EMGaussianMixture(2).standard_errors(X)
    with pytest.raises(ValueError, match="features"):
        mle.standard_errors(X[:, :1])


def test_default_refit_is_one_warm_started_em_run():
    """refit_from is what a one-run EMGaussianMixture started at the estimate would give."""
    truth = MixtureParams(
        np.array([0.4, 0.6]), np.array([[0.0, 0.0], [4.0, 4.0]]), np.array([1.0, 0.7]), "spherical"
    )
    X, _ = sample_mixture(truth, 200, 5)
    Xb = X[np.random.default_rng(0).integers(0, 200, 200)]
    for prior in (None, ConjugatePrior.default(X, 2, "spherical")):
        est = EMGaussianMixture(
            2, covariance_type="spherical", prior=prior, n_init=1, init=truth, tol=1e-8
        ).fit(Xb)
        got = refit_from(truth, Xb, prior)
        for a, b in zip(got[:3], est.params_[:3], strict=True):
            np.testing.assert_array_equal(a, b)


def test_intervals_carry_keys_and_a_source():
    truth = MixtureParams(
        np.array([0.4, 0.6]), np.array([[0.0], [5.0]]), np.array([1.0, 1.5]), "spherical"
    )
    X, _ = sample_mixture(truth, 300, 0)
    wald = standard_errors(truth, X, level=0.9)
    assert wald.keys[0] == ("weights", (0,)) and wald.keys[-1] == ("covariances", (1,))
    assert wald.names[-1] == "covariances[1]" and len(wald.keys) == len(wald.names)
    assert wald.as_dict()["means[1,0]"]["estimate"] == 5.0
    boot = bootstrap(truth, X, n_boot=3, random_state=0)
    assert boot.source == "bootstrap_nonparametric" and boot.keys == wald.keys


def test_interval_arguments_are_checked():
    truth = MixtureParams(
        np.array([0.4, 0.6]), np.array([[0.0], [5.0]]), np.array([1.0, 1.5]), "spherical"
    )
    X, _ = sample_mixture(truth, 100, 0)
    with pytest.raises(ValueError, match="resample must be 'nonparametric' or 'parametric'"):
        bootstrap(truth, X, resample="jackknife")
    with pytest.raises(ValueError, match="n_boot must be a whole number >= 2; got 1"):
        bootstrap(truth, X, n_boot=1)
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        standard_errors(truth, X, level=95)
    with pytest.raises(ValueError, match=r"params\.weights must be positive and sum to 1"):
        standard_errors(truth._replace(weights=np.array([0.5, 0.6])), X)


@pytest.mark.parametrize("covariance_type", ["tied_diag", "tied_spherical"])
def test_shared_diagonal_types_wald_bootstrap_and_laplace(covariance_type):
    # One shared variance (or one per feature): its interval is one entry, and the Wald,
    # bootstrap and Laplace standard errors agree on a large, well-separated sample.
    covariances = {"tied_diag": np.array([1.0, 0.5]), "tied_spherical": np.array(0.8)}
    truth = MixtureParams(
        np.array([0.4, 0.6]),
        np.array([[-2.5, 0.0], [2.5, 1.0]]),
        covariances[covariance_type],
        covariance_type,
    )
    X, _ = sample_mixture(truth, 1000, 5)
    est = EMGaussianMixture(2, covariance_type=covariance_type, init=truth).fit(X)
    wald = standard_errors(est.params_, X)
    n_cov = {"tied_diag": 2, "tied_spherical": 1}[covariance_type]
    assert len(wald.names) == 2 + 4 + n_cov
    assert wald.names[-1] == ("covariances[1]" if n_cov == 2 else "covariances")
    boot = bootstrap(est.params_, X, n_boot=60, random_state=1)
    np.testing.assert_allclose(boot.standard_error, wald.standard_error, rtol=0.35)
    # a shared variance pools every row: its standard error is about var * sqrt(2 / (n d'))
    # with d' the features it pools (d for tied_spherical, 1 for tied_diag)
    pooled = 2 if covariance_type == "tied_spherical" else 1
    expected = np.ravel(est.params_.covariances) * np.sqrt(2 / (1000 * pooled))
    np.testing.assert_allclose(wald.standard_error[-n_cov:], expected, rtol=0.15)
    fit = EMGaussianMixture(2, covariance_type=covariance_type, prior="default", init=truth).fit(X)
    lap = laplace(fit.params_, X, prior=fit.prior_, n_draws=3000, random_state=0)
    wald_map = standard_errors(fit.params_, X, prior=fit.prior_)
    np.testing.assert_allclose(lap.standard_error, wald_map.standard_error, rtol=0.1)
