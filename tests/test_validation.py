"""Every bad input to the estimator gets a ValueError that names the problem."""

import numpy as np
import pytest

from latentmix import ConjugatePrior, EMGaussianMixture, MixtureParams
from latentmix.validation import check_data, check_n_components, check_random_state

X = np.random.default_rng(0).normal(size=(60, 2)) + np.repeat([[0.0, 0.0], [6.0, 0.0]], 30, axis=0)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            np.array([[1.0, np.nan], [2.0, 3.0]] * 5),
            r"NaN or infinite .* \(NaN\) at row 0, column 1",
        ),
        (np.array([[1.0, 2.0], [np.inf, 3.0]] * 5), r"\(infinite\) at row 1, column 0"),
        (np.zeros((4, 3, 2)), "must be 2-D"),
        (np.zeros((0, 2)), "X is empty"),
        ([["a", "b"], ["c", "d"]], "X must be numeric"),
        (np.ones((2, 2)), "2 samples but n_components=3"),
    ],
)
def test_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        EMGaussianMixture(3).fit(data)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 0}, "n_components must be at least 1; got 0"),
        ({"n_components": 2.5}, "n_components must be a whole number"),
        ({"n_components": True}, "n_components must be a whole number"),
        ({"n_components": 2, "covariance_type": "banana"}, "covariance_type must be one of"),
        ({"n_components": 2, "prior": "flat"}, "prior must be None .* got 'flat'"),
        ({"n_components": 2, "prior": 3.0}, "prior must be None"),
        ({"n_components": 2, "init": "kmeans"}, "init must be one of k-means\\+\\+, random"),
        ({"n_components": 2, "n_init": 0}, "n_init must be a whole number >= 1; got 0"),
        ({"n_components": 2, "max_iter": -1}, "max_iter must be a whole number >= 0"),
        ({"n_components": 2, "tol": -1e-3}, "tol must be a number >= 0"),
        ({"n_components": 2, "reg_covar": float("nan")}, "reg_covar must be a number >= 0"),
        ({"n_components": 2, "random_state": "seed"}, "random_state must be None, an int"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EMGaussianMixture(**kwargs).fit(X)


def test_prior_that_does_not_fit_the_data():
    prior = ConjugatePrior(1.0, np.zeros(3), 0.01, 5.0, np.eye(3))
    with pytest.raises(ValueError, match="prior mean has length 3 but the data have 2"):
        EMGaussianMixture(2, prior=prior).fit(X)
    diag_prior = ConjugatePrior.default(X, 2, "diag")
    with pytest.raises(ValueError, match="a 'full' prior needs scale of shape"):
        EMGaussianMixture(2, prior=diag_prior).fit(X)
    sparse = ConjugatePrior(0.5, np.zeros(2), 0.01, 4.0, np.eye(2))
    with pytest.raises(ValueError, match=r"weight_concentration 0\.5 is below 1"):
        EMGaussianMixture(2, prior=sparse).fit(X)


def test_bad_starting_point():
    good = MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match="init has covariance_type 'full' but the model is"):
        EMGaussianMixture(2, covariance_type="diag", init=good).fit(X)
    with pytest.raises(ValueError, match=r"init.weights has shape \(2,\); expected \(3,\)"):
        EMGaussianMixture(3, init=good).fit(X)
    bad_weights = good._replace(weights=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"init\.weights must be positive and sum to 1"):
        EMGaussianMixture(2, init=bad_weights).fit(X)


def test_start_weights_that_do_not_sum_to_one_are_an_error():
    """Weights of 2:3 were once renormalised silently; now the user is told to divide."""
    start = MixtureParams(np.array([2.0, 3.0]), np.zeros((2, 2)), np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match="Divide by their sum"):
        EMGaussianMixture(2, init=start).fit(X)


def test_start_covariance_not_positive_definite_names_the_start():
    cov = np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])])
    start = MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), cov)
    with pytest.raises(ValueError, match=r"init\.covariances of component 1 is not positive"):
        EMGaussianMixture(2, init=start).fit(X)


