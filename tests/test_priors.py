"""ConjugatePrior: validation, data-scaled defaults, and log_prior against scipy.stats."""

import numpy as np
import pytest
from scipy import stats

from latentmix import ConjugatePrior, MixtureParams
from latentmix.datasets import load
from latentmix.params import COVARIANCE_TYPES, check_params
from latentmix.priors import (
    log_dirichlet,
    log_invgamma,
    log_invwishart,
    log_prior,
    sample_prior,
)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weight_concentration": -1.0}, "weight_concentration must be a positive"),
        ({"weight_concentration": [[1.0, 2.0]]}, "weight_concentration must be a positive"),
        ({"mean": np.zeros((2, 2))}, r"mean must be a 1-D array of length d; got shape \(2, 2\)"),
        ({"mean": [0.0, np.nan]}, "mean must be finite"),
        ({"mean_precision": 0.0}, "mean_precision must be positive; got 0.0"),
        ({"degrees_of_freedom": -2.0}, "degrees_of_freedom must be positive; got -2.0"),
        ({"scale": np.array([[1.0, 2.0], [2.0, 1.0]])}, "scale must be positive definite"),
        ({"scale": np.eye(3)}, r"scale must be a symmetric \(2, 2\) matrix"),
        ({"scale": -1.0}, "scale must be positive"),
        ({"mean_precision": "a lot"}, "mean_precision must be numeric"),
    ],
)
def test_conjugate_prior_validation(kwargs, match):
    args = {
        "weight_concentration": 1.0,
        "mean": np.zeros(2),
        "mean_precision": 0.01,
        "degrees_of_freedom": 4.0,
        "scale": np.eye(2),
    } | kwargs
    with pytest.raises(ValueError, match=match):
        ConjugatePrior(**args)


def test_check_against_data_and_type():
    prior = ConjugatePrior([1.0, 2.0], np.zeros(3), 0.01, 1.5, np.eye(3))
    with pytest.raises(ValueError, match=r"degrees_of_freedom must exceed d - 1 = 2"):
        prior.check(3, 2, "full")
    with pytest.raises(
        ValueError, match="weight_concentration has 2 values but n_components is 3"
    ):
        prior.check(3, 3, "full")
    with pytest.raises(ValueError, match=r"a 'diag' prior needs scale of shape \(3,\)"):
        prior.check(3, 2, "diag")
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        prior.check(3, 2, "cube")
    with pytest.raises(ValueError, match=r"a 'tied_diag' prior needs scale of shape \(3,\)"):
        prior.check(3, 2, "tied_diag")
    with pytest.raises(ValueError, match=r"a 'tied_spherical' prior needs scale of shape \(\)"):
        prior.check(3, 2, "tied_spherical")
    # an inverse-gamma needs only a positive dof, whatever d
    ConjugatePrior(1.0, np.zeros(3), 0.01, 0.5, np.ones(3)).check(3, 2, "tied_diag")
    ConjugatePrior(1.0, np.zeros(3), 0.01, 0.5, 2.0).check(3, 2, "tied_spherical")
    np.testing.assert_array_equal(prior.concentration(2), [1.0, 2.0])


