"""Missing cells in the PyMC model: each row's marginal density of its observed coordinates.

The model's log-density without Jacobian equals EM's observed-data objective at the EM MAP
(EMGaussianMixture(missing="ignore"), latentmix.em.missing), and a direct per-row
computation with scipy.stats.multivariate_normal on the observed coordinates at any point;
find_MAP reaches the EM MAP. One compiled log-density per covariance type (module fixture),
two find_MAP runs. The posterior predictive of missing cells is checked against EM's
conditional mean and sd when every draw is the MAP.
"""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from latentmix import EMGaussianMixture, MixtureParams, PyMCGaussianMixture
from latentmix.bayes.model import (
    MissingLayout,
    build_model,
    missing_layout,
    mixture_logp,
    params_to_point,
)
from latentmix.bayes.predictive import predict_missing
from latentmix.bayes.spec import resolve_prior
from latentmix.datasets import synthetic_3d
from latentmix.em.missing import default_prior, missingness_patterns
from latentmix.params import COVARIANCE_TYPES, PARAMETER_NAMES
from latentmix.priors import log_prior
from latentmix.threads import single_threaded_blas

K = 3
COMPLETE = synthetic_3d().data


def _delete_cells(X, fraction, seed):
    """Cells deleted completely at random; no row left without an observed cell."""
    rng = np.random.default_rng(seed)
    X = X.copy()
    gone = rng.uniform(size=X.shape) < fraction
    gone[gone.all(axis=1), 0] = False
    X[gone] = np.nan
    return X


X = _delete_cells(COMPLETE, 0.2, seed=4)
WEIGHTS = np.random.default_rng(5).uniform(0.2, 2.0, size=X.shape[0])


def _direct_objective(X, params, prior, sample_weight):
    """sum_i w_i log sum_k pi_k N(x_io | mu_ko, Sigma_koo) + log prior, row by row (scipy)."""
    full = params.full_covariances()
    total = 0.0
    for x, w in zip(X, sample_weight, strict=True):
        o = ~np.isnan(x)
        terms = [
            np.log(params.weights[k])
            + multivariate_normal(params.means[k, o], full[k][np.ix_(o, o)]).logpdf(x[o])
            for k in range(params.n_components)
        ]
        total += w * logsumexp(terms)
    return total + log_prior(params, prior)


@pytest.fixture(scope="module")
def em_maps():
    """EM MAP with missing cells and weights, per covariance type, and the model's logp."""
    out = {}
    for covariance_type in COVARIANCE_TYPES:
        em = EMGaussianMixture(
            K,
            covariance_type=covariance_type,
            prior="default",
            missing="ignore",
            n_init=2,
            random_state=0,
        ).fit(X, sample_weight=WEIGHTS)
        out[covariance_type] = em
    return out


@pytest.fixture(scope="module")
def compiled(em_maps):
    """One compiled log-density (no Jacobian) per covariance type, under the EM prior."""
    out = {}
    with single_threaded_blas():
        for covariance_type, em in em_maps.items():
            model = build_model(
                X, K, covariance_type, em.prior_, sample_weight=WEIGHTS, missing="ignore"
            )
            out[covariance_type] = model, model.compile_logp(jacobian=False)
    return out


@pytest.mark.compiles
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_logp_at_the_em_map_is_the_em_objective_with_missing_cells(
    em_maps, compiled, covariance_type
):
    em = em_maps[covariance_type]
    model, logp = compiled[covariance_type]
    assert em.n_missing_ == int(np.isnan(X).sum()) > 0
    np.testing.assert_allclose(logp(params_to_point(model, em.params_)), em.objective_, rtol=1e-10)


@pytest.mark.compiles
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_logp_anywhere_is_the_per_row_marginal_density(
    em_maps, compiled, covariance_type, random_params
):
    model, logp = compiled[covariance_type]
    params = random_params(np.random.default_rng(11), covariance_type)
    expected = _direct_objective(X, params, em_maps[covariance_type].prior_, WEIGHTS)
    with single_threaded_blas():
        np.testing.assert_allclose(logp(params_to_point(model, params)), expected, rtol=1e-10)


