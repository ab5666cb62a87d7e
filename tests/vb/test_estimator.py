"""VBGaussianMixture as an estimator: scikit-learn's checks, its settings and errors, the
predictive, the draws as an InferenceData named as the NUTS posterior, memmaps, restarts."""

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from latentmix import ConjugatePrior, VBGaussianMixture
from latentmix.em.fit import ConvergenceWarning
from latentmix.params import COVARIANCE_TYPES, MixtureParams
from latentmix.vb.predictive import sample_posterior_arrays

rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(-3, 1, (80, 2)), rng.normal(3, 0.7, (120, 2))])
FAST = {"n_init": 2, "tol": 1e-8}


# --- scikit-learn's own checks ----------------------------------------------------------------

# EMGaussianMixture's decisions (tests/em/test_sklearn_api.py), not defects. Of its three
# weight checks only this one fails here: with a proper prior the other two are well posed.
EXPECTED_FAILED_CHECKS = {
    "check_fit1d": (
        "a 1-D array is one feature (shape (n,) is read as (n, 1)), as documented in "
        "latentmix.validation.check_data; scikit-learn wants an error"
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "27 rows for 30 columns: no data-scaled default prior exists there (and starts are "
        "drawn from the rows whatever their weights); integer weights equal repeated rows "
        "from the same start is tested in test_integer_weights_are_rows_repeated"
    ),
}


@parametrize_with_checks(
    [VBGaussianMixture(2, random_state=0, n_init=2, tol=1e-6, max_iter=1000)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_and_grid_search():
    vb = VBGaussianMixture(2, random_state=0, **FAST)
    assert clone(vb).get_params() == vb.get_params()
    search = GridSearchCV(vb, {"n_components": [1, 2, 3]}, cv=3).fit(X)
    assert search.best_params_["n_components"] >= 2


# --- settings and errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prior": None}, "prior=None has no posterior"),
        ({"prior": "flat"}, "prior must be 'default' or a ConjugatePrior"),
        ({"covariance_type": "VVV"}, "covariance_type must be one of"),
        ({"n_init": 0}, "n_init must be a whole number >= 1"),
        ({"max_iter": -1}, "max_iter must be a whole number >= 0"),
        ({"tol": -1.0}, "tol must be a number >= 0"),
        ({"init": "kmeans"}, "init must be one of"),
        ({"init": np.ones((200, 3)) / 3}, r"shape \(n_samples, n_components\) = \(200, 2\)"),
        ({"init": np.ones((200, 2))}, "must sum to 1 in every row"),
        ({"init": np.full((200, 2), np.nan)}, "finite and nonnegative"),
        ({"n_components": 0}, "n_components must be at least 1"),
    ],
)
def test_bad_settings_name_the_problem(kwargs, match):
    settings = {"n_components": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        VBGaussianMixture(**settings).fit(X)


def test_a_prior_of_another_shape_is_refused():
    prior = ConjugatePrior.default(X, 2, "diag")
    with pytest.raises(ValueError, match="a 'full' prior needs scale of shape"):
        VBGaussianMixture(2, prior=prior).fit(X)


def test_not_fitted_and_wrong_width():
    vb = VBGaussianMixture(2)
    with pytest.raises(NotFittedError, match="call fit"):
        vb.predict(X)
    vb.set_params(random_state=0, **FAST).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but VBGaussianMixture is expecting 2"):
        vb.score_samples(np.ones((4, 3)))


def test_max_iter_reached_warns():
    with pytest.warns(ConvergenceWarning, match="raise max_iter or tol"):
        VBGaussianMixture(2, random_state=0, n_init=1, tol=0.0, max_iter=8).fit(X)


# --- fitted attributes -------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fitted_attributes(covariance_type):
    vb = VBGaussianMixture(2, covariance_type=covariance_type, random_state=0, **FAST).fit(X)
    post = vb.posterior_
    assert vb.weights_ == pytest.approx(
        post.weight_concentration / post.weight_concentration.sum()
    )
    np.testing.assert_array_equal(vb.means_, post.mean)
    assert vb.params_.covariance_type == covariance_type
    assert vb.elbo_ == vb.elbo_history_[-1]
    assert np.all(np.diff(vb.elbo_history_) >= -1e-10 * abs(vb.elbo_))
    assert vb.converged_
    assert len(vb.restarts_) == 2 and vb.restarts_[vb.best_restart_]["elbo"] == vb.elbo_
    # The two clusters, in some order.
    assert sorted(vb.means_[:, 0].round(0)) == [-3.0, 3.0]
    # predict_proba is a distribution over components; predict is its argmax.
    proba = vb.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(vb.predict(X), proba.argmax(axis=1))
    assert vb.score(X) == pytest.approx(vb.score_samples(X).mean())


def test_more_restarts_never_give_a_lower_elbo():
    elbos = [
        VBGaussianMixture(3, random_state=1, n_init=k, tol=1e-8).fit(X).elbo_ for k in (1, 2, 4)
    ]
    assert elbos[0] <= elbos[1] <= elbos[2]


def test_a_memmap_gives_the_fit_in_memory(tmp_path):
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    a = VBGaussianMixture(2, random_state=0, **FAST).fit(X)
    b = VBGaussianMixture(2, random_state=0, **FAST).fit(mm)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-12)
    assert b.elbo_ == pytest.approx(a.elbo_, rel=1e-12)


