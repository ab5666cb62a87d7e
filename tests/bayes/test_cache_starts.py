"""Several starts: nutpie's chain c starts near start c mod their number, told by its seed.

nutpie calls ``initial_point_func`` with a seed and no chain index; ``cache.chain_seeds``
derives each chain's seeds from the sampler's seed as nutpie does, and these tests hold it to
the installed nutpie. The density of four narrow wells 100 apart keeps every chain in the well
it started in (the barrier between two is about 1250 nats), so where a chain's draws are is
where it started.
"""

import numpy as np
import pytest

from latentmix import EMGaussianMixture
from latentmix.bayes.cache import Starts, _started, chain_seeds
from latentmix.params import MixtureParams

CENTRES = 100.0 * np.arange(4)
N_ROWS = 1e4  # the jitter's sd is 1 / sqrt(N_ROWS) = 0.01


@pytest.fixture(scope="module")
def wells():
    import nutpie
    import pymc as pm

    from latentmix.bayes.sample import quiet_compile

    with pm.Model() as model:
        x = pm.Flat("x")
        pm.Potential("wells", pm.math.logsumexp(-0.5 * (x - CENTRES) ** 2))
    with quiet_compile():
        compiled = nutpie.compile_pymc_model(model, backend="numba")
    return model, compiled


def _run(compiled, seed: int, chains: int) -> np.ndarray:
    """Draws of ``x``, shape (chains, 5)."""
    import nutpie

    trace = nutpie.sample(
        compiled, draws=5, tune=20, chains=chains, cores=2, seed=seed, progress_bar=False
    )
    return trace.posterior["x"].values


def _starts(seed: int, chains: int) -> Starts:
    return Starts([{"x": c} for c in CENTRES[:3]], seed=seed, chains=chains)


def test_chain_seeds_are_one_per_chain_and_try_and_follow_the_seed():
    seeds = chain_seeds(123, 4)
    assert seeds.shape == (4, 12) and seeds.dtype == np.uint64
    assert len(np.unique(seeds)) == seeds.size
    np.testing.assert_array_equal(chain_seeds(123, 2), seeds[:2])  # chain c's, whatever C
    assert not np.isin(chain_seeds(124, 4), seeds).any()


@pytest.mark.compiles
@pytest.mark.parametrize("seed", [0, 5, 2**31 - 2])
def test_chain_seeds_are_the_seeds_nutpie_passes_each_chain_and_try(wells, seed):
    import dataclasses

    _, compiled = wells
    predicted = chain_seeds(seed, 4)
    calls = []

    def initial_point(s=None):
        calls.append(s)
        chain, attempt = np.argwhere(predicted == np.uint64(s))[0]
        # The first try fails (a non-finite density): nutpie tries again with the next seed.
        # Off the well's centre, where the gradient vanishes and nutpie would try again.
        return np.full(1, np.nan if attempt == 0 else CENTRES[chain] + 0.5)

    draws = _run(dataclasses.replace(compiled, initial_point_func=initial_point), seed, 4)
    assert sorted(calls) == sorted(predicted[:, :2].ravel().tolist())
    # Chain c's draws are in well c: the seeds tell the chains apart, not only as a set.
    np.testing.assert_allclose(draws, np.broadcast_to(CENTRES[:, None], draws.shape), atol=10)


@pytest.mark.compiles
def test_chain_c_starts_near_start_c_reproducibly(wells):
    model, compiled = wells
    starts = _starts(5, 4)
    draws = _run(_started(compiled, model, starts, N_ROWS), 5, 4)
    # Three starts, four chains: chain 3 starts at start 0 again.
    assert starts.chain_start == {0: 0, 1: 1, 2: 2, 3: 0}
    wells_of = np.array([0.0, 100.0, 200.0, 0.0])
    np.testing.assert_allclose(draws, np.broadcast_to(wells_of[:, None], draws.shape), atol=10)
    again = _run(_started(compiled, model, _starts(5, 4), N_ROWS), 5, 4)
    np.testing.assert_array_equal(again, draws)
    other = _run(_started(compiled, model, _starts(6, 4), N_ROWS), 6, 4)
    assert not np.array_equal(other, draws)
    np.testing.assert_allclose(other, np.broadcast_to(wells_of[:, None], draws.shape), atol=10)


@pytest.mark.compiles
def test_one_start_is_the_jittered_point_whatever_the_seed(wells):
    model, compiled = wells
    one = _started(compiled, model, {"x": 100.0}, N_ROWS).initial_point_func
    for seed in (0, 7, int(chain_seeds(5, 1)[0, 0])):
        jitter = 0.01 * np.random.default_rng(seed).standard_normal(1)
        np.testing.assert_allclose(one(seed), 100.0 + jitter, rtol=0, atol=1e-12)
    # Several starts: a seed nutpie would not give starts at the first, and is not recorded.
    starts = _starts(5, 2)
    several = _started(compiled, model, starts, N_ROWS).initial_point_func
    assert abs(several(7)[0] - 0.0) < 0.1 and starts.chain_start == {}
    assert abs(several(int(chain_seeds(5, 2)[1, 0]))[0] - 100.0) < 0.1
    assert starts.chain_start == {1: 1}