def test_default_prior_on_faithful():
    # R: var(faithful) = [[1.302728, 13.977808], [13.977808, 184.823312]];
    # colMeans(faithful) = (3.487783, 70.897059). mclust defaultPrior(faithful, G = 2,
    # "VVV"): shrinkage 0.01, mean colMeans, dof d + 2 = 4, scale var / G^(2/d) = var / 2.
    X = load("faithful").data
    prior = ConjugatePrior.default(X, 2, "full")
    np.testing.assert_allclose(prior.mean, [3.487783, 70.897059], rtol=1e-6)
    assert prior.mean_precision == 0.01
    assert prior.degrees_of_freedom == 4.0
    np.testing.assert_allclose(
        prior.scale, np.array([[1.302728, 13.977808], [13.977808, 184.823312]]) / 2, rtol=1e-6
    )
    np.testing.assert_array_equal(prior.weight_concentration, 1.0)
    np.testing.assert_allclose(
        ConjugatePrior.default(X, 2, "diag").scale, [0.651364, 92.411656], rtol=1e-6
    )
    assert ConjugatePrior.default(X, 2, "spherical").scale == pytest.approx(
        (0.651364 + 92.411656) / 2, rel=1e-6
    )
    np.testing.assert_allclose(ConjugatePrior.default(X, 2, "tied").scale, prior.scale)
    # The shared diagonal types take the scale of their per-component counterparts. (mclust's
    # defaultPrior(faithful, 2, "EEI") gives the scalar (0.651364 + 92.411656) / 2 for EEI
    # and VVI alike; ours keeps one scale per feature, see ConjugatePrior.default.)
    np.testing.assert_array_equal(
        ConjugatePrior.default(X, 2, "tied_diag").scale, ConjugatePrior.default(X, 2, "diag").scale
    )
    assert ConjugatePrior.default(X, 2, "tied_spherical").scale == pytest.approx(
        (0.651364 + 92.411656) / 2, rel=1e-6
    )


def test_default_prior_needs_a_proper_data_covariance():
    X = np.column_stack([np.arange(10.0), np.ones(10)])
    with pytest.raises(ValueError, match="data covariance is singular"):
        ConjugatePrior.default(X, 2, "full")