def test_a_dask_array_gives_the_fit_in_memory():
    import dask.array as da

    big = np.concatenate([X] * 50)  # 10000 rows in 4 chunks
    settings = {"random_state": 0, "n_init": 2, "tol": 1e-8}
    a = VBGaussianMixture(2, **settings).fit(big)
    b = VBGaussianMixture(2, scheduler="threads", **settings).fit(da.from_array(big, (2500, 2)))
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-11)
    assert b.elbo_ == pytest.approx(a.elbo_, rel=1e-12)
    dask_X = da.from_array(X, (50, 2))
    with pytest.raises(ValueError, match="sample_weight needs the data in memory"):
        VBGaussianMixture(2).fit(dask_X, sample_weight=np.ones(X.shape[0]))
    with pytest.raises(ValueError, match="starting responsibilities need the data in memory"):
        VBGaussianMixture(2, init=np.full((X.shape[0], 2), 0.5)).fit(dask_X)


def test_blocks_and_threads_do_not_change_the_result():
    from latentmix.vb.fit import VBOptions, run_vb

    big = np.concatenate([X] * 60)  # 12000 rows: two blocks of 8192
    resp = np.random.default_rng(1).dirichlet(np.ones(2), size=big.shape[0])
    prior = ConjugatePrior.default(big, 2)
    one = run_vb(big, resp, VBOptions(prior, tol=0.0, max_iter=5, block_rows=10**6))
    many = run_vb(big, resp, VBOptions(prior, tol=0.0, max_iter=5, block_rows=1000))
    np.testing.assert_allclose(many.posterior.scale, one.posterior.scale, rtol=1e-10)
    assert many.elbo == pytest.approx(one.elbo, rel=1e-11)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "tied_spherical"])
def test_integer_weights_are_rows_repeated(covariance_type):
    counts = np.random.default_rng(2).integers(0, 4, size=X.shape[0])
    start = VBGaussianMixture(2, covariance_type=covariance_type, random_state=0, n_init=1)
    start = start.fit(X).params_
    settings = {"covariance_type": covariance_type, "init": start, "tol": 0.0, "max_iter": 20}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol = 0
        weighted = VBGaussianMixture(2, **settings).fit(X, sample_weight=counts)
        repeated = VBGaussianMixture(2, **settings).fit(np.repeat(X, counts, axis=0))
    # prior="default" is built from the weighted moments: the repeated rows' prior.
    np.testing.assert_allclose(weighted.prior_.scale, repeated.prior_.scale, rtol=1e-12)
    np.testing.assert_allclose(weighted.elbo_history_, repeated.elbo_history_, rtol=1e-10)
    for a, b in zip(weighted.posterior_[:5], repeated.posterior_[:5], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", ["tied", "diag"])
def test_weights_with_starting_responsibilities(covariance_type):
    from latentmix.vb.fit import VBOptions, run_vb

    counts = np.random.default_rng(3).integers(1, 4, size=X.shape[0])
    resp = np.random.default_rng(4).dirichlet(np.ones(2), size=X.shape[0])
    prior = ConjugatePrior.default(X, 2, covariance_type)
    options = VBOptions(prior, covariance_type, tol=0.0, max_iter=3)
    weighted = run_vb(X, resp, options, sample_weight=counts.astype(float))
    repeated = run_vb(np.repeat(X, counts, axis=0), np.repeat(resp, counts, axis=0), options)
    np.testing.assert_allclose(weighted.elbo_history, repeated.elbo_history, rtol=1e-10)
    np.testing.assert_allclose(weighted.posterior.scale, repeated.posterior.scale, rtol=1e-10)


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="sample_weight"):
        VBGaussianMixture(2).fit(X, sample_weight=-np.ones(X.shape[0]))


def test_a_mixture_start_is_one_run():
    start = MixtureParams(
        np.array([0.5, 0.5]), np.array([[-1.0, -1.0], [1.0, 1.0]]), np.stack([np.eye(2)] * 2)
    )
    vb = VBGaussianMixture(2, init=start, tol=1e-8).fit(X)
    assert len(vb.restarts_) == 1
    assert vb.means_[0, 0] < 0 < vb.means_[1, 0]


