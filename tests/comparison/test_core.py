"""compare(): component order, inputs, the JSON record and the public name."""

import json

import numpy as np
import pytest

from latentmix.comparison import compare
from latentmix.matching import match_components
from latentmix.params import MixtureParams, sample_mixture


def test_truth_and_mle_are_put_in_the_map_order(truth, fake_idata):
    permuted = truth.permute([1, 0])
    X, _ = sample_mixture(truth, 60, random_state=8)
    result = compare(X, fake_idata(truth, seed=9), truth, truth=permuted, mle=permuted)
    np.testing.assert_array_equal(result.truth.means, truth.means)
    np.testing.assert_array_equal(result.mle.means, truth.means)
    assert result.mle_order == tuple(match_components(permuted, truth)) == (1, 0)
    assert result.tables["weights"].entries[0].truth == pytest.approx(0.6)


def test_record_is_json_with_the_glossary_keys(truth, fake_idata):
    X, _ = sample_mixture(truth, 60, random_state=8)
    result = compare(X, fake_idata(truth, seed=9), truth, mle=truth.permute([1, 0]))
    record = json.loads(json.dumps(result.to_dict(X), allow_nan=False))
    assert record["level"] == 0.95 and record["interval_type"] == "equal-tailed"
    assert set(record["tables"]) == {"weights", "means", "covariances"}
    assert record["mle_order"] == [1, 0]
    first = record["tables"]["covariances"][0]
    assert first["index"] == [0, 0, 0] and first["label"] == "covariances[1, x1, x1]"
    assert [r["out_of_sample_estimator"] for r in record["predictive"]["rows"]] == [
        "-AIC/2",
        "-AIC/2",
        "PSIS-LOO",
    ]
    assert record["estimates"]["map"]["covariance_type"] == "full"


def test_fitted_estimators_are_taken_by_their_params(truth, fake_idata):
    class Fitted:
        params_ = truth
        prior_ = None

    X, _ = sample_mixture(truth, 40, random_state=1)
    result = compare(X, fake_idata(truth, seed=2), Fitted(), mle=Fitted())
    np.testing.assert_array_equal(result.map.means, truth.means)
    assert result.mle_order == (0, 1)


def test_bad_input(fake_idata):
    params = MixtureParams(
        np.array([0.5, 0.5]), np.array([[-2.0], [2.0]]), np.array([[[1.0]], [[0.5]]]), "full"
    )
    X, _ = sample_mixture(params, 20, random_state=10)
    with pytest.raises(ValueError, match="features"):
        compare(np.zeros((5, 3)), fake_idata(params), params)
    with pytest.raises(ValueError, match="level"):
        compare(X, fake_idata(params), params, level=1.5)
    with pytest.raises(ValueError, match="MixtureParams"):
        compare(X, fake_idata(params), "not params")
    with pytest.raises(ValueError, match="feature_names"):
        compare(X, fake_idata(params), params, feature_names=["a", "b"])
    other = MixtureParams(np.ones(3) / 3, np.zeros((3, 1)), np.ones((3, 1, 1)), "full")
    with pytest.raises(ValueError, match="same model"):
        compare(X, fake_idata(params), other)


def test_public_name():
    import latentmix

    assert latentmix.compare is compare


def test_data_with_missing_cells_are_compared_on_their_observed_cells(truth, fake_idata):
    from latentmix.em.missing import e_step as missing_e_step

    X, _ = sample_mixture(truth, 120, random_state=7)
    X[::9, 1] = np.nan
    idata = fake_idata(truth, seed=8)
    mle = truth._replace(means=truth.means + 0.05)
    result = compare(X, idata, truth, mle=mle)
    rows = {row.estimate: row for row in result.predictive.rows}
    assert rows["MAP"].in_sample == pytest.approx(missing_e_step(X, truth)[1].sum(), rel=1e-12)
    assert np.isfinite(rows["posterior"].out_of_sample)
    np.testing.assert_allclose(
        result.membership.responsibilities_map, np.exp(missing_e_step(X, truth)[0]), rtol=1e-12
    )
    assert np.all(np.isfinite(result.membership.posterior_mean))