def test_prior_from_moments_is_the_default_prior():
    X = load("faithful").data
    for covariance_type in COVARIANCE_TYPES:
        got = ConjugatePrior.from_moments(X.mean(axis=0), np.cov(X.T), 3, covariance_type)
        want = ConjugatePrior.default(X, 3, covariance_type)
        for name in ("mean", "scale", "degrees_of_freedom", "mean_precision"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        ConjugatePrior.from_moments([0.0, 0.0], np.eye(3), 2)
    with pytest.raises(ValueError, match="singular"):
        ConjugatePrior.from_moments([0.0, 0.0], np.zeros((2, 2)), 2)


def test_prior_files_round_trip_and_bad_files_say_why(tmp_path):
    import json

    prior = ConjugatePrior([1.0, 2.0], [0.5, -1.0], 0.2, 4.5, [[2.0, 0.3], [0.3, 1.0]])
    as_json = tmp_path / "prior.json"
    as_json.write_text(json.dumps(prior.to_dict()))
    as_toml = tmp_path / "prior.toml"
    as_toml.write_text(
        "weight_concentration = [1.0, 2.0]\nmean = [0.5, -1.0]\nmean_precision = 0.2\n"
        "degrees_of_freedom = 4.5\nscale = [[2.0, 0.3], [0.3, 1.0]]\n"
    )
    # A report's estimates.json holds the prior under "prior".
    nested = tmp_path / "estimates.json"
    nested.write_text(json.dumps({"settings": {}, "prior": prior.to_dict()}))
    for path in (as_json, as_toml, nested):
        got = ConjugatePrior.read(path)
        for name in ConjugatePrior.HYPERPARAMETERS:
            np.testing.assert_array_equal(getattr(got, name), getattr(prior, name))
    bad = tmp_path / "bad.json"
    cases = [
        ('{"mean": [0, 0]}', "missing weight_concentration, mean_precision"),
        (json.dumps({**prior.to_dict(), "shape": 1}), "unknown shape"),
        (json.dumps({**prior.to_dict(), "degrees_of_freedom": -1}), "must be positive"),
        ("[1, 2]", "must hold an object of hyperparameters"),
        ('{"mean": ', "is not valid json"),
    ]
    for text, message in cases:
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            ConjugatePrior.read(bad)
    with pytest.raises(ValueError, match="cannot read the prior file"):
        ConjugatePrior.read(tmp_path / "nowhere.toml")


def scipy_log_prior(params, prior):
    K, d = params.means.shape
    covariance_type = params.covariance_type
    kappa, nu, m0 = prior.mean_precision, prior.degrees_of_freedom, prior.mean
    total = stats.dirichlet(prior.concentration(K)).logpdf(params.weights)
    if covariance_type in ("full", "tied"):
        stack = params.full_covariances()
        covs = stack if covariance_type == "full" else stack[:1]
        total += sum(stats.invwishart(df=nu, scale=prior.scale).logpdf(c) for c in covs)
        total += sum(
            stats.multivariate_normal(m0, c / kappa).logpdf(m)
            for m, c in zip(params.means, stack, strict=True)
        )
        return total
    # Written out per type, not through latentmix.params.variances, to stay independent.
    cov = np.asarray(params.covariances)
    if covariance_type == "diag":
        total += stats.invgamma(nu / 2, scale=prior.scale / 2).logpdf(cov).sum()
        variances = cov
    elif covariance_type == "spherical":
        total += stats.invgamma(nu / 2, scale=prior.scale / 2).logpdf(cov).sum()
        variances = np.repeat(cov[:, None], d, axis=1)
    elif covariance_type == "tied_diag":
        # one inverse-gamma per feature, once, however many components
        total += stats.invgamma(nu / 2, scale=prior.scale / 2).logpdf(cov).sum()
        variances = np.tile(cov, (K, 1))
    else:
        total += stats.invgamma(nu / 2, scale=prior.scale / 2).logpdf(float(cov))
        variances = np.full((K, d), float(cov))
    total += stats.norm(m0, np.sqrt(variances / kappa)).logpdf(params.means).sum()
    return total


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_prior_matches_scipy(covariance_type, random_params):
    rng = np.random.default_rng(COVARIANCE_TYPES.index(covariance_type))
    params = random_params(rng, covariance_type, 3, 2)
    scale = {"full": np.array([[2.0, 0.3], [0.3, 1.0]]), "diag": np.array([2.0, 0.5])}
    scale["tied"] = scale["full"]
    scale["tied_diag"] = scale["diag"]
    prior = ConjugatePrior(
        np.array([1.0, 2.0, 3.5]), np.array([0.5, -0.2]), 0.3, 4.5, scale.get(covariance_type, 1.7)
    )
    assert log_prior(params, prior) == pytest.approx(scipy_log_prior(params, prior), rel=1e-11)


def test_one_dimension_every_type_is_the_same_prior():
    rng = np.random.default_rng(4)
    w, m, v = rng.dirichlet(np.ones(2)), rng.normal(size=(2, 1)), rng.uniform(0.5, 2, size=2)
    full = log_prior(
        MixtureParams(w, m, v[:, None, None], "full"),
        ConjugatePrior(1.5, np.zeros(1), 0.2, 3.0, np.eye(1) * 2.0),
    )
    diag = log_prior(
        MixtureParams(w, m, v[:, None], "diag"), ConjugatePrior(1.5, np.zeros(1), 0.2, 3.0, [2.0])
    )
    sph = log_prior(
        MixtureParams(w, m, v, "spherical"), ConjugatePrior(1.5, np.zeros(1), 0.2, 3.0, 2.0)
    )
    assert full == pytest.approx(diag, rel=1e-12) and diag == pytest.approx(sph, rel=1e-12)
    # The shared types are one shared variance in 1-D: tied, tied_diag and tied_spherical agree.
    shared = [
        log_prior(MixtureParams(w, m, cov, t), ConjugatePrior(1.5, np.zeros(1), 0.2, 3.0, scale))
        for t, cov, scale in [
            ("tied", v[:1, None], np.eye(1) * 2.0),
            ("tied_diag", v[:1], [2.0]),
            ("tied_spherical", np.asarray(v[0]), 2.0),
        ]
    ]
    assert shared == pytest.approx([shared[0]] * 3, rel=1e-12)


def test_shared_types_have_one_inverse_gamma_not_one_per_component():
    # With K components the shared variance's prior counts once: log_prior of K = 1 and of
    # K = 3 (equal means at m0, flat weights) differ by the mean terms and the Dirichlet only.
    prior = ConjugatePrior(1.0, np.zeros(2), 0.5, 4.0, np.array([2.0, 0.5]))
    cov = np.array([1.3, 0.4])
    one = log_prior(MixtureParams(np.ones(1), np.zeros((1, 2)), cov, "tied_diag"), prior)
    three = log_prior(MixtureParams(np.ones(3) / 3, np.zeros((3, 2)), cov, "tied_diag"), prior)
    mean_term = stats.norm(0.0, np.sqrt(cov / 0.5)).logpdf(0.0).sum()
    assert three - one == pytest.approx(2 * mean_term + np.log(2.0), rel=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_prior_draws_the_prior(covariance_type):
    # Moments of many draws against the prior's: E[sigma^2] = (psi/2) / (nu/2 - 1) for the
    # inverse-gamma, E[Sigma] = Psi / (nu - d - 1) for the inverse-Wishart, E[mu] = m0.
    d, K, nu = 2, 3, 9.0
    scale = {
        "full": np.array([[2.0, 0.3], [0.3, 1.0]]),
        "tied": np.array([[2.0, 0.3], [0.3, 1.0]]),
        "diag": np.array([2.0, 0.5]),
        "tied_diag": np.array([2.0, 0.5]),
    }.get(covariance_type, 1.5)
    prior = ConjugatePrior([1.0, 2.0, 3.0], np.array([1.0, -1.0]), 2.0, nu, scale)
    rng = np.random.default_rng(3)
    one_at_a_time = [sample_prior(prior, K, covariance_type, rng) for _ in range(4000)]
    for p in one_at_a_time[:5]:
        check_params(p, n_components=K, n_features=d, covariance_type=covariance_type)
    batch = sample_prior(prior, K, covariance_type, rng, size=4000)
    check_params(
        MixtureParams(*(a[0] for a in batch[:3]), covariance_type),
        n_components=K, n_features=d, covariance_type=covariance_type,
    )  # fmt: skip
    if covariance_type in ("full", "tied"):
        expected = scale / (nu - d - 1)
    else:
        expected = np.asarray(scale) / (nu - 2)
    for draws in ([np.stack(a) for a in zip(*one_at_a_time, strict=True)], batch):
        covs = draws[2].mean(axis=0)
        # about six standard errors of a mean of 4000 draws
        np.testing.assert_allclose(covs, np.broadcast_to(expected, covs.shape), atol=0.02)
        np.testing.assert_allclose(draws[1].mean(axis=0), [[1.0, -1.0]] * 3, atol=0.05)
        np.testing.assert_allclose(draws[0].mean(axis=0), [1 / 6, 2 / 6, 3 / 6], atol=0.01)


def test_one_prior_draw_is_the_first_of_a_batch_of_one():
    prior = ConjugatePrior(2.0, np.zeros(2), 0.5, 5.0, np.eye(2))
    one = sample_prior(prior, 3, "full", 7)
    batch = sample_prior(prior, 3, "full", 7, size=1)
    for a, b in zip(one[:3], batch[:3], strict=True):
        np.testing.assert_array_equal(a, b[0])


def test_density_helpers_against_scipy():
    w, alpha = np.array([0.2, 0.3, 0.5]), np.array([1.0, 2.0, 0.7])
    assert log_dirichlet(w, alpha) == pytest.approx(stats.dirichlet(alpha).logpdf(w))
    S, Psi = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[1.0, 0.2], [0.2, 3.0]])
    assert log_invwishart(S, 5.0, Psi) == pytest.approx(stats.invwishart(5.0, Psi).logpdf(S))
    assert log_invgamma(0.7, 2.5, 1.2) == pytest.approx(stats.invgamma(2.5, scale=1.2).logpdf(0.7))