def test_starts_are_the_first_point_where_one_point_goes():
    starts = _starts(5, 2)
    assert dict(starts) == {"x": 0.0} and len(starts.points) == 3
    with pytest.raises(ValueError, match="at least one point"):
        Starts([], seed=0, chains=2)


def test_pymc_takes_one_start_per_chain():
    from latentmix.bayes.estimator import _chain_start
    from latentmix.bayes.sample import pymc_initvals

    starts = _starts(5, 4)
    assert pymc_initvals(starts, 4) == [{"x": 0.0}, {"x": 100.0}, {"x": 200.0}, {"x": 0.0}]
    assert _chain_start(starts, 4) == [0, 1, 2, 0]
    one = Starts([{"x": 1.0}], seed=5, chains=2)
    assert pymc_initvals(one, 2) == {"x": 1.0} and pymc_initvals(None, 2) is None
    assert pymc_initvals({"x": 1.0}, 2) == {"x": 1.0}


def test_chains_not_told_apart_are_said():
    from latentmix.bayes.estimator import _chain_start

    with pytest.warns(UserWarning, match="every chain started near the first of the 3"):
        assert _chain_start(_starts(5, 2), 2) == [0, 0]


def _three_clusters():
    rng = np.random.default_rng(0)
    sizes = (30, 30, 34)
    return np.concatenate([rng.normal(m, 0.5, n) for m, n in zip((-4, 0, 4), sizes, strict=True)])[
        :, None
    ]


@pytest.fixture(scope="module")
def two_optima():
    """Three clusters fitted with K = 2: the EM MAP and another optimum."""
    from latentmix.comparison.membership import adjusted_rand_index
    from latentmix.report.modes import hard_labels

    X = _three_clusters()
    best = EMGaussianMixture(2, covariance_type="diag", prior="default", random_state=0).fit(X)
    # The other optimum: the left pair of clusters merged, the right one alone.
    merged = MixtureParams(
        np.array([0.65, 0.35]), np.array([[-2.0], [4.0]]), np.array([[4.0], [0.3]]), "diag"
    )
    other = EMGaussianMixture(2, covariance_type="diag", prior="default", init=merged).fit(X)
    assert other.objective_ < best.objective_ - 5
    assert adjusted_rand_index(hard_labels(X, best.params_), hard_labels(X, other.params_)) < 0.5
    return X, best.params_, other.params_


def _fit(X, starts, **kwargs):
    from latentmix.bayes.estimator import PyMCGaussianMixture

    settings = {"draws": 100, "tune": 100, "chains": 2, "random_state": 0} | kwargs
    return PyMCGaussianMixture(2, covariance_type="diag").fit(X, starts=starts, **settings)


@pytest.mark.compiles
@pytest.mark.filterwarnings("ignore::latentmix.bayes.diagnostics.SamplingWarning")
def test_the_estimator_starts_chain_c_at_start_c_and_one_start_is_the_old_run(two_optima):
    X, best, other = two_optima

    def fit(starts):
        return _fit(X, starts)

    two = fit([best, other])
    post = two.idata_.posterior
    assert post.attrs["n_starts"] == 2 and list(post.attrs["chain_start"]) == [0, 1]
    # Chain 2 stayed in the other optimum (relabelled to the MAP's order, means near -1.9, 4.1).
    means = post["means"].values[..., 0]  # (chain, draw, component)
    np.testing.assert_allclose(means[1].mean(0), [4.1, -1.9], atol=0.5)
    np.testing.assert_allclose(means[0].mean(0), [2.2, -4.1], atol=0.5)
    again = fit([best, other])
    np.testing.assert_array_equal(again.idata_.posterior["means"].values, post["means"].values)
    # One start, or none (the reference, here the same EM MAP): the run of one start, as before.
    one, default = fit([best]), fit(None)
    assert list(one.idata_.posterior.attrs["chain_start"]) == [0, 0]
    assert one.idata_.posterior.attrs["n_starts"] == 1
    np.testing.assert_array_equal(
        one.idata_.posterior["means"].values, default.idata_.posterior["means"].values
    )


@pytest.mark.compiles
@pytest.mark.filterwarnings("ignore::latentmix.bayes.diagnostics.SamplingWarning")
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_the_pymc_sampler_starts_chain_c_at_start_c(two_optima):
    X, best, other = two_optima
    post = _fit(X, [best, other], tune=50, sampler="pymc").idata_.posterior
    assert post.attrs["sampler"] == "pymc" and list(post.attrs["chain_start"]) == [0, 1]
    means = post["means"].values[..., 0]
    np.testing.assert_allclose(means[1].mean(0), [4.1, -1.9], atol=0.5)
    np.testing.assert_allclose(means[0].mean(0), [2.2, -4.1], atol=0.5)