@pytest.mark.compiles
@pytest.mark.parametrize("covariance_type", ["full", "tied_diag"])
def test_complete_data_through_the_missing_path_give_the_complete_density(
    covariance_type, random_params
):
    import pytensor
    import pytensor.tensor as pt

    params = random_params(np.random.default_rng(2), covariance_type)
    everything = MissingLayout(*missingness_patterns(COMPLETE))
    assert everything.patterns.all() and missing_layout(COMPLETE) is None
    arrays = [pt.as_tensor(np.asarray(a, dtype=float)) for a in params[:3]]
    value = pt.as_tensor(COMPLETE)
    both = pytensor.function(
        [],
        [
            mixture_logp(value, *arrays, covariance_type=covariance_type, layout=layout)
            for layout in (None, everything)
        ],
    )
    plain, through_missing = both()
    np.testing.assert_allclose(through_missing, plain, rtol=1e-12)


@pytest.mark.compiles
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_find_map_reaches_the_em_map_with_missing_cells(em_maps, covariance_type):
    em = em_maps[covariance_type]
    # Start at the EM MAP of the complete-case rows: a different point, in the same basin.
    complete_rows = ~np.isnan(X).any(axis=1)
    start = EMGaussianMixture(
        K, covariance_type=covariance_type, prior=em.prior_, init=em.params_
    ).fit(X[complete_rows])
    assert np.abs(start.means_ - em.means_).max() > 1e-2
    found = PyMCGaussianMixture(
        K, covariance_type=covariance_type, prior=em.prior_, missing="ignore"
    ).find_map(X, start=start.params_, sample_weight=WEIGHTS)
    for name in PARAMETER_NAMES:
        expected = getattr(em.params_, name)
        np.testing.assert_allclose(
            getattr(found, name),
            expected,
            rtol=1e-4,
            atol=1e-4 * np.abs(expected).max(),
            err_msg=name,
        )


def test_the_default_prior_is_the_em_default_prior():
    for sample_weight in (None, WEIGHTS):
        ours = resolve_prior(X, K, "full", "default", sample_weight)
        theirs = default_prior(X, K, "full", sample_weight)
        for name in ours.HYPERPARAMETERS:
            np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name))
    em = EMGaussianMixture(K, prior="default", missing="ignore", max_iter=0).fit(X)
    np.testing.assert_array_equal(resolve_prior(X, K, "full", "default").scale, em.prior_.scale)


def test_model_holds_the_cells_as_zero_not_as_free_variables():
    model = build_model(X, K, "diag", missing="ignore")
    assert {rv.name for rv in model.free_RVs} == {"weights", "means", "covariances"}
    observed = model.rvs_to_values[model["x"]].get_value()
    np.testing.assert_array_equal(observed[np.isnan(X)], 0.0)
    np.testing.assert_array_equal(observed[~np.isnan(X)], X[~np.isnan(X)])


def test_bad_missing_data_are_refused_naming_the_fix():
    with pytest.raises(ValueError, match=r"NaN.*row 0.*missing='ignore'"):
        build_model(_first_cell_missing(), K)
    with pytest.raises(ValueError, match="missing='ignore'"):
        PyMCGaussianMixture(K).fit(X, draws=100, chains=2)
    with pytest.raises(ValueError, match="missing='ignore'"):
        PyMCGaussianMixture(K).find_map(X)
    empty = X.copy()
    empty[7] = np.nan
    with pytest.raises(ValueError, match="row 7 of X has every cell missing"):
        build_model(empty, K, missing="ignore")
    with pytest.raises(ValueError, match="row 7 of X has every cell missing"):
        PyMCGaussianMixture(K, missing="ignore").build_model(empty)
    with pytest.raises(ValueError, match=r"missing must be 'error'.*or 'ignore'"):
        PyMCGaussianMixture(K, missing="drop").build_model(X)


def _first_cell_missing():
    Y = COMPLETE.copy()
    Y[0, 1] = np.nan
    return Y


# --- the posterior predictive of missing cells ---------------------------------------------


