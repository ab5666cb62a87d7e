"""Spurious local maximisers: the rule, the estimator's warning, and no false alarms."""

import warnings

import numpy as np
import pytest

from latentmix import EMGaussianMixture
from latentmix.datasets import load
from latentmix.em.spurious import (
    SpuriousSolutionWarning,
    data_variances,
    relative_generalised_variance,
    spurious_components,
    warning_message,
)
from latentmix.params import COVARIANCE_TYPES, SHARED_TYPES, MixtureParams


def _one_d(weights, variances):
    weights = np.asarray(weights, dtype=float)
    means = np.arange(len(weights), dtype=float)[:, None]
    covariances = np.asarray(variances, dtype=float)[:, None, None]
    return MixtureParams(weights, means, covariances, "full")


def test_relative_generalised_variance_is_the_naive_determinant_ratio(random_params):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3)) * [1.0, 10.0, 0.1]
    for covariance_type in ("full", "diag", "spherical"):
        params = random_params(rng, covariance_type)
        cov = params.full_covariances()
        naive = [
            (np.linalg.det(c) / np.prod(X.var(axis=0))) ** (1 / 3) for c in cov
        ]  # det of the scaled matrix = det / product of the variances
        got = relative_generalised_variance(params, X.var(axis=0))
        np.testing.assert_allclose(got, naive, rtol=1e-10)


def test_relative_generalised_variance_does_not_depend_on_units():
    params = MixtureParams(
        np.array([0.5, 0.5]),
        np.zeros((2, 2)),
        np.array([[[1.0, 0.3], [0.3, 2.0]], [[0.01, 0.0], [0.0, 0.02]]]),
        "full",
    )
    units = np.array([1000.0, 0.001])
    rescaled = params._replace(
        means=params.means * units, covariances=params.covariances * np.outer(units, units)
    )
    variance = np.array([3.0, 4.0])
    np.testing.assert_allclose(
        relative_generalised_variance(rescaled, variance * units**2),
        relative_generalised_variance(params, variance),
        rtol=1e-12,
    )


def test_few_points_and_a_tiny_variance_both_needed():
    # 1-D, n = 100, data variance 1: few points means w n < 2 (d + 1) = 4.
    variance = np.array([1.0])
    cases = {
        # (weight of component 0, its variance): flagged?
        (0.03, 1e-5): True,  # 3 points, tiny: spurious
        (0.03, 0.05): False,  # 3 points, a real spread (galaxies' three-galaxy cluster)
        (0.30, 1e-5): False,  # 30 points on a spike: not a few points
        (0.05, 1e-5): False,  # 5 points: more than 2 (d + 1)
    }
    for (w, v), flagged in cases.items():
        params = _one_d([w, 1 - w], [v, 1.0])
        got = spurious_components(params, feature_variance=variance, n_samples=100)
        assert list(got) == ([0] if flagged else []), (w, v)


def test_thresholds_can_be_changed():
    params = _one_d([0.05, 0.95], [1e-5, 1.0])
    kwargs = {"feature_variance": np.array([1.0]), "n_samples": 100}
    assert list(spurious_components(params, **kwargs)) == []
    assert list(spurious_components(params, min_points_factor=3, **kwargs)) == [0]
    assert (
        list(spurious_components(params, min_variance_ratio=1e-6, min_points_factor=3, **kwargs))
        == []
    )


def test_the_data_give_the_variances_and_the_count():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 1))
    params = _one_d([0.03, 0.97], [1e-6, 1.0])
    assert list(spurious_components(params, X)) == [0]
    assert list(spurious_components(params, X[:, 0])) == [0]  # 1-D is one feature
    with pytest.raises(ValueError, match="needs the data X"):
        spurious_components(params, feature_variance=np.ones(1))


