"""EM at scale: the fused block kernel, blocked passes, dask arrays, memmaps, a LocalCluster.

The reference for the kernel is the straightforward E-step and statistics of
:mod:`latentmix.em.estep` / :mod:`latentmix.em.mstep` (checked against scipy in their own
tests): ``e_step`` for the densities, ``sufficient_statistics`` on its responsibilities.
"""

import math

import numpy as np
import pytest
from scipy import stats

from latentmix.em import chunked, kernels
from latentmix.em.estep import e_step
from latentmix.em.mstep import m_step, sufficient_statistics
from latentmix.params import COVARIANCE_TYPES, MixtureParams


def data(rng, n=3000, d=3, offset=0.0):
    X = rng.normal(size=(n, d)) * np.arange(1, d + 1) + offset
    X[: n // 3] += 4.0
    return X


def reference_stats(X, params, center):
    # Densities are translation invariant; centring first keeps the expanded quadratics of
    # the reference (diag, spherical, tied) as accurate as the kernel's.
    log_resp, sample_ll = e_step(X - center, params._replace(means=params.means - center))
    return sufficient_statistics(X, np.exp(log_resp), params.covariance_type, center), float(
        sample_ll.sum()
    )


def assert_stats_close(a, b, rtol):
    for name in ("nk", "sum_x", "sum_xx"):
        x, y = getattr(a, name), getattr(b, name)
        scale = np.abs(y).max()
        np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale, err_msg=name)


# --- the kernel -------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 1e4])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_kernel_matches_reference(covariance_type, offset, random_params):
    rng = np.random.default_rng(10)
    X = data(rng, offset=offset)
    params = random_params(rng, covariance_type, offset=offset)
    center = X.mean(axis=0)
    ref, ll_ref = reference_stats(X, params, center)
    got, ll = chunked.e_step_stats(X, params, center)
    assert ll == pytest.approx(ll_ref, rel=1e-12)
    assert_stats_close(got, ref, 1e-11)
    # The M-step from either gives the same parameters.
    a, b = m_step(got), m_step(ref)
    for x, y in zip(a[:3], b[:3], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_blocked_and_unblocked_agree(covariance_type, random_params):
    rng = np.random.default_rng(11)
    X = data(rng, n=5000)
    params = random_params(rng, covariance_type)
    center = X.mean(axis=0)
    whole, ll_whole = chunked.e_step_stats(X, params, center, block_rows=10**9)
    for rows in (1, 64, 1000, 4999):
        blocked, ll = chunked.e_step_stats(X, params, center, block_rows=rows)
        assert ll == pytest.approx(ll_whole, rel=1e-10)
        assert_stats_close(blocked, whole, 1e-10)


def test_threads_do_not_change_the_sum(random_params):
    rng = np.random.default_rng(12)
    X = data(rng, n=4000)
    plan = kernels.make_plan(random_params(rng, "full"), X.mean(axis=0))
    one = kernels.moments_over_blocks(X, plan, 128, n_threads=1)
    two = kernels.moments_over_blocks(X, plan, 128, n_threads=2)
    np.testing.assert_array_equal(one.moments, two.moments)
    assert one.log_likelihood == two.log_likelihood


def test_tight_component_far_from_the_centre_keeps_its_precision():
    # A component 1e4 standard deviations from the data mean: an expanded quadratic would
    # lose about 8 digits to cancellation; the sums of squares lose none.
    rng = np.random.default_rng(14)
    d = 3
    X = np.vstack([rng.normal(size=(500, d)), 1e2 + 1e-2 * rng.normal(size=(500, d))])
    cov = np.stack([np.eye(d), 1e-4 * np.eye(d)])
    params = MixtureParams(
        np.array([0.5, 0.5]), np.array([np.zeros(d), np.full(d, 1e2)]), cov, "full"
    )
    _, ll = chunked.e_step_stats(X, params, X.mean(axis=0))
    exact = np.logaddexp(
        np.log(0.5) + stats.multivariate_normal(params.means[0], cov[0]).logpdf(X),
        np.log(0.5) + stats.multivariate_normal(params.means[1], cov[1]).logpdf(X),
    ).sum()
    assert ll == pytest.approx(exact, rel=1e-13)


# --- the first pass ---------------------------------------------------------------------------


def test_data_moments_far_from_the_origin():
    rng = np.random.default_rng(16)
    X = 1e8 + rng.normal(size=(10_000, 2))
    mean, var = chunked.data_moments(X, block_rows=333)
    exact_mean = np.array([math.fsum(col) / len(col) for col in X.T])
    np.testing.assert_allclose(mean, exact_mean, rtol=1e-14)
    exact_var = np.array(
        [math.fsum((col - m) ** 2) / len(col) for col, m in zip(X.T, mean, strict=True)]
    )
    np.testing.assert_allclose(var, exact_var, rtol=1e-8)


def test_data_moments_name_the_bad_row():
    X = np.ones((1000, 2))
    X[617, 1] = np.nan
    with pytest.raises(ValueError, match="row 617"):
        chunked.data_moments(X, block_rows=100)


def test_init_rows_do_not_depend_on_the_container():
    da = pytest.importorskip("dask.array")
    X = np.arange(3000.0).reshape(1000, 3)
    a = chunked.init_rows(X, np.random.default_rng(0), max_rows=50)
    b = chunked.init_rows(da.from_array(X, chunks=(170, 3)), np.random.default_rng(0), 50)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (50, 3)
    np.testing.assert_array_equal(chunked.init_rows(X, np.random.default_rng(0), 5000), X)


def test_blas_limit_is_restored_after_concurrent_passes(random_params):
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    rng = np.random.default_rng(17)
    X = data(rng, n=3000)
    plan = kernels.make_plan(random_params(rng, "diag"), X.mean(axis=0))
    before = blas_threads()
    with ThreadPoolExecutor(3) as pool:
        totals = list(pool.map(lambda _: kernels.moments_over_blocks(X, plan, 100), range(6)))
    assert blas_threads() == before
    for t in totals[1:]:
        np.testing.assert_array_equal(t.moments, totals[0].moments)


@pytest.mark.parametrize("K", [2, 9])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_prior_from_blocks_equals_the_in_memory_one(covariance_type, K):
    from latentmix.priors import ConjugatePrior

    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(18)
    X = rng.normal(size=(1000, 3)) @ rng.normal(size=(3, 3)) + 50.0
    ref = ConjugatePrior.default(X, K, covariance_type)
    got = chunked.default_prior(da.from_array(X, chunks=300), K, covariance_type, "synchronous")
    np.testing.assert_allclose(got.mean, ref.mean, rtol=1e-14)
    np.testing.assert_allclose(got.scale, ref.scale, rtol=1e-12)
    assert got.degrees_of_freedom == ref.degrees_of_freedom
    assert got.mean_precision == ref.mean_precision


def test_dask_from_npy_reads_the_file(tmp_path):
    X = np.arange(70.0).reshape(35, 2)
    np.save(tmp_path / "X.npy", X)
    lazy = chunked.dask_from_npy(tmp_path / "X.npy", chunk_rows=8)
    assert lazy.chunks[0] == (8, 8, 8, 8, 3)
    np.testing.assert_array_equal(lazy.compute(scheduler="synchronous"), X)
