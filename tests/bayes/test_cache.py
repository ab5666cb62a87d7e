"""One compiled sampler per model structure: reused with new data, never stale."""

import numpy as np
import pytest

from latentmix import ConjugatePrior


def _data(shift: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    half = n // 2
    return np.concatenate([rng.normal(-2, 0.5, half), rng.normal(2, 0.5, n - half)])[:, None]


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from latentmix.bayes.cache import cache_dir

    monkeypatch.setenv("LATENTMIX_CACHE_DIR", str(tmp_path / "models"))
    assert cache_dir() == tmp_path / "models"
    monkeypatch.delenv("LATENTMIX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "latentmix" / "models"


def test_version_key_names_every_compiler():
    from latentmix.bayes.cache import version_key

    names = [name for name, _ in version_key()]
    assert names == ["python", "latentmix", "pymc", "pytensor", "nutpie", "numba"]


def test_structure_separates_what_the_graph_compiles_in():
    from latentmix.bayes.model import model_data, model_structure

    X = _data(0.0, 20, 0)
    plain = model_structure(X, 2, "diag")
    assert model_structure(X + 5.0, 2, "diag") == plain  # the data do not enter the key
    assert model_structure(_data(0.0, 31, 1), 2, "diag") == plain  # nor the row count
    assert model_structure(X, 2, "diag", np.ones(20)) != plain
    assert model_structure(X, 3, "diag") != plain
    holed = X.copy()
    holed[0, 0] = np.nan
    assert model_structure(np.c_[holed, X], 2, "diag").missing_key != ""
    prior = ConjugatePrior(1.0, np.zeros(1), 0.1, 4.0, np.ones(1))
    values = model_data(holed, 2, "diag", prior)
    assert values["x_data"][0, 0] == 0.0 and values["prior_scale"].shape == (1,)


@pytest.mark.compiles
@pytest.mark.filterwarnings("ignore::latentmix.bayes.diagnostics.SamplingWarning")
def test_reused_sampler_sees_new_data_and_prior_and_versions(monkeypatch):
    from latentmix.bayes import cache
    from latentmix.bayes.estimator import PyMCGaussianMixture

    cache.clear_memory()
    settings = {"draws": 100, "tune": 100, "chains": 2, "random_state": 0}
    prior = ConjugatePrior(1.0, np.zeros(1), 0.1, 4.0, np.ones(1))
    first = PyMCGaussianMixture(2, covariance_type="diag", prior=prior).fit(
        _data(0.0, 40, 0), **settings
    )
    assert first.idata_.posterior.attrs["compile_source"] == "compiled"
    # Other data (shifted, more rows) and another prior: the same compiled sampler, and the
    # posterior moves with the data.
    shifted = ConjugatePrior(1.0, np.full(1, 10.0), 0.1, 4.0, np.ones(1))
    second = PyMCGaussianMixture(2, covariance_type="diag", prior=shifted).fit(
        _data(0.0, 60, 1) + 10.0, **settings
    )
    post = second.idata_.posterior
    assert post.attrs["compile_source"] == "memory"
    assert post.sizes["chain"] == 2
    shift = second.posterior_mean_.means.ravel() - first.posterior_mean_.means.ravel()
    np.testing.assert_allclose(np.sort(shift), 10.0, atol=0.5)
    # A changed version key is a miss.
    monkeypatch.setattr(cache, "version_key", lambda: (("numba", "another"),))
    third = PyMCGaussianMixture(2, covariance_type="diag", prior=prior).fit(
        _data(0.0, 40, 0), **settings
    )
    assert third.idata_.posterior.attrs["compile_source"] == "compiled"
    off = PyMCGaussianMixture(2, covariance_type="diag", prior=prior, cache=False)
    assert off.get_params()["cache"] is False
    cache.clear_memory()