@pytest.mark.parametrize("covariance_type", SHARED_TYPES)
def test_shared_covariances_are_never_flagged(covariance_type):
    # A shared covariance cannot shrink onto one component's points: bounded likelihood.
    tiny = {"tied": 1e-9 * np.eye(3), "tied_diag": np.full(3, 1e-9), "tied_spherical": 1e-9}
    params = MixtureParams(
        np.array([1e-3, 1e-3, 0.998]),
        np.zeros((3, 3)),
        np.asarray(tiny[covariance_type]),
        covariance_type,
    )
    assert spurious_components(params, feature_variance=np.ones(3), n_samples=100).size == 0


def test_message_points_an_mle_to_the_map_and_a_map_to_its_prior():
    params = _one_d([0.03, 0.97], [3.2e-5, 1.0])
    mle = warning_message(params, [0], 100, np.array([1.0]), is_map=False)
    assert mle.startswith("component 1 rests on 3 effective points with a generalised variance")
    assert "prior='default'" in mle and "--prior default" in mle and "McLachlan & Peel" in mle
    map_ = warning_message(params, [0], 100, np.array([1.0]), is_map=True)
    assert "larger scale" in map_ and "prior='default'" not in map_


# --- through the estimator -------------------------------------------------------------------


def test_galaxies_k8_mle_warns_and_names_the_components():
    X = load("galaxies").data
    with pytest.warns(SpuriousSolutionWarning, match="effective points") as caught:
        gm = EMGaussianMixture(8, random_state=0).fit(X)
    flagged = gm.spurious_components_
    assert flagged.size >= 1
    n_k = gm.weights_ * len(X)
    assert np.all(n_k[flagged] < 4)
    assert np.all(gm.covariances_[flagged, 0, 0] < 1e-3 * X.var())
    # The example: a component on 3 points with variance 6.5e-4.
    assert np.any(np.isclose(gm.covariances_[flagged, 0, 0], 6.5e-4, rtol=0.05))
    assert "prior='default'" in str(caught[0].message)


@pytest.mark.parametrize(
    ("name", "K"), [("galaxies", 3), ("galaxies", 4), ("faithful", 2), ("iris", 3), ("acidity", 2)]
)
@pytest.mark.parametrize("prior", [None, "default"])
def test_no_false_alarm_on_the_classic_fits(name, K, prior):
    X = load(name).data
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpuriousSolutionWarning)
        gm = EMGaussianMixture(K, prior=prior, random_state=0).fit(X)
    assert gm.spurious_components_.size == 0


def test_the_map_has_no_spurious_component_where_the_mle_has():
    X = load("galaxies").data
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpuriousSolutionWarning)
        gm = EMGaussianMixture(8, prior="default", random_state=0).fit(X)
    assert gm.spurious_components_.size == 0


def test_every_covariance_type_is_checked_without_error():
    X = load("iris").data
    for covariance_type in COVARIANCE_TYPES:
        gm = EMGaussianMixture(3, covariance_type=covariance_type, random_state=0, n_init=2)
        assert gm.fit(X).spurious_components_.size == 0


def test_integer_weights_are_rows_repeated():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 2))
    counts = rng.integers(0, 4, size=40)
    repeated = np.repeat(X, counts, axis=0)
    np.testing.assert_allclose(data_variances(X, counts), repeated.var(axis=0), rtol=1e-12)
    params = MixtureParams(
        np.array([3.0, counts.sum() - 3.0]) / counts.sum(),
        np.zeros((2, 2)),
        np.array([1e-6 * np.eye(2), np.eye(2)]),
        "full",
    )
    assert list(spurious_components(params, X, sample_weight=counts)) == [0]
    assert list(spurious_components(params, repeated)) == [0]


def test_missing_cells_are_left_out_of_the_variances():
    X = np.array([[0.0, 1.0], [2.0, np.nan], [4.0, 3.0]])
    np.testing.assert_allclose(data_variances(X), [np.var([0, 2, 4]), np.var([1, 3])])
