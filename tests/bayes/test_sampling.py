"""Sampling the posterior: nutpie and PyMC, relabelled draws, diagnostics, recovery.

Small runs (2 chains x 300 draws) on one compiled model shared by the module.
"""

import warnings

import arviz as az
import numpy as np
import pytest

from latentmix import EMGaussianMixture, MixtureParams, PyMCGaussianMixture, relabel
from latentmix.bayes.diagnostics import SamplingWarning
from latentmix.bayes.sample import sampler_seed
from latentmix.datasets import make_synthetic
from latentmix.matching import match_components

TRUTH = MixtureParams(
    weights=np.array([0.4, 0.6]),
    means=np.array([[0.0, 0.0], [4.0, 3.0]]),
    covariances=np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.8, -0.2], [-0.2, 1.2]]]),
)


@pytest.fixture(scope="module")
def data():
    # random_state=10 gives a draw whose per-component sample proportions, means and
    # covariances sit close to the truth, so that the recovery check is about the sampler
    # rather than about an unlucky data set (with seed 11 the sample has 44.5% of its rows
    # in the 40% component and the truth sits at the edge of the weights' interval).
    return make_synthetic(TRUTH, 400, random_state=10).data


def _fit_recording(gm, X, **kwargs):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", SamplingWarning)
        gm.fit(X, **kwargs)
    sampling = [w for w in record if issubclass(w.category, SamplingWarning)]
    # Anything else would have been an error under filterwarnings=error.
    for w in record:
        if not issubclass(w.category, SamplingWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return gm, sampling


@pytest.fixture(scope="module")
def fitted(data):
    gm = PyMCGaussianMixture(2)
    return _fit_recording(gm, data, draws=300, tune=300, chains=2, random_state=0)


@pytest.mark.compiles
def test_idata_groups_dims_and_reference(fitted, data):
    gm, _ = fitted
    idata = gm.idata_
    for group in ("posterior", "sample_stats", "observed_data", "reference"):
        assert hasattr(idata, group), group
    post = idata.posterior
    assert post["weights"].dims == ("chain", "draw", "component")
    assert post["means"].dims == ("chain", "draw", "component", "feature")
    assert post["covariances"].dims == ("chain", "draw", "component", "feature", "feature_bis")
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 300
    assert post.attrs["sampler"] == "nutpie"
    assert post.attrs["relabelling"] == "assignment"
    assert 0 <= post.attrs["n_relabelled"] <= 600
    for step in ("compile", "sample", "relabel"):
        assert post.attrs[f"{step}_seconds"] > 0, step
    assert idata.sample_stats["component_order"].dims == ("chain", "draw", "component")
    assert "diverging" in idata.sample_stats and "energy" in idata.sample_stats
    np.testing.assert_array_equal(idata.observed_data["x"].values, data)
    # The reference is the EM MAP under the same prior, with its objective.
    ref = idata.reference
    em = EMGaussianMixture(2, prior=gm.prior_, random_state=0).fit(data)
    np.testing.assert_allclose(ref["means"].values, em.means_, rtol=1e-6)
    assert ref.attrs["source"] == "em_map"
    assert ref.attrs["objective"] == pytest.approx(em.objective_, rel=1e-9)
    np.testing.assert_array_equal(gm.reference_.means, ref["means"].values)


@pytest.mark.compiles
def test_posterior_recovers_the_truth(fitted):
    gm, _ = fitted
    post = gm.idata_.posterior
    # order the truth like the reference (the EM MAP) before comparing
    truth = TRUTH.permute(match_components(TRUTH, gm.reference_))
    checks = {
        "weights": (post["weights"].values, truth.weights),
        "means": (post["means"].values, truth.means),
        "variances": (
            np.diagonal(post["covariances"].values, axis1=-2, axis2=-1),
            np.diagonal(truth.covariances, axis1=-2, axis2=-1),
        ),
        "covariance": (post["covariances"].values[..., 0, 1], truth.covariances[:, 0, 1]),
    }
    for name, (draws, true) in checks.items():
        flat = draws.reshape(-1, *draws.shape[2:])
        low, high = np.quantile(flat, [0.025, 0.975], axis=0)
        assert np.all((low < true) & (true < high)), (name, low, true, high)


@pytest.mark.compiles
def test_problems_are_warned_exactly_when_found(fitted):
    gm, sampling_warnings = fitted
    diagnostics = gm.diagnostics_
    assert bool(sampling_warnings) == (not diagnostics.ok)
    for problem in diagnostics.problems:
        assert problem in str(sampling_warnings[0].message)
    rhat = az.rhat(gm.idata_, var_names=["weights", "means", "covariances"])
    assert diagnostics.max_r_hat == pytest.approx(max(float(rhat[v].max()) for v in rhat))
    assert diagnostics.n_divergent == int(gm.idata_.sample_stats["diverging"].sum())
    assert (diagnostics.n_chains, diagnostics.n_draws) == (2, 300)
    assert diagnostics.n_relabelled == gm.idata_.posterior.attrs["n_relabelled"]
    assert diagnostics.n_switched == gm.idata_.posterior.attrs["n_switched"]
    assert diagnostics.relabelling == "assignment"
    record = diagnostics.to_dict()
    assert record["max_r_hat"] == diagnostics.max_r_hat
    assert set(record) == {
        "max_r_hat",
        "min_ess_bulk",
        "min_ess_tail",
        "n_divergent",
        "ebfmi",
        "n_chains",
        "n_draws",
        "n_relabelled",
        "n_switched",
        "relabelling",
        "problems",
    }


@pytest.mark.compiles
def test_posterior_mean_and_map_agree_roughly(fitted):
    gm, _ = fitted
    sd = gm.idata_.posterior["means"].std(("chain", "draw")).values
    assert np.all(np.abs(gm.posterior_mean_.means - gm.reference_.means) < 3 * sd)
    assert gm.posterior_mean_.weights.sum() == pytest.approx(1.0)


@pytest.mark.compiles
def test_stephens_agrees_with_assignment_on_separated_clusters(fitted):
    gm, _ = fitted
    again = relabel(gm.idata_, gm.reference_, relabelling="stephens")
    np.testing.assert_array_equal(
        again.posterior["means"].values, gm.idata_.posterior["means"].values
    )
    assert again.posterior.attrs["relabelling"] == "stephens"


@pytest.mark.compiles
def test_idata_round_trips_through_netcdf(fitted, tmp_path):
    gm, _ = fitted
    path = tmp_path / "posterior.nc"
    gm.idata_.to_netcdf(path)
    back = az.from_netcdf(path)
    assert back.reference.attrs["source"] == "em_map"
    np.testing.assert_array_equal(
        back.posterior["covariances"].values, gm.idata_.posterior["covariances"].values
    )


@pytest.mark.compiles
def test_pymc_sampler_with_a_given_reference(data):
    X = data[:120]
    reference = EMGaussianMixture(
        2, covariance_type="spherical", prior="default", random_state=0
    ).fit(X)
    gm, sampling_warnings = _fit_recording(
        PyMCGaussianMixture(2, covariance_type="spherical"),
        X,
        draws=100,
        tune=150,
        chains=2,
        random_state=np.random.default_rng(2),
        sampler="pymc",
        reference=reference.params_,
    )
    post = gm.idata_.posterior
    assert post.attrs["sampler"] == "pymc"
    assert post.attrs["compile_seconds"] == 0.0 and post.attrs["sample_seconds"] > 0
    assert post["covariances"].dims == ("chain", "draw", "component")
    assert gm.idata_.reference.attrs["source"] == "user"
    assert bool(sampling_warnings) == (not gm.diagnostics_.ok)


def test_fit_refuses_runs_too_small_to_diagnose(data):
    with pytest.raises(ValueError, match="chains >= 2"):
        PyMCGaussianMixture(2).fit(data, chains=1)
    with pytest.raises(ValueError, match="draws >= 100"):
        PyMCGaussianMixture(2).fit(data, draws=20)


def test_fit_bad_arguments(data):
    with pytest.raises(ValueError, match="sampler must be one of nutpie, pymc"):
        PyMCGaussianMixture(2).fit(data, sampler="stan")
    with pytest.raises(ValueError, match="tune must be"):
        PyMCGaussianMixture(2).fit(data, tune=-1)
    with pytest.raises(ValueError, match="relabelling must be one of"):
        PyMCGaussianMixture(2).fit(data, relabelling="ecr")
    with pytest.raises(ValueError, match="reference has covariance_type 'full'"):
        PyMCGaussianMixture(2, covariance_type="diag").fit(data, reference=TRUTH)
    with pytest.raises(ValueError, match=r"reference.weights has shape \(2,\); expected \(3,\)"):
        PyMCGaussianMixture(3).fit(data, reference=TRUTH)


def test_sampler_seed_is_an_int_from_any_random_state():
    assert sampler_seed(None) is None
    assert sampler_seed(np.int64(7)) == 7 and type(sampler_seed(np.int64(7))) is int
    first = sampler_seed(np.random.default_rng(3))
    assert type(first) is int and first == sampler_seed(np.random.default_rng(3))
    with pytest.raises(ValueError, match="random_state must be"):
        sampler_seed(1.5)


def _posterior(draws, chains):
    import xarray as xr

    weights = np.full((chains, draws, 2), 0.5)
    return az.InferenceData(
        posterior=xr.Dataset({"weights": (("chain", "draw", "component"), weights)})
    )


class _FakeRun:
    """nutpie's background sampler: ``wait`` gives ``result`` or raises it."""

    def __init__(self, result):
        self.result, self.cancelled = result, False

    def wait(self, *, timeout=None):
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def cancel(self):
        self.cancelled = True


@pytest.fixture
def fake_nutpie(monkeypatch):
    import nutpie

    runs = []

    def sample(compiled, *, blocking=True, **kwargs):
        assert blocking is False  # a blocking call would turn Ctrl-C into a partial trace
        return runs[-1]

    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model, **kwargs: object())
    monkeypatch.setattr(nutpie, "sample", sample)
    return runs