def test_log_prior_outside_the_support():
    prior = ConjugatePrior(2.0, np.zeros(2), 0.1, 4.0, np.eye(2))
    singular = MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.zeros((2, 2, 2)))
    assert log_prior(singular, prior) == -np.inf
    empty = MixtureParams(np.array([1.0, 0.0]), np.zeros((2, 2)), np.stack([np.eye(2)] * 2))
    assert log_prior(empty, prior) == -np.inf
    negative = MixtureParams(
        np.array([0.5, 0.5]), np.zeros((2, 2)), np.array([1.0, -1.0]), "spherical"
    )
    assert log_prior(negative, ConjugatePrior(1.0, np.zeros(2), 0.1, 4.0, 1.0)) == -np.inf


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_log_prior_from_precision_factors_is_log_prior(covariance_type, random_params):
    from latentmix.em.fit import map_log_prior

    rng = np.random.default_rng(10 + COVARIANCE_TYPES.index(covariance_type))
    params = random_params(rng, covariance_type, 3, 2)
    prior = ConjugatePrior.default(rng.normal(size=(50, 2)) * [1.0, 4.0], 3, covariance_type)
    prior = ConjugatePrior([1.0, 1.5, 2.0], prior.mean, 0.7, 5.0, prior.scale)
    assert map_log_prior(params, prior) == pytest.approx(log_prior(params, prior), rel=1e-12)


