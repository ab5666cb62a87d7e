import numpy as np
import pytest

from latentmix.em import uncertainty as U
from latentmix.estimator import EMGaussianMixture
from latentmix.params import MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior

K, D = 3, 2


def _params(kind, rng):
    A = rng.normal(size=(K, D, D))
    full = A @ A.transpose(0, 2, 1) + np.eye(D)
    cov = {
        "full": full,
        "tied": full[0],
        "diag": np.abs(rng.normal(size=(K, D))) + 0.5,
        "spherical": np.abs(rng.normal(size=K)) + 0.5,
    }[kind]
    return MixtureParams(np.array([0.2, 0.3, 0.5]), 2 * rng.normal(size=(K, D)), cov, kind)


def _fd_hessian(f, theta, h=1e-4):
    p = theta.size
    E = np.eye(p) * h
    H = np.empty((p, p))
    for i in range(p):
        for j in range(i, p):
            H[i, j] = H[j, i] = (
                f(theta + E[i] + E[j])
                - f(theta + E[i] - E[j])
                - f(theta - E[i] + E[j])
                + f(theta - E[i] - E[j])
            ) / (4 * h * h)
    return H


def _fd_gradient(f, theta, h=1e-6):
    return np.array([(f(theta + e) - f(theta - e)) / (2 * h) for e in h * np.eye(theta.size)])


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("with_prior", [False, True])
def test_exact_hessian_matches_finite_differences(kind, with_prior):
    rng = np.random.default_rng(11)
    params = _params(kind, rng)
    X, _ = sample_mixture(params, 60, 3)
    prior = None
    if with_prior:
        base = ConjugatePrior.default(X, K, kind)
        # Unequal concentrations and a stronger mean precision exercise every prior term.
        prior = ConjugatePrior(
            np.array([1.5, 2.0, 3.0]), base.mean, 0.3, base.degrees_of_freedom, base.scale
        )
    theta = U.to_unconstrained(params)

    def f(t):
        return U.objective_theta(t, X, K, D, kind, prior)

    grad, hess = U.objective_derivatives(X, params, prior)
    np.testing.assert_allclose(grad, _fd_gradient(f, theta), rtol=1e-6, atol=1e-5)
    fd = _fd_hessian(f, theta)
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())
    np.testing.assert_allclose(hess, hess.T, atol=1e-10)


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_unconstrained_round_trip_and_natural_jacobian(kind):
    rng = np.random.default_rng(5)
    params = _params(kind, rng)
    theta = U.to_unconstrained(params)
    back = U.from_unconstrained(theta, K, D, kind)
    for a, b in zip(back[:3], params[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert len(U.parameter_names(K, D, kind)) == U.natural_vector(params).size

    def nat(t):
        return U.natural_vector(U.from_unconstrained(t, K, D, kind))

    h = 1e-6
    fd = np.stack([(nat(theta + e) - nat(theta - e)) / (2 * h) for e in h * np.eye(theta.size)], 1)
    np.testing.assert_allclose(U.natural_jacobian(params), fd, atol=1e-7)
    many = theta + 0.2 * rng.normal(size=(4, theta.size))
    np.testing.assert_allclose(U.natural_draws(many, K, D, kind), [nat(t) for t in many])


@pytest.mark.parametrize("prior", [None, "default"])
def test_gradient_vanishes_at_the_em_estimate(prior):
    truth = MixtureParams(
        np.array([0.4, 0.6]),
        np.array([[0.0, 0.0], [4.0, 3.0]]),
        np.array([[[1.0, 0.3], [0.3, 1.0]], [[1.5, -0.4], [-0.4, 0.8]]]),
    )
    X, _ = sample_mixture(truth, 300, 2)
    est = EMGaussianMixture(2, prior=prior, random_state=0).fit(X)
    grad, hess = U.objective_derivatives(X, est.params_, est.prior_)
    assert np.abs(grad).max() < 1e-4 * np.abs(hess).max()
    assert np.linalg.eigvalsh(-hess).min() > 0
    # At the MLE the outer product of scores estimates the same information.
    if prior is None:
        opg = U.observed_information(X, est.params_, method="opg")
        ratio = np.sqrt(np.diag(np.linalg.inv(opg)) / np.diag(np.linalg.inv(-hess)))
        assert np.all((ratio > 0.7) & (ratio < 1.4))


def test_match_components_undoes_a_permutation():
    rng = np.random.default_rng(1)
    params = _params("full", rng)
    order = np.array([2, 0, 1])
    shuffled = params.permute(order)
    back = U.relabel_to(shuffled, params)
    np.testing.assert_allclose(back.means, params.means)
    np.testing.assert_allclose(back.covariances, params.covariances)


def test_bootstrap_relabels_every_replicate_to_the_estimate():
    rng = np.random.default_rng(4)
    params = _params("diag", rng)
    X, _ = sample_mixture(params, 200, 0)
    calls = []

    def refit(Xb):
        # A refit that returns the components in a different order each time.
        order = rng.permutation(K)
        calls.append(order)
        jitter = params._replace(means=params.means + 1e-3 * rng.normal(size=params.means.shape))
        return jitter.permute(order)

    out = U.bootstrap(params, X, n_boot=20, random_state=0, refit=refit)
    assert len(calls) == 20 and out.n_failed == 0
    assert any(not np.array_equal(o, np.arange(K)) for o in calls)
    np.testing.assert_allclose(
        out.draws, np.broadcast_to(out.estimate, out.draws.shape), atol=0.01
    )


def test_bootstrap_counts_failed_refits():
    rng = np.random.default_rng(4)
    params = _params("spherical", rng)
    X, _ = sample_mixture(params, 50, 0)
    state = {"i": 0}

    def refit(Xb):
        state["i"] += 1
        if state["i"] % 2:
            raise ValueError("degenerate")
        return params

    out = U.bootstrap(params, X, n_boot=10, random_state=0, refit=refit, kind="parametric")
    assert out.n_failed == 5 and out.draws.shape[0] == 5
    assert out.method == "bootstrap-parametric"


def test_bootstrap_and_wald_agree_on_a_large_sample():
    truth = MixtureParams(
        np.array([0.3, 0.7]), np.array([[-2.0], [2.0]]), np.array([1.0, 0.5]), "spherical"
    )
    X, _ = sample_mixture(truth, 2000, 8)
    est = EMGaussianMixture(2, covariance_type="spherical", random_state=0, n_init=1).fit(X)
    wald = U.standard_errors(est, X)
    boot = U.bootstrap(est, X, n_boot=60, random_state=1)
    np.testing.assert_allclose(boot.standard_error, wald.standard_error, rtol=0.35)


def test_wald_intervals_cover_at_about_the_nominal_rate():
    # Easy case: two well separated 1-D components, n = 300, 150 data sets.
    truth = MixtureParams(
        np.array([0.4, 0.6]), np.array([[0.0], [5.0]]), np.array([1.0, 1.5]), "spherical"
    )
    true_vec = U.natural_vector(truth)
    covered = []
    for seed in range(150):
        X, _ = sample_mixture(truth, 300, seed)
        est = EMGaussianMixture(2, covariance_type="spherical", n_init=1, init=truth).fit(X)
        ci = U.standard_errors(U.relabel_to(est.params_, truth), X)
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
    lap = U.laplace(est, X, n_draws=3000, random_state=0)
    wald = U.standard_errors(est, X)
    assert lap.method == "laplace" and lap.draws.shape == (3000, len(lap.names))
    np.testing.assert_allclose(lap.standard_error, wald.standard_error, rtol=0.1)
    with pytest.raises(ValueError, match="needs a prior"):
        U.laplace(est.params_, X)


def test_standard_errors_reject_a_point_that_is_not_a_maximum():
    truth = MixtureParams(
        np.array([0.5, 0.5]), np.array([[0.0], [0.0]]), np.array([1.0, 1.0]), "spherical"
    )
    X, _ = sample_mixture(truth, 100, 0)
    # Two identical components: the weights are not identified, information is singular.
    with pytest.raises(ValueError, match="not positive definite"):
        U.standard_errors(truth, X)


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
        mle.observed_information(X), U.observed_information(X, mle.params_)
    )
    # A MAP fit's curvature is the log-posterior's.
    np.testing.assert_array_equal(
        map_.observed_information(X), U.observed_information(X, map_.params_, map_.prior_)
    )
    wald = mle.standard_errors(X, level=0.9)
    assert wald.level == 0.9 and wald.method == "wald"
    np.testing.assert_array_equal(wald.upper, U.standard_errors(mle.params_, X, level=0.9).upper)
    boot = mle.bootstrap(X, kind="parametric", n_boot=5, random_state=3)
    np.testing.assert_array_equal(
        boot.draws, U.bootstrap(mle, X, kind="parametric", n_boot=5, random_state=3).draws
    )
    lap = map_.laplace(X, n_draws=200, random_state=1)
    np.testing.assert_array_equal(lap.draws, U.laplace(map_, X, n_draws=200, random_state=1).draws)
    with pytest.raises(ValueError, match="needs a prior"):
        mle.laplace(X)
    with pytest.raises(ValueError, match="not fitted"):
        EMGaussianMixture(2).standard_errors(X)
    with pytest.raises(ValueError, match="features"):
        mle.standard_errors(X[:, :1])