def _point_mass_idata(params: MixtureParams, n_draws):
    """An InferenceData whose every draw is ``params`` (2 chains)."""
    import arviz as az

    from latentmix.bayes.spec import covariance_dims

    def stack(a):
        return np.broadcast_to(a, (2, n_draws, *np.shape(a))).copy()

    return az.from_dict(
        posterior={name: stack(getattr(params, name)) for name in PARAMETER_NAMES},
        coords={"component": np.arange(params.n_components), "feature": ["a", "b", "c"]},
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": list(covariance_dims(params.covariance_type)),
        },
    )


@pytest.mark.parametrize("covariance_type", ["full", "tied_spherical"])
def test_predictive_at_a_point_mass_is_the_em_conditional_distribution(em_maps, covariance_type):
    em = em_maps[covariance_type]
    idata = _point_mass_idata(em.params_, 10_000)
    result = predict_missing(idata, X, random_state=0)
    rows = np.flatnonzero(np.isnan(X).any(axis=1))
    np.testing.assert_array_equal(result.rows, rows)
    np.testing.assert_array_equal(result.missing, np.isnan(X[rows]))
    assert result.draws.shape == (20_000, rows.size, 3)
    # observed cells are the data in every draw
    observed = ~result.missing
    np.testing.assert_array_equal(
        result.draws[:, observed], np.broadcast_to(X[rows][observed], (20_000, observed.sum()))
    )
    mean, sd = em.impute(X, return_std=True)
    cells = result.missing
    drawn = result.draws[:, cells]
    # Monte Carlo error of a mean over 20 000 draws: 5 standard errors.
    np.testing.assert_array_less(
        np.abs(drawn.mean(axis=0) - mean[rows][cells]), 5 * sd[rows][cells] / np.sqrt(20_000)
    )
    np.testing.assert_allclose(drawn.std(axis=0), sd[rows][cells], rtol=0.05)


def test_predictive_of_one_component_is_the_gaussian_conditional():
    # K = 1: x_m | x_o is exactly N(mu_m + S_mo S_oo^-1 (x_o - mu_o), S_mm - S_mo S_oo^-1 S_om);
    # the explicit inverse is the textbook formula, fine in a test.
    cov = np.array([[2.0, 0.8, 0.3], [0.8, 1.0, -0.2], [0.3, -0.2, 0.5]])
    params = MixtureParams(np.ones(1), np.array([[1.0, -1.0, 2.0]]), cov[None], "full")
    row = np.array([[np.nan, 0.5, np.nan]])
    result = predict_missing(_point_mass_idata(params, 20_000), row, random_state=1)
    o, m = np.array([False, True, False]), np.array([True, False, True])
    B = cov[np.ix_(m, o)] @ np.linalg.inv(cov[np.ix_(o, o)])
    mean = params.means[0, m] + B @ (row[0, o] - params.means[0, o])
    cond = cov[np.ix_(m, m)] - B @ cov[np.ix_(o, m)]
    drawn = result.draws[:, 0][:, m]
    np.testing.assert_array_less(
        np.abs(drawn.mean(axis=0) - mean), 5 * np.sqrt(np.diag(cond) / 40_000)
    )
    np.testing.assert_allclose(np.cov(drawn.T), cond, atol=0.03)


def test_predictive_bad_inputs(em_maps):
    idata = _point_mass_idata(em_maps["full"].params_, 100)
    with pytest.raises(ValueError, match="rows must index the 300 rows"):
        predict_missing(idata, X, rows=[300])
    empty = X.copy()
    empty[3] = np.nan
    with pytest.raises(ValueError, match="row 3 of X has every cell missing"):
        predict_missing(idata, empty, rows=[3])
    with pytest.raises(ValueError, match=r"has shape .* but the posterior has 3 features"):
        predict_missing(idata, X[:, :2])
    with pytest.raises(ValueError, match="needs a posterior with 'weights'"):
        predict_missing(idata.posterior[["weights"]], X)
    # a complete row comes back as it is
    complete_row = int(np.flatnonzero(~np.isnan(X).any(axis=1))[0])
    result = predict_missing(idata, X, rows=[complete_row])
    np.testing.assert_array_equal(result.draws[:, 0], np.broadcast_to(X[complete_row], (200, 3)))