def test_small_concentration_empties_superfluous_components():
    # scikit-learn's route to K: many components, a small Dirichlet concentration. The
    # default scale shrinks with K (var / K^(2/d)); at K = 6 it expects six small clusters
    # and finds them, so the scale is K = 2's.
    prior = ConjugatePrior.default(X, 2)
    prior = ConjugatePrior(
        1e-3, prior.mean, prior.mean_precision, prior.degrees_of_freedom, prior.scale
    )
    vb = VBGaussianMixture(6, prior=prior, random_state=0, n_init=2, tol=1e-8).fit(X)
    assert (vb.weights_ > 0.01).sum() == 2


# --- the predictive ----------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_predictive_is_the_mean_density_over_q(covariance_type):
    """A Monte Carlo average of the mixture density over draws of q is the Student-t
    predictive, within its Monte Carlo error."""
    Y = X[::8]  # a few rows, many draws
    few = Y[:10]
    vb = VBGaussianMixture(2, covariance_type=covariance_type, random_state=0, **FAST)
    vb.fit(Y)
    S = 4000
    weights, means, covariances = sample_posterior_arrays(vb.posterior_, S, 3)
    from latentmix.params import full_covariances

    full = full_covariances(covariances, covariance_type, 2, 2)
    dens = np.zeros((S, few.shape[0]))
    for k in range(2):
        diff = few[None] - means[:, k, None]
        chol = np.linalg.cholesky(full[:, k])
        z = np.linalg.solve(chol, diff.transpose(0, 2, 1))
        log_det = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        logn = -0.5 * (2 * np.log(2 * np.pi) + log_det[:, None] + (z**2).sum(axis=1))
        dens += weights[:, k, None] * np.exp(logn)
    mc = dens.mean(axis=0)
    se = dens.std(axis=0, ddof=1) / np.sqrt(S)
    exact = np.exp(vb.score_samples(few))
    assert np.all(np.abs(mc - exact) < 5 * se + 1e-12)


def test_full_predictive_is_scipy_multivariate_t():
    vb = VBGaussianMixture(2, random_state=0, **FAST).fit(X)
    post = vb.posterior_
    d = 2
    dof = post.degrees_of_freedom - d + 1
    kappa = post.mean_precision
    w = post.weight_concentration / post.weight_concentration.sum()
    expected = sum(
        w[k]
        * stats.multivariate_t.pdf(
            X[:20], post.mean[k], post.scale[k] * (kappa[k] + 1) / (kappa[k] * dof[k]), dof[k]
        )
        for k in range(2)
    )
    np.testing.assert_allclose(vb.score_samples(X[:20]), np.log(expected), rtol=1e-10)


# --- draws ------------------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_draws_have_the_nuts_posterior_names_dims_and_coords(covariance_type):
    from latentmix.bayes.model import build_model  # builds the PyMC model; compiles nothing

    vb = VBGaussianMixture(2, covariance_type=covariance_type, random_state=0, **FAST).fit(X)
    idata = vb.sample_posterior(50, random_state=0)
    model = build_model(X, 2, covariance_type)
    post = idata.posterior
    assert set(post.data_vars) == {"weights", "means", "covariances"}
    for name in post.data_vars:
        assert post[name].dims == ("chain", "draw", *model.named_vars_to_dims.get(name, ()))
        for dim in post[name].dims[2:]:
            np.testing.assert_array_equal(post[dim].values, np.asarray(model.coords[dim]))
    assert post.sizes["chain"] == 1 and post.sizes["draw"] == 50
    assert post.attrs["source"] == "vb"


@pytest.mark.parametrize("covariance_type", ["full", "tied_spherical", "diag"])
def test_draws_have_the_moments_of_q(covariance_type):
    vb = VBGaussianMixture(2, covariance_type=covariance_type, random_state=0, **FAST).fit(X)
    post = vb.sample_posterior(20000, random_state=1).posterior
    mean = {name: post[name].mean(("chain", "draw")).values for name in post.data_vars}
    np.testing.assert_allclose(mean["weights"], vb.weights_, atol=0.01)
    np.testing.assert_allclose(mean["means"], vb.means_, atol=0.02)
    np.testing.assert_allclose(mean["covariances"], vb.covariances_, rtol=0.02, atol=0.003)


def test_draws_are_reproducible_and_named_by_dataframe_columns():
    pd = pytest.importorskip("pandas")
    vb = VBGaussianMixture(2, random_state=0, **FAST).fit(pd.DataFrame(X, columns=["a", "b"]))
    a = vb.sample_posterior(10, random_state=5)
    b = vb.sample_posterior(10, random_state=5)
    np.testing.assert_array_equal(a.posterior["means"], b.posterior["means"])
    assert list(a.posterior["feature"].values) == ["a", "b"]
    with pytest.raises(ValueError, match="n_draws must be a whole number >= 1"):
        vb.sample_posterior(0)


def test_fit_predict_matches_predict():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vb = VBGaussianMixture(2, random_state=0, **FAST)
        labels = vb.fit_predict(X)
    np.testing.assert_array_equal(labels, vb.predict(X))
