"""A posterior fitted to real-world data: a DataFrame with missing cells and weights.

One nutpie run (2 chains x 100 draws) of tied_spherical, whose one shared variance is a 0-d
posterior variable, on faithful with 15% of the cells deleted and integer weights: the
column names become feature_names_in_ and the feature coordinates, the groups keep the
NaN cells and the weights, the reference is the EM MAP of the same weighted incomplete
data, and the posterior predictive of the missing cells sits around EM's imputation.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from latentmix import EMGaussianMixture, PyMCGaussianMixture
from latentmix.bayes.diagnostics import SamplingWarning
from latentmix.datasets import load

COLUMNS = ["eruptions", "waiting"]


def _data():
    X = load("faithful").data.copy()
    rng = np.random.default_rng(0)
    gone = rng.uniform(size=X.shape) < 0.15
    gone[gone.all(axis=1), 0] = False
    X[gone] = np.nan
    return pd.DataFrame(X, columns=COLUMNS), rng.integers(1, 3, size=X.shape[0]).astype(float)


FRAME, WEIGHTS = _data()


@pytest.fixture(scope="module")
def fitted():
    gm = PyMCGaussianMixture(2, covariance_type="tied_spherical", missing="ignore")
    with warnings.catch_warnings():
        # 100 draws are too few for the diagnostics' thresholds; that is not under test.
        warnings.simplefilter("ignore", SamplingWarning)
        gm.fit(FRAME, draws=100, tune=100, chains=2, random_state=0, sample_weight=WEIGHTS)
    return gm


@pytest.mark.compiles
def test_names_missing_cells_and_weights_are_kept(fitted):
    gm = fitted
    assert list(gm.feature_names_in_) == COLUMNS
    idata = gm.idata_
    assert list(idata.posterior["feature"].values) == COLUMNS
    assert idata.posterior["covariances"].dims == ("chain", "draw")
    x = idata.observed_data["x"].values
    np.testing.assert_array_equal(np.isnan(x), FRAME.isna().to_numpy())
    np.testing.assert_array_equal(x[~np.isnan(x)], FRAME.to_numpy()[~np.isnan(x)])
    np.testing.assert_array_equal(idata.constant_data["sample_weight"].values, WEIGHTS)
    assert gm.n_missing_ == int(FRAME.isna().sum().sum()) > 0


@pytest.mark.compiles
def test_reference_is_the_em_map_of_the_same_weighted_incomplete_data(fitted):
    em = EMGaussianMixture(
        2, covariance_type="tied_spherical", prior="default", missing="ignore", random_state=0
    ).fit(FRAME, sample_weight=WEIGHTS)
    ref = fitted.idata_.reference
    assert ref.attrs["source"] == "em_map"
    np.testing.assert_allclose(ref.attrs["objective"], em.objective_, rtol=1e-10)
    np.testing.assert_allclose(ref["means"].values, em.means_, rtol=1e-8)
    np.testing.assert_array_equal(fitted.prior_.scale, em.prior_.scale)
    # the posterior mean is near the MAP (a few posterior sd at most)
    post = fitted.idata_.posterior
    sd = post["means"].std(("chain", "draw")).values
    assert np.all(np.abs(fitted.posterior_mean_.means - em.means_) < 3 * sd)


@pytest.mark.compiles
def test_predictive_of_missing_cells_sits_around_the_em_imputation(fitted):
    em = EMGaussianMixture(
        2, covariance_type="tied_spherical", prior="default", missing="ignore", random_state=0
    ).fit(FRAME, sample_weight=WEIGHTS)
    result = fitted.predict_missing(random_state=1)
    X = FRAME.to_numpy()
    rows = np.flatnonzero(np.isnan(X).any(axis=1))
    np.testing.assert_array_equal(result.rows, rows)
    assert result.draws.shape == (200, rows.size, 2)
    mean, sd = em.impute(FRAME, return_std=True)
    cells = result.missing
    drawn = result.draws[:, cells]
    # 200 draws: the mean within half a conditional sd, the spread no narrower than EM's
    # by more than sampling noise (it adds the parameters' uncertainty).
    assert np.all(np.abs(drawn.mean(axis=0) - mean[rows][cells]) < 0.5 * sd[rows][cells])
    assert np.median(drawn.std(axis=0) / sd[rows][cells]) > 0.9
    # The same from a DataFrame with the fit's columns; other columns are refused.
    again = fitted.predict_missing(FRAME.iloc[rows[:3]], random_state=1)
    assert again.draws.shape == (200, 3, 2)
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict_missing(FRAME.rename(columns={"waiting": "wait"}))


def test_a_data_frame_names_the_feature_coordinates_without_sampling():
    gm = PyMCGaussianMixture(2, missing="ignore")
    assert list(gm.build_model(FRAME).coords["feature"]) == COLUMNS
    # names given explicitly win over the columns
    model = gm.build_model(FRAME, feature_names=["a", "b"])
    assert list(model.coords["feature"]) == ["a", "b"]
    assert list(gm.build_model(FRAME.to_numpy()).coords["feature"]) == ["x1", "x2"]


def test_predict_missing_before_fit_is_refused():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PyMCGaussianMixture(2).predict_missing(FRAME)
