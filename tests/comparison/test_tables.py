"""Parameter tables against direct numpy computation on the draws."""

import arviz as az
import numpy as np
import pytest

from latentmix.comparison import compare
from latentmix.em.parameterisation import parameter_keys
from latentmix.params import COVARIANCE_TYPES, sample_mixture


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_tables_match_direct_numpy(covariance_type, truth, as_type, fake_idata):
    params = as_type(truth, covariance_type)
    X, _ = sample_mixture(truth, 120, random_state=3)
    idata = fake_idata(params, seed=4)
    # MAP: the truth nudged; MLE: a permuted, further nudged copy (compare must re-order it).
    map_params = params._replace(means=params.means + 0.01)
    mle_params = params._replace(means=params.means - 0.2).permute([1, 0])
    result = compare(X, idata, map_params, mle=mle_params, feature_names=["a", "b"])
    post = idata.posterior
    for entry in result.tables["means"].entries:
        k, j = entry.index
        s = post["means"].values[:, :, k, j].ravel()
        assert entry.mean == pytest.approx(s.mean(), rel=1e-12)
        assert entry.median == pytest.approx(np.median(s), rel=1e-12)
        assert entry.sd == pytest.approx(s.std(ddof=1), rel=1e-12)
        lo, hi = np.quantile(s, [0.025, 0.975])
        assert (entry.lower, entry.upper) == pytest.approx((lo, hi), rel=1e-12)
        assert entry.map == map_params.means[k, j]
        assert entry.mle == pytest.approx(params.means[k, j] - 0.2)
        assert entry.quantile_map == pytest.approx(np.mean(s < map_params.means[k, j]))
        assert entry.quantile_mle == pytest.approx(np.mean(s < entry.mle))
        assert entry.mle_outside == (not lo <= entry.mle <= hi)
        assert entry.label == f"means[{k + 1}, {'ab'[j]}]"
    # The MLE, 0.2 away with posterior sd 0.05, is outside every means interval.
    assert all(e.mle_outside for e in result.tables["means"].entries)
    assert not any(e.map_outside for e in result.tables["means"].entries)
    n_cov = {"full": 6, "tied": 3, "diag": 4, "spherical": 2, "tied_diag": 2, "tied_spherical": 1}
    n_cov = n_cov[covariance_type]
    assert len(result.tables["covariances"].entries) == n_cov
    cov_draws = post["covariances"].values
    for entry in result.tables["covariances"].entries:
        s = cov_draws[(slice(None), slice(None), *entry.index)].ravel()
        assert entry.median == pytest.approx(np.median(s), rel=1e-12)
    assert [e.r_hat for e in result.tables["weights"].entries] == pytest.approx(
        az.rhat(post)["weights"].values, rel=1e-12
    )
    # The entries are the natural-scale vector's, in its order, each with its position.
    entries = [e for t in result.tables.values() for e in t.entries]
    assert [(e.parameter, e.index) for e in entries] == parameter_keys(2, 2, covariance_type)
    assert [e.column for e in entries] == list(range(len(entries)))


def test_level_sets_the_interval(truth, fake_idata):
    X, _ = sample_mixture(truth, 60, random_state=5)
    idata = fake_idata(truth, seed=6)
    result = compare(X, idata, truth, level=0.5)
    s = idata.posterior["weights"].values[:, :, 0].ravel()
    first = result.tables["weights"].entries[0]
    assert (first.lower, first.upper) == pytest.approx(tuple(np.quantile(s, [0.25, 0.75])))
    assert result.level == result.tables["weights"].level == 0.5


def test_truth_of_another_covariance_type(truth, as_type, fake_idata):
    X, _ = sample_mixture(truth, 80, random_state=12)
    diag = as_type(truth, "diag")
    result = compare(X, fake_idata(diag, seed=13), diag, truth=truth)
    truths = [e.truth for e in result.tables["covariances"].entries]
    assert truths == pytest.approx([1.0, 0.8, 0.6, 1.2])
    tied = as_type(truth, "tied")
    result = compare(X, fake_idata(tied, seed=14), tied, truth=truth)
    assert all(e.truth is None for e in result.tables["covariances"].entries)
    # A shared-diagonal model has a true value only if the truth is equal and diagonal.
    for covariance_type in ("tied_diag", "tied_spherical"):
        shared = as_type(truth, covariance_type)
        result = compare(X, fake_idata(shared, seed=15), shared, truth=truth)
        assert all(e.truth is None for e in result.tables["covariances"].entries)
    isotropic = as_type(truth, "tied_spherical")
    for covariance_type in ("tied_diag", "tied_spherical", "spherical", "diag"):
        model = as_type(isotropic, covariance_type)
        result = compare(X, fake_idata(model, seed=16), model, truth=isotropic)
        truths = [e.truth for e in result.tables["covariances"].entries]
        assert truths == pytest.approx([float(isotropic.covariances)] * len(truths))
    assert result.tables["means"].entries[0].truth == 0.0


def test_one_dimensional_labels(fake_idata):
    from latentmix.params import MixtureParams

    params = MixtureParams(
        np.array([0.5, 0.5]), np.array([[-2.0], [2.0]]), np.array([[[1.0]], [[0.5]]]), "full"
    )
    X, _ = sample_mixture(params, 80, random_state=10)
    result = compare(X[:, 0], fake_idata(params, seed=11), params, feature_names=["v"])
    assert [e.label for e in result.tables["covariances"].entries] == [
        "covariances[1, v, v]",
        "covariances[2, v, v]",
    ]
    assert [e.index for e in result.tables["covariances"].entries] == [(0, 0, 0), (1, 0, 0)]
    assert result.tables["means"].entries[0].mle is None
    frame = result.tables["means"].to_dataframe()
    assert list(frame.index) == ["means[1, v]", "means[2, v]"]
