import numpy as np
import pytest

pytestmark = pytest.mark.compiles


def test_data_model_swaps_the_observed_data():
    import pymc as pm

    from latentmix.bayes.model import build_model
    from latentmix.params import MixtureParams, sample_mixture
    from latentmix.priors import ConjugatePrior
    from latentmix.studies.posterior import data_model, prior_key

    truth = MixtureParams(np.array([0.4, 0.6]), np.array([[0.0], [3.0]]), np.ones((2, 1)), "diag")
    X0, _ = sample_mixture(truth, 30, 0)
    X1, _ = sample_mixture(truth, 30, 1)
    prior = ConjugatePrior(1.0, np.zeros(1), 0.1, 4.0, np.ones(1))
    assert prior_key(prior) == prior_key(ConjugatePrior(1.0, np.zeros(1), 0.1, 4.0, np.ones(1)))
    swapped = data_model(X0, 2, "diag", prior)
    fresh = build_model(X1, 2, "diag", prior)
    point = fresh.initial_point()
    logp_swapped = swapped.compile_logp()
    before = logp_swapped(point)
    with swapped:
        pm.set_data({"x_data": X1})
    after = logp_swapped(point)
    assert after != before
    np.testing.assert_allclose(after, fresh.compile_logp()(point), rtol=1e-12)