def test_an_asymmetric_scale_is_called_asymmetric_not_misshapen():
    with pytest.raises(ValueError, match=r"scale must be symmetric, and it is not: scale\[0, 1\]"):
        ConjugatePrior(1.0, np.zeros(2), 0.01, 4.0, [[1.0, 0.5], [0.0, 1.0]])


@pytest.mark.parametrize("name", ["prior.yaml", "prior.yml", "prior"])
def test_a_prior_file_of_another_kind_is_refused_by_its_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("mean: [0, 0]\n")
    with pytest.raises(ValueError, match=r"must be \.json or \.toml .*; got"):
        ConjugatePrior.read(path)


def test_more_columns_than_rows_has_no_default_prior_whatever_the_round_off():
    # The sample covariance of 20 rows in 20 columns has rank 19: its smallest eigenvalue
    # is round-off (1.5e-16 here, of either sign on another machine), not a property of
    # the data, and used to pass an exact "> 0" test.
    X = np.random.default_rng(0).normal(size=(20, 20))
    with pytest.raises(ValueError, match="20 rows for 20 columns, so their covariance has rank"):
        ConjugatePrior.default(X, 1, "full")
    for rows in (5, 19, 20):
        Y = np.random.default_rng(1).normal(size=(rows, 20))
        with pytest.raises(ValueError, match=f"{rows} rows for 20 columns"):
            ConjugatePrior.default(Y, 1, "full")
    # Without the number of rows, the advice is about the columns.
    with pytest.raises(ValueError, match="a constant column or collinear columns"):
        ConjugatePrior.from_moments(X.mean(0), np.cov(X.T), 1)
    # One more row and the covariance is of full rank: a prior exists.
    Z = np.random.default_rng(0).normal(size=(21, 20))
    assert ConjugatePrior.default(Z, 1, "full").scale.shape == (20, 20)


def test_a_scale_singular_to_working_precision_is_refused():
    v = np.array([1.0, 1.0]) / np.sqrt(2)
    nearly = np.eye(2) - np.outer(v, v) * (1 - 1e-17)  # round-off makes it 0 or +-1e-17
    with pytest.raises(ValueError, match="scale must be positive definite"):
        ConjugatePrior(1.0, np.zeros(2), 0.01, 4.0, nearly)
    # Well-conditioned but tiny is fine: the test is relative to the scale.
    assert ConjugatePrior(1.0, np.zeros(2), 0.01, 4.0, 1e-200 * np.eye(2)).scale[0, 0] == 1e-200
