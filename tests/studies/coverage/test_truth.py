import json

import numpy as np
import pytest

from latentmix.params import sample_mixture
from latentmix.studies.coverage import truth as T


def test_named_truths_and_files(tmp_path):
    assert {"well_separated", "overlapping", "unequal_weights"} <= set(T.truth_names())
    spec = tmp_path / "t.toml"
    spec.write_text(
        'covariance_type = "spherical"\nweights = [0.5, 0.5]\nmeans = [[0.0], [3.0]]\n'
        "covariances = [1.0, 2.0]\n"
    )
    name, truth = T.load_truth(str(spec))
    assert name == "t" and truth.covariance_type == "spherical"
    name, truth = T.load_truth("well_separated")
    again = T.truth_from_dict(json.loads(json.dumps(T.truth_to_dict(truth))))
    for a, b in zip(again, truth, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_truths_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match="neither a named truth"):
        T.load_truth("no_such_truth")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "weights": [0.7, 0.7],
                "means": [[0], [1]],
                "covariances": [1, 1],
                "covariance_type": "spherical",
            }
        )
    )
    with pytest.raises(ValueError, match=r"the truth\.weights must be positive and sum to 1"):
        T.load_truth(str(bad))
    with pytest.raises(ValueError, match="'covariances' is missing"):
        T.truth_from_dict({"weights": [1.0], "means": [[0.0]]})


def test_population_prior_uses_the_mixture_total_covariance():
    _, truth = T.load_truth("unequal_weights")
    prior = T.population_prior(truth)
    rng = np.random.default_rng(0)
    X, _ = sample_mixture(truth, 200_000, rng)
    np.testing.assert_allclose(prior.mean, X.mean(0), atol=0.02)
    K, d = truth.n_components, truth.n_features
    expected = np.cov(X, rowvar=False) / K ** (2 / d)
    np.testing.assert_allclose(prior.scale, expected, rtol=0.03, atol=0.02)