def test_predict_time_errors():
    gm = EMGaussianMixture(2)
    with pytest.raises(ValueError, match="not fitted yet"):
        gm.predict(X)
    gm.fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but EMGaussianMixture is expecting 2"):
        gm.predict(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="X has 1 features, but EMGaussianMixture is expecting 2"):
        gm.score_samples(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        gm.predict_proba(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="n_samples must be a whole number >= 1"):
        gm.sample(0)


def test_validation_helpers():
    assert check_data([1.0, 2.0, 3.0]).shape == (3, 1)
    assert check_n_components(np.int64(3)) == 3
    rng = np.random.default_rng(1)
    assert check_random_state(rng) is rng
    assert isinstance(check_random_state(None), np.random.Generator)


def test_random_state_accepts_a_legacy_random_state():
    a = check_random_state(np.random.RandomState(7)).normal(size=3)
    b = check_random_state(np.random.RandomState(7)).normal(size=3)
    np.testing.assert_array_equal(a, b)  # a function of the RandomState's state
    rs = np.random.RandomState(7)
    first, second = check_random_state(rs), check_random_state(rs)
    assert first.normal() != second.normal()  # the RandomState moves on
    fit = EMGaussianMixture(2, n_init=1, random_state=np.random.RandomState(0)).fit(X)
    assert fit.converged_


@pytest.mark.parametrize("bad", ["0", 1.5, True, [1]])
def test_random_state_rejects_other_values(bad):
    with pytest.raises(ValueError, match="random_state must be None, an int, a numpy Generator"):
        check_random_state(bad)


def test_one_sample_is_refused_up_front():
    for prior in (None, "default"):
        with pytest.raises(ValueError, match="X has 1 sample"):
            EMGaussianMixture(1, prior=prior).fit(np.ones((1, 2)))


def test_a_one_d_array_at_predict_time_says_it_is_one_feature():
    gm = EMGaussianMixture(2, n_init=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"A 1-D array is one feature\. Reshape your data"):
        gm.predict(np.zeros(2))


# --- extreme scales ---------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_an_extreme_scale_is_said_with_the_fix(scale):
    from latentmix.datasets import load

    X = load("faithful").data * scale
    for prior in (None, "default"):
        with pytest.raises(ValueError, match="the scale of the data is extreme") as err:
            EMGaussianMixture(2, prior=prior, random_state=0).fit(X)
        message = str(err.value)
        assert "column 0" in message and "StandardScaler" in message
        assert ("underflow" if scale < 1 else "overflow") in message
        assert "not a constant or collinear column" in message


def test_an_extreme_scale_names_the_data_frame_column():
    import pandas as pd

    frame = pd.DataFrame({"a": np.arange(10.0), "big": np.arange(10.0) * 1e200})
    with pytest.raises(ValueError, match=r"column 'big' has values of order 9e\+200"):
        EMGaussianMixture(1).fit(frame)


@pytest.mark.parametrize("scale", [1e-140, 1e140])
def test_large_and_small_scales_within_float64_fit_as_rescaled(scale):
    from latentmix.datasets import load

    X = load("faithful").data
    a = EMGaussianMixture(2, random_state=0, n_init=2).fit(X)
    b = EMGaussianMixture(2, random_state=0, n_init=2).fit(X * scale)
    # Not to round-off: tol is relative to the objective, which the scale shifts by
    # n d log(scale), so the two runs stop after different iterations.
    np.testing.assert_allclose(b.means_ / scale, a.means_, rtol=1e-4)
    assert b.log_likelihood_ - a.log_likelihood_ == pytest.approx(
        -len(X) * 2 * np.log(scale), rel=1e-6
    )


def test_a_constant_column_is_not_called_an_extreme_scale():
    from latentmix.validation import check_scale

    check_scale(np.array([[1e-300, 0.0], [1e-300, 1.0]]))  # constant, not tiny: no error


# --- masked arrays ----------------------------------------------------------------------------


def test_a_masked_array_is_never_read_under_its_mask():
    X = np.ma.masked_array(np.random.default_rng(0).normal(size=(10, 2)), mask=False)
    X.mask[3, 1] = True
    with pytest.raises(ValueError, match=r"masked array with 1 masked cell.*missing='ignore'"):
        EMGaussianMixture(1).fit(X)
    with pytest.raises(ValueError, match=r"np\.ma\.filled"):
        check_data(X)
    # With missing="ignore" a masked cell is a missing cell.
    np.testing.assert_array_equal(np.isnan(check_data(X, missing="ignore")), X.mask)
    # One seed for both: EM on incomplete rows iterates, and from different starts two fits
    # agree only to the tolerance.
    honoured = EMGaussianMixture(1, missing="ignore", random_state=0).fit(X)
    as_nan = EMGaussianMixture(1, missing="ignore", random_state=0).fit(np.ma.filled(X, np.nan))
    np.testing.assert_allclose(honoured.means_, as_nan.means_)
    # Nothing masked: the data as they are.
    np.testing.assert_array_equal(check_data(np.ma.masked_array(X.data)), X.data)
