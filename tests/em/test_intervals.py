"""Wald, Laplace and bootstrap intervals (latentmix.em.intervals)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- Wald intervals on the link scales, and of derived quantities ---------------------------


def _numerical_jacobian(fn, theta, step=1e-6):
    """Central differences of fn at theta, shape (len(fn(theta)), len(theta))."""
    cols = []
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = step
        cols.append((fn(theta + e) - fn(theta - e)) / (2 * step))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_link_jacobian_matches_finite_differences(covariance_type, random_params):
    from latentmix.em.intervals import _link, link_jacobian, link_scales
    from latentmix.em.parameterisation import from_unconstrained, to_unconstrained

    params = random_params(np.random.default_rng(2), covariance_type, K, D)
    scales = link_scales(K, D, covariance_type)

    def linked(theta):
        return _link(natural_vector(from_unconstrained(theta, K, D, covariance_type)), scales)

    numeric = _numerical_jacobian(linked, to_unconstrained(params))
    np.testing.assert_allclose(link_jacobian(params), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_derived_wald_matches_a_numerical_delta_method(covariance_type, random_params):
    from scipy import stats

    from latentmix.em.derived import derived_entries, derived_values
    from latentmix.em.intervals import _link, derived
    from latentmix.em.parameterisation import from_unconstrained, to_unconstrained

    params = random_params(np.random.default_rng(5), covariance_type, K, D)
    X, _ = sample_mixture(params, 400, 1)
    wald = standard_errors(params, X)
    out = derived(wald, params)
    entries = derived_entries(K, D, covariance_type)
    scales = out.scales

    def linked(theta):
        nat = natural_vector(from_unconstrained(theta, K, D, covariance_type))
        return _link(derived_values(nat, entries), scales)

    jac = _numerical_jacobian(linked, to_unconstrained(params))
    se_link = np.sqrt(np.einsum("ip,pq,iq->i", jac, wald.covariance, jac))
    z = stats.norm.ppf(0.975)
    centre = _link(out.estimate, scales)
    np.testing.assert_allclose(out.lower, _link(centre - z * se_link, scales, True), rtol=1e-5)
    np.testing.assert_allclose(out.upper, _link(centre + z * se_link, scales, True), rtol=1e-5)
    n_corr = {"full": K, "tied": 1, "diag": 0}[covariance_type]
    assert sum(g == "correlations" for g, _ in out.keys) == n_corr


def test_natural_scale_wald_is_symmetric_and_link_scale_is_not(random_params):
    params = random_params(np.random.default_rng(3), "diag", K, D)
    X, _ = sample_mixture(params, 150, 2)
    natural = standard_errors(params, X, scale="natural")
    linked = standard_errors(params, X)
    np.testing.assert_allclose(natural.standard_error, linked.standard_error)
    np.testing.assert_allclose(natural.upper - natural.estimate, natural.estimate - natural.lower)
    assert set(natural.scales) == {"identity"}
    assert linked.scales[:K] == ("logit",) * K
    assert np.all(linked.lower[:K] < linked.estimate[:K])
    with pytest.raises(ValueError, match="scale must be 'link'"):
        standard_errors(params, X, scale="log")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(12, 60),
    covariance_type=st.sampled_from(["full", "diag", "spherical", "tied"]),
)
def test_wald_intervals_stay_inside_the_parameter_space(seed, n, covariance_type):
    # Small samples and small components: where natural-scale intervals fall below zero.
    from latentmix.em.intervals import derived

    rng = np.random.default_rng(seed)
    weights = rng.dirichlet([1.0, 1.0, 0.3]) * 0.9 + 0.1 / 3
    truth = MixtureParams(
        weights,
        np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]),
        np.array([np.eye(2) * s for s in rng.uniform(0.05, 2.0, 3)]),
    )
    X, _ = sample_mixture(truth, n, seed)
    est = EMGaussianMixture(3, covariance_type=covariance_type, init=truth, prior="default")
    try:
        params = est.fit(X).params_
        wald = standard_errors(params, X, prior=est.prior_)
    except (ValueError, np.linalg.LinAlgError):
        return  # no interval to check (information not positive definite)
    for (group, _), scale, lo, hi in zip(
        wald.keys, wald.scales, wald.lower, wald.upper, strict=True
    ):
        if group == "weights":
            assert 0 <= lo <= hi <= 1
        elif scale == "log":
            assert 0 <= lo <= hi
    more = derived(wald, params)
    for (group, _), lo, hi in zip(more.keys, more.lower, more.upper, strict=True):
        if group == "correlations":
            assert -1 <= lo <= hi <= 1
        else:
            assert 0 <= lo <= hi