def test_ctrl_c_during_nutpie_sampling_is_an_interrupt_not_a_partial_trace(fake_nutpie):
    from latentmix.bayes.sample import sample_model

    run = _FakeRun(KeyboardInterrupt())
    fake_nutpie.append(run)
    with pytest.raises(KeyboardInterrupt, match="sampling was interrupted; its draws were"):
        sample_model(object(), draws=50, tune=50, chains=1, random_state=0)
    assert run.cancelled
    fake_nutpie.append(_FakeRun(_posterior(50, 1)))
    idata = sample_model(object(), draws=50, tune=50, chains=1, random_state=0)
    assert idata.posterior.attrs["sample_seconds"] >= 0


@pytest.mark.parametrize(("draws", "chains"), [(0, 1), (20, 2), (50, 1)])
def test_a_partial_trace_from_either_sampler_is_an_interrupt(
    fake_nutpie, monkeypatch, draws, chains
):
    import pymc as pm

    from latentmix.bayes.sample import sample_model

    message = f"sampling stopped after {draws} of 50 draws in {chains} of 2 chains"
    fake_nutpie.append(_FakeRun(_posterior(draws, chains)))
    with pytest.raises(KeyboardInterrupt, match=message):
        sample_model(object(), draws=50, tune=50, chains=2)
    # PyMC catches Ctrl-C itself and returns what it has.
    monkeypatch.setattr(pm, "sample", lambda **kwargs: _posterior(draws, chains))
    with pm.Model() as model, pytest.raises(KeyboardInterrupt, match=message):
        sample_model(model, draws=50, tune=50, chains=2, sampler="pymc")
