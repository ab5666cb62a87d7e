"""Fitting data read block by block: dask arrays, NumPy memmaps and a dask.distributed cluster.

Each fit is compared with the in-memory fit of the same rows, same seed and settings: the
only difference is the order in which block sums are added, so they agree to round-off.
Fixed iteration counts (tol = 0) keep the comparison free of a stopping decision that
round-off could tip by one iteration.
"""

import numpy as np
import pytest

from latentmix import EMGaussianMixture
from latentmix.em import chunked
from latentmix.em.fit import ConvergenceWarning, EMOptions, run_em
from latentmix.em.init import initial_params
from latentmix.params import COVARIANCE_TYPES, MixtureParams, sample_mixture

da = pytest.importorskip("dask.array")


def mixture_data(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    truth = MixtureParams(
        np.array([0.3, 0.3, 0.4]),
        np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 5.0, -2.0]]) + 100.0,
        np.stack([np.eye(3), np.diag([2.0, 0.5, 1.0]), np.eye(3) * 1.5]),
        "full",
    )
    return sample_mixture(truth, n, rng)[0]


def fit(X, covariance_type, n_init=2, **settings):
    model = EMGaussianMixture(
        3,
        covariance_type=covariance_type,
        n_init=n_init,
        tol=0.0,
        max_iter=40,
        random_state=5,
        **settings,
    )
    with pytest.warns(ConvergenceWarning):
        return model.fit(X)


def assert_same_fit(got, ref, rtol=1e-10):
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=rtol)
    assert got.n_iter_ == ref.n_iter_
    for name in ("weights_", "means_", "covariances_"):
        a, b = getattr(got, name), getattr(ref, name)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max(), err_msg=name)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_dask_fit_equals_in_memory_fit(covariance_type):
    X = mixture_data()
    ref = fit(X, covariance_type)
    # Uneven chunks, split along columns too: they are merged to whole rows.
    got = fit(da.from_array(X, chunks=(400, 2)), covariance_type, scheduler="synchronous")
    assert_same_fit(got, ref)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_memmap_fit_equals_in_memory_fit(covariance_type, tmp_path):
    X = mixture_data()
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert isinstance(X_map, np.memmap)
    assert_same_fit(fit(X_map, covariance_type), fit(X, covariance_type))


def test_blocked_run_equals_one_block_run():
    X = mixture_data(seed=1)
    start = initial_params(X, 3, "full", np.random.default_rng(0))
    whole = run_em(X, start, EMOptions(tol=0.0, max_iter=30, block_rows=10**9))
    blocked = run_em(X, start, EMOptions(tol=0.0, max_iter=30, block_rows=97))
    assert blocked.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-10)
    np.testing.assert_allclose(blocked.params.covariances, whole.params.covariances, rtol=1e-10)


def test_subsampled_starts_agree_across_containers(monkeypatch):
    # Above INIT_SAMPLE_ROWS the starts come from a sample of rows; the same rows whatever
    # holds the data.
    monkeypatch.setattr(chunked, "INIT_SAMPLE_ROWS", 300)
    X = mixture_data(seed=2)
    ref = fit(X, "full")
    got = fit(da.from_array(X, chunks=500), "full", scheduler="threads")
    assert_same_fit(got, ref)


@pytest.mark.cluster
def test_local_cluster_fit_agrees():
    from distributed import Client, LocalCluster

    X = mixture_data(seed=3)
    ref = fit(X, "full", n_init=1)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        got = fit(da.from_array(X, chunks=(300, 3)), "full", n_init=1, scheduler=client)
    assert_same_fit(got, ref)


def test_default_settings_converge_to_the_same_fit():
    X = mixture_data(seed=4)
    ref = EMGaussianMixture(3, n_init=2, random_state=0).fit(X)
    got = EMGaussianMixture(3, n_init=2, random_state=0).fit(da.from_array(X, chunks=700))
    assert got.converged_
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-10)


def test_dask_input_errors():
    X = mixture_data(n=200)
    X[123, 1] = np.nan
    with pytest.raises(ValueError, match="row 123"):
        EMGaussianMixture(3).fit(da.from_array(X, chunks=50))
    with pytest.raises(ValueError, match="2-D"):
        EMGaussianMixture(3).fit(da.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="at least as many samples"):
        EMGaussianMixture(5).fit(da.zeros((3, 2)))
    with pytest.raises(ValueError, match="scheduler must be"):
        EMGaussianMixture(3, scheduler="nonsense").fit(da.from_array(mixture_data(n=100)))
    with pytest.raises(ValueError, match="keep_trajectory"):
        EMGaussianMixture(3, keep_trajectory=True).fit(da.from_array(mixture_data(n=100)))


@pytest.mark.parametrize("name", [None, "threads", "synchronous", "processes"])
def test_dask_scheduler_passes_dask_names_and_none_through(name):
    # None is dask's current default: nothing is started, dask.compute decides.
    with chunked.dask_scheduler(name) as where:
        assert where == name


def test_dask_scheduler_rejects_anything_else():
    for bad in ("serial", 3, object()):
        with (
            pytest.raises(ValueError, match="scheduler must be None, one of threads"),
            chunked.dask_scheduler(bad),
        ):
            pass


@pytest.mark.cluster
def test_local_scheduler_takes_the_cluster_settings():
    settings = {"n_workers": 2, "threads_per_worker": 1}
    with chunked.dask_scheduler("local", local_cluster=settings) as client:
        info = client.scheduler_info()
        assert len(info["workers"]) == 2
        assert all(w["nthreads"] == 1 for w in info["workers"].values())
    assert client.status == "closed"  # shut down with the context


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_an_extreme_scale_is_said_for_blocked_data_too(tmp_path, scale):
    X = mixture_data(n=200) * scale
    np.save(tmp_path / "x.npy", X)
    for blocked in (da.from_array(X, chunks=50), np.load(tmp_path / "x.npy", mmap_mode="r")):
        with pytest.raises(ValueError, match="the scale of the data is extreme"):
            EMGaussianMixture(2).fit(blocked)
