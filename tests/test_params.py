"""latentmix.params: the one MixtureParams validator, covariance expansion, parameter count."""

import re

import numpy as np
import pytest

from latentmix.params import (
    COVARIANCE_TYPES,
    DIAGONAL_TYPES,
    MCLUST_NAMES,
    PARAMETER_NAMES,
    SHARED_TYPES,
    MixtureParams,
    check_params,
    covariances_shape,
    full_covariances,
    mclust_name,
    n_parameters,
    variances,
)

K, D = 3, 2


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_check_params_accepts_a_proper_mixture(covariance_type, random_params):
    params = random_params(np.random.default_rng(0), covariance_type, K, D)
    as_lists = MixtureParams(*(np.asarray(a).tolist() for a in params[:3]), covariance_type)
    checked = check_params(as_lists, n_components=K, n_features=D)
    for a, b in zip(checked[:3], params[:3], strict=True):
        assert isinstance(a, np.ndarray) and a.dtype == float
        np.testing.assert_array_equal(a, b)
    assert checked.covariance_type == covariance_type


def good():
    return MixtureParams(np.array([0.25, 0.75]), np.zeros((2, 2)), np.stack([np.eye(2)] * 2))


BAD = {
    "not a MixtureParams": (
        (np.ones(2) / 2, np.zeros((2, 2)), np.stack([np.eye(2)] * 2)),
        "start must be a MixtureParams (for example EMGaussianMixture(...).params_); got tuple.",
    ),
    "unknown covariance type": (
        good()._replace(covariance_type="banded"),
        "covariance_type must be one of full, tied, diag, spherical, tied_diag, "
        "tied_spherical; got 'banded'.",
    ),
    "1-D means": (
        good()._replace(means=np.zeros(2)),
        "start.means must be 2-D (K, d); got shape (2,).",
    ),
    "weights of the wrong length": (
        good()._replace(weights=np.ones(3) / 3),
        "start.weights has shape (3,); expected (2,).",
    ),
    "covariances of the wrong shape": (
        good()._replace(covariances=np.eye(2)),
        "start.covariances has shape (2, 2); expected (2, 2, 2).",
    ),
    "NaN mean": (
        good()._replace(means=np.array([[0.0, np.nan], [1.0, 1.0]])),
        "start.means has NaN or infinite entries; pass finite values.",
    ),
    "infinite covariance": (
        good()._replace(covariances=np.stack([np.eye(2), np.full((2, 2), np.inf)])),
        "start.covariances has NaN or infinite entries; pass finite values.",
    ),
    "zero weight": (
        good()._replace(weights=np.array([0.0, 1.0])),
        "start.weights must be positive and sum to 1; got [0. 1.] (sum 1). Divide by their "
        "sum if they are proportions.",
    ),
    "weights that do not sum to 1": (
        good()._replace(weights=np.array([1.0, 3.0])),
        "start.weights must be positive and sum to 1; got [1. 3.] (sum 4). Divide by their "
        "sum if they are proportions.",
    ),
    "covariance not positive definite": (
        good()._replace(covariances=np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])])),
        "start.covariances of component 1 is not positive definite; every covariance must be "
        "symmetric with positive eigenvalues.",
    ),
    "negative variance": (
        MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.array([1.0, -1.0]), "spherical"),
        "start.covariances of component 1 is not positive definite; every covariance must be "
        "symmetric with positive eigenvalues.",
    ),
    "tied_diag of one variance per component": (
        MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.ones((2, 2)), "tied_diag"),
        "start.covariances has shape (2, 2); expected (2,).",
    ),
    "tied_diag with a negative variance": (
        MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.array([1.0, -1.0]), "tied_diag"),
        "start.covariances of the shared covariance is not positive definite; every "
        "covariance must be symmetric with positive eigenvalues.",
    ),
    "tied_spherical of one variance per component": (
        MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.ones(2), "tied_spherical"),
        "start.covariances has shape (2,); expected ().",
    ),
    "tied_spherical of zero variance": (
        MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.array(0.0), "tied_spherical"),
        "start.covariances of the shared covariance is not positive definite; every "
        "covariance must be symmetric with positive eigenvalues.",
    ),
    "tied_spherical of NaN": (
        MixtureParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.nan, "tied_spherical"),
        "start.covariances has NaN or infinite entries; pass finite values.",
    ),
    "tied not positive definite names the shared covariance": (
        MixtureParams(
            np.array([0.5, 0.5]), np.zeros((2, 2)), np.array([[1.0, 2.0], [2.0, 1.0]]), "tied"
        ),
        "start.covariances of the shared covariance is not positive definite; every "
        "covariance must be symmetric with positive eigenvalues.",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_check_params_names_every_bad_input(case):
    params, message = BAD[case]
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_params(params, what="start")


def test_check_params_against_the_model():
    with pytest.raises(
        ValueError, match=r"^init has covariance_type 'full' but the model is 'diag'"
    ):
        check_params(good(), covariance_type="diag", what="init")
    with pytest.raises(
        ValueError, match=re.escape("params.means has shape (2, 2); expected (2, 3).")
    ):
        check_params(good(), n_features=3)
    with pytest.raises(
        ValueError, match=re.escape("params.weights has shape (2,); expected (4,).")
    ):
        check_params(good(), n_components=4)
    # Weights summing to 1 within round-off pass.
    close = good()._replace(weights=np.array([0.25, 0.75 + 1e-12]))
    assert check_params(close).weights[1] == 0.75 + 1e-12


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_full_covariances_keeps_leading_axes(covariance_type, random_params):
    rng = np.random.default_rng(1)
    stack = [random_params(rng, covariance_type, K, D) for _ in range(4)]
    one_by_one = np.stack([p.full_covariances() for p in stack])
    assert one_by_one.shape == (4, K, D, D)
    drawn = np.stack([p.covariances for p in stack])  # (4, ...) in the type's shape
    np.testing.assert_array_equal(full_covariances(drawn, covariance_type, K, D), one_by_one)
    # Two leading axes (chains, draws).
    grid = drawn.reshape(2, 2, *drawn.shape[1:])
    np.testing.assert_array_equal(
        full_covariances(grid, covariance_type, K, D), one_by_one.reshape(2, 2, K, D, D)
    )


def test_full_covariances_of_each_type_and_never_a_view():
    diag = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(
        full_covariances(diag, "diag", 2, 2), [np.diag([1.0, 2.0]), np.diag([3.0, 4.0])]
    )
    np.testing.assert_array_equal(
        full_covariances(np.array([2.0, 5.0]), "spherical", 2, 3), [2 * np.eye(3), 5 * np.eye(3)]
    )
    tied = np.array([[2.0, 0.5], [0.5, 1.0]])
    out = full_covariances(tied, "tied", 3, 2)
    assert out.shape == (3, 2, 2) and np.all(out == tied)
    out[0, 0, 0] = -1.0
    assert tied[0, 0] == 2.0
    full = np.stack([np.eye(2)] * 2)
    copy = full_covariances(full, "full", 2, 2)
    copy[0, 0, 0] = 9.0
    assert full[0, 0, 0] == 1.0
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        full_covariances(full, "banded", 2, 2)
    shared_diag = np.array([1.0, 2.0, 3.0])
    out = full_covariances(shared_diag, "tied_diag", 2, 3)
    np.testing.assert_array_equal(out, [np.diag(shared_diag)] * 2)
    out[0, 0, 0] = 7.0
    assert shared_diag[0] == 1.0
    np.testing.assert_array_equal(
        full_covariances(np.array(2.5), "tied_spherical", 3, 2), [2.5 * np.eye(2)] * 3
    )
    # draws of the shared types: (S, d) and (S,)
    np.testing.assert_array_equal(
        full_covariances(np.array([1.0, 4.0]), "tied_spherical", 2, 2),
        [[np.eye(2)] * 2, [4 * np.eye(2)] * 2],
    )
    assert full_covariances(np.ones((5, 3)), "tied_diag", 2, 3).shape == (5, 2, 3, 3)


@pytest.mark.parametrize("covariance_type", DIAGONAL_TYPES)
def test_variances_are_the_diagonals_of_full_covariances(covariance_type, random_params):
    rng = np.random.default_rng(5)
    drawn = np.stack([random_params(rng, covariance_type, K, D).covariances for _ in range(4)])
    got = variances(drawn, covariance_type, K, D)
    assert got.shape == (4, K, D)
    full = full_covariances(drawn, covariance_type, K, D)
    np.testing.assert_array_equal(got, np.diagonal(full, axis1=-2, axis2=-1))


def test_variances_refuse_a_non_diagonal_type():
    with pytest.raises(
        ValueError, match=re.escape("variances() takes a diagonal covariance type")
    ):
        variances(np.eye(2), "tied", 2, 2)


def test_shared_types_are_not_permuted(random_params):
    rng = np.random.default_rng(8)
    for covariance_type in COVARIANCE_TYPES:
        params = random_params(rng, covariance_type, K, D)
        permuted = params.permute([2, 0, 1])
        np.testing.assert_array_equal(permuted.means, params.means[[2, 0, 1]])
        np.testing.assert_array_equal(
            permuted.full_covariances(), params.full_covariances()[[2, 0, 1]]
        )
        if covariance_type in SHARED_TYPES:
            np.testing.assert_array_equal(permuted.covariances, params.covariances)


def test_mclust_names():
    assert set(MCLUST_NAMES) == set(COVARIANCE_TYPES)
    assert [mclust_name(t, 2) for t in COVARIANCE_TYPES] == [
        "VVV", "EEE", "VVI", "VII", "EEI", "EII"
    ]  # fmt: skip
    assert [mclust_name(t, 1) for t in COVARIANCE_TYPES] == ["V", "E", "V", "V", "E", "E"]


@pytest.mark.parametrize(
    ("covariance_type", "expected"),
    # K = 3, d = 2: 2 weights + 6 means + covariances (9, 3, 6, 3).
    [
        ("full", 17),
        ("tied", 11),
        ("diag", 14),
        ("spherical", 11),
        ("tied_diag", 10),
        ("tied_spherical", 9),
    ],
)
def test_n_parameters(covariance_type, expected):
    assert n_parameters(3, 2, covariance_type) == expected
    # The count is what a MixtureParams holds, less the constraints (weights sum to 1,
    # covariance matrices symmetric).
    shapes = [(3,), (3, 2), covariances_shape(covariance_type, 3, 2)]
    held = sum(int(np.prod(s)) for s in shapes)
    symmetric = {"full": 3 * 1, "tied": 1}.get(covariance_type, 0)
    assert n_parameters(3, 2, covariance_type) == held - 1 - symmetric
    assert n_parameters(1, 1, covariance_type) == 2


def test_parameter_names_are_the_fields():
    assert MixtureParams._fields[:3] == PARAMETER_NAMES
