"""One compiled sampler per model structure: reused with new data, never stale."""

import json
import os
import subprocess
import sys

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
def test_reused_sampler_sees_new_data_and_prior_and_versions(monkeypatch, tmp_path):
    from latentmix.bayes import cache
    from latentmix.bayes.estimator import PyMCGaussianMixture

    monkeypatch.setenv("LATENTMIX_CACHE_DIR", str(tmp_path))
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


# One fit per word of argv: "same" (the data of the first process, the plain prior), "prior"
# (the same data, a prior that shrinks the means to 0) or "data" (the data moved by 10).
# Unequal halves: equal weights would start nutpie at an exactly zero gradient, which it
# rejects.
_FIT_SCRIPT = """
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from latentmix import ConjugatePrior
from latentmix.bayes.estimator import PyMCGaussianMixture
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(-2, 0.5, (20, 2)), rng.normal(2, 0.5, (30, 2))])
plain = ConjugatePrior(1.0, np.zeros(2), 0.1, 4.0, np.ones(2))
pinned = ConjugatePrior(1.0, np.zeros(2), 25.0, 4.0, np.ones(2))
out = []
for what in sys.argv[1:]:
    data = X + 10.0 if what == "data" else X
    prior = pinned if what == "prior" else plain
    gm = PyMCGaussianMixture(2, covariance_type="diag", prior=prior).fit(
        data, draws=100, tune=100, chains=2, random_state=0
    )
    out.append([gm.idata_.posterior.attrs["compile_source"],
                np.sort(gm.posterior_mean_.means.ravel()).tolist()])
print(json.dumps(out))
"""


def _fit_in_process(cache: os.PathLike, *what: str) -> subprocess.Popen:
    env = {**os.environ, "LATENTMIX_CACHE_DIR": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-c", _FIT_SCRIPT, *what],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen) -> list:
    out, err = proc.communicate(timeout=1800)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.compiles
def test_fresh_processes_share_the_disk_cache_and_see_new_data_and_prior(tmp_path):
    # Two processes at once on an empty cache: one compiles, the other waits for it and
    # loads the sampler from disk; neither reads a half-written entry.
    first, second = _fit_in_process(tmp_path, "same"), _fit_in_process(tmp_path, "same")
    runs = [_result(first)[0], _result(second)[0]]
    assert sorted(source for source, _ in runs) == ["compiled", "disk"]
    np.testing.assert_allclose(runs[0][1], runs[1][1])  # one seed, one sampler, one posterior
    # A third process: the prior alone changed (loaded from disk), then the data alone
    # (the same sampler, reused in the process).
    (prior_source, pinned), (data_source, moved) = _result(
        _fit_in_process(tmp_path, "prior", "data")
    )
    assert (prior_source, data_source) == ("disk", "memory")
    # The strong prior pulls the means about halfway to 0: n / (n + 25) of the plain ones.
    assert np.all(np.abs(pinned) < 0.7 * np.abs(runs[0][1]))
    np.testing.assert_allclose(np.array(moved) - runs[0][1], 10.0, atol=0.5)


def test_disk_key_follows_structure_versions_and_trace(monkeypatch):
    from latentmix.bayes import cache
    from latentmix.bayes.model import ModelStructure

    plain = ModelStructure(2, 2, "diag", False, "")
    names = ["weights", "means", "covariances"]
    key = cache.entry_key(plain, names)
    assert cache.entry_key(plain, names) == key
    assert cache.entry_key(plain._replace(weighted=True), names) != key
    assert cache.entry_key(plain, names[:2]) != key
    monkeypatch.setattr(cache, "version_key", lambda: (("numba", "another"),))
    assert cache.entry_key(plain, names) != key


def test_partial_or_corrupt_entries_are_not_loaded(tmp_path):
    from latentmix.bayes import cache

    key = "0" * 32
    entry = tmp_path / key
    entry.mkdir()
    assert cache._load_meta(entry, key) is None  # no meta.json: a compile stopped midway
    (entry / "meta.json").write_text('{"key": "00')
    assert cache._load_meta(entry, key) is None  # truncated
    meta = {
        "key": key,
        "format": cache._FORMAT,
        "n_dim": 2,
        "n_expanded": 2,
        "containers": [["x_data", 2, "float64"]],
        "logp_args": ["x_data"],
        "expand_args": [],
        "itemsize": 32,
        "offsets": {"x_data": [0, 1, 2]},
        "shape_info": [["a"], [[0, 2]], [[2]]],
    }
    cache._write_meta(entry, {**meta, "key": "1" * 32})
    assert cache._load_meta(entry, key) is None  # another key's entry
    cache._write_meta(entry, meta)
    assert cache._load_meta(entry, key) == meta
    assert not list(entry.glob(".meta-*"))  # written through a temporary file
    # meta.json is there but numba's machine code is not (or is garbage): not a hit.
    (entry / "garbage.nbi").write_bytes(b"\x00not an index")
    assert cache._load_callbacks(meta, entry, key) is None


def test_clear_disk_empties_the_cache_directory(monkeypatch, tmp_path):
    from latentmix.bayes import cache

    monkeypatch.setenv("LATENTMIX_CACHE_DIR", str(tmp_path / "models"))
    (tmp_path / "models" / "entry").mkdir(parents=True)
    cache.clear_disk()
    assert not (tmp_path / "models").exists()
