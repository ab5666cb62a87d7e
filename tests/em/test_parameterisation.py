"""The unconstrained parameterisation and the natural-scale vector (em.parameterisation)."""

import numpy as np
import pytest

from latentmix.em.parameterisation import (
    from_unconstrained,
    natural_draws,
    natural_jacobian,
    natural_vector,
    parameter_keys,
    parameter_names,
    to_unconstrained,
)
from latentmix.params import COVARIANCE_TYPES, PARAMETER_NAMES, n_parameters

K, D = 3, 2


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_unconstrained_round_trip_and_natural_jacobian(covariance_type, random_params):
    rng = np.random.default_rng(5)
    params = random_params(rng, covariance_type, K, D)
    theta = to_unconstrained(params)
    back = from_unconstrained(theta, K, D, covariance_type)
    for a, b in zip(back[:3], params[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert len(parameter_names(K, D, covariance_type)) == natural_vector(params).size

    def nat(t):
        return natural_vector(from_unconstrained(t, K, D, covariance_type))

    h = 1e-6
    fd = np.stack([(nat(theta + e) - nat(theta - e)) / (2 * h) for e in h * np.eye(theta.size)], 1)
    np.testing.assert_allclose(natural_jacobian(params), fd, atol=1e-7)
    many = theta + 0.2 * rng.normal(size=(4, theta.size))
    np.testing.assert_allclose(natural_draws(many, K, D, covariance_type), [nat(t) for t in many])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_keys_index_the_natural_vector(covariance_type, random_params):
    """Each key picks its entry out of the parameter arrays: no name is parsed back."""
    params = random_params(np.random.default_rng(3), covariance_type, K, D)
    keys = parameter_keys(K, D, covariance_type)
    vector = natural_vector(params)
    assert len(keys) == vector.size
    arrays = dict(zip(PARAMETER_NAMES, params[:3], strict=True))
    for (group, index), value in zip(keys, vector, strict=True):
        assert all(isinstance(i, int) for i in index)
        assert arrays[group][index] == value
    # The free entries: every weight (they are reported though K - 1 are free) and the rest.
    assert len(keys) == n_parameters(K, D, covariance_type) + 1


def test_names_are_the_keys_as_text():
    assert parameter_names(2, 2, "full")[:3] == ["weights[0]", "weights[1]", "means[0,0]"]
    assert parameter_names(2, 2, "full")[-1] == "covariances[1,1,1]"
    assert parameter_names(2, 2, "tied")[-3:] == [
        "covariances[0,0]",
        "covariances[0,1]",
        "covariances[1,1]",
    ]
    assert parameter_names(2, 2, "diag")[-1] == "covariances[1,1]"
    assert parameter_names(2, 2, "spherical")[-2:] == ["covariances[0]", "covariances[1]"]
    assert parameter_keys(2, 2, "tied")[-2] == ("covariances", (0, 1))
    assert parameter_names(2, 2, "tied_diag")[-2:] == ["covariances[0]", "covariances[1]"]
    assert parameter_names(2, 2, "tied_spherical")[-2:] == ["means[1,1]", "covariances"]
    assert parameter_keys(2, 2, "tied_spherical")[-1] == ("covariances", ())


def test_zero_weight_has_no_log_ratio(random_params):
    params = random_params(np.random.default_rng(0), "diag", K, D)
    with pytest.raises(ValueError, match="every weight must be positive"):
        to_unconstrained(params._replace(weights=np.array([0.0, 0.5, 0.5])))
    with pytest.raises(ValueError, match=r"theta must have shape \(4,\) here; got \(3,\)"):
        from_unconstrained(np.zeros(3), 1, 2, "diag")
