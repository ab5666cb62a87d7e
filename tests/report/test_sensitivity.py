"""Prior sensitivity: what "twice as strong" means, and what a stronger prior does to the MAP."""

import json

import numpy as np
import pytest

from latentmix.datasets import load
from latentmix.params import MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior
from latentmix.report import ReportSettings
from latentmix.report.sensitivity import (
    _map_fit,
    prior_sensitivity,
    scaled_prior,
    sensitivity_context,
    sensitivity_figure,
)


def _mode(prior, covariance_type):
    """The prior mode of a covariance: scale / (dof + p + 1)."""
    p = prior.mean.size if covariance_type in ("full", "tied") else 1
    return np.asarray(prior.scale) / (prior.degrees_of_freedom + p + 1)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied_diag"])
def test_twice_as_strong_doubles_pseudo_observations_and_keeps_the_location(covariance_type):
    X = load("faithful").data
    prior = ConjugatePrior.default(X, 2, covariance_type)
    d = X.shape[1]
    nu_min = d - 1 if covariance_type in ("full", "tied") else 0
    for factor in (0.5, 2.0):
        p = scaled_prior(prior, factor, covariance_type)
        p.check(d, 2, covariance_type)
        assert p.mean_precision == pytest.approx(factor * prior.mean_precision)
        assert p.degrees_of_freedom - nu_min == pytest.approx(
            factor * (prior.degrees_of_freedom - nu_min)
        )
        np.testing.assert_allclose(p.mean, prior.mean)
        np.testing.assert_allclose(_mode(p, covariance_type), _mode(prior, covariance_type))
        # The default Dirichlet is flat, and stays flat.
        np.testing.assert_allclose(p.weight_concentration, 1.0)
    assert scaled_prior(prior, 1.0, covariance_type).degrees_of_freedom == pytest.approx(
        prior.degrees_of_freedom
    )


def test_dirichlet_concentration_above_one_is_scaled():
    prior = ConjugatePrior(np.array([3.0, 0.5]), np.zeros(1), 1.0, 3.0, np.eye(1))
    np.testing.assert_allclose(scaled_prior(prior, 2.0, "full").weight_concentration, [5.0, 1.0])
    np.testing.assert_allclose(scaled_prior(prior, 0.5, "full").weight_concentration, [2.0, 0.25])
    with pytest.raises(ValueError, match="positive"):
        scaled_prior(prior, 0.0, "full")


def test_one_component_map_mean_is_the_conjugate_update():
    rng = np.random.default_rng(3)
    X = rng.normal([4.0, -2.0], [1.0, 0.5], size=(40, 2))
    prior = ConjugatePrior(1.0, np.zeros(2), 5.0, 4.0, np.eye(2))
    settings = ReportSettings(1, "full", seed=0).check()
    start = MixtureParams(np.ones(1), X.mean(0, keepdims=True), np.cov(X.T)[None], "full")
    for factor in (0.5, 2.0):
        p = scaled_prior(prior, factor, "full")
        fitted = _map_fit(X, settings, p, start, None)
        kappa = p.mean_precision
        expected = (len(X) * X.mean(0) + kappa * p.mean) / (len(X) + kappa)
        np.testing.assert_allclose(fitted.means[0], expected, rtol=1e-6)


def test_a_stronger_prior_pulls_the_map_towards_the_prior_mean(fake_analysis):
    truth = MixtureParams(
        np.array([0.5, 0.5]), np.array([[-3.0, 0.0], [3.0, 1.0]]),
        np.array([np.eye(2), np.eye(2)]), "full",
    )  # fmt: skip
    from latentmix.datasets import Dataset

    X = sample_mixture(truth, 80, random_state=1)[0]
    analysis = fake_analysis(Dataset("two", X, ("a", "b")), 2)
    comp = analysis.comparison
    # A prior worth something: a mean far from the data's, 10 observations' worth.
    prior = ConjugatePrior(1.0, np.array([0.0, 8.0]), 10.0, 4.0, np.eye(2))
    sens = prior_sensitivity(X, analysis.settings.check(), prior, comp.map, comp)
    is_mean = np.array([g == "means" for g, _ in sens.keys])
    m0 = np.array([prior.mean[i[-1]] for g, i in sens.keys if g == "means"])
    weak = np.abs(sens.map["weaker"][is_mean] - m0)
    strong = np.abs(sens.map["stronger"][is_mean] - m0)
    assert np.all(strong < weak)
    # The default is the report's MAP itself.
    np.testing.assert_allclose(sens.map["default"][is_mean], comp.map.means.ravel())
    shifts = sens.shifts()
    assert set(shifts) == {"weaker", "stronger"}
    assert sens.posterior_mean is None
    json.dumps(sens.to_dict())


def test_section_and_figure(fake_analysis):
    analysis = fake_analysis(load("faithful"), 2)
    comp = analysis.comparison
    sens = prior_sensitivity(
        analysis.X, analysis.settings.check(), analysis.prior, comp.map, comp, vb=analysis.vb
    )
    ctx = sensitivity_context(sens)
    shown = [float(r["shift"]) for r in ctx["rows"]]
    assert shown == sorted(shown, reverse=True)
    assert ctx["n_entries"] == len(sens.labels) and ctx["has_vb"] and not ctx["has_posterior"]
    assert sensitivity_context(None) is None
    fig = sensitivity_figure(sens)
    (ax,) = fig.axes
    assert len(ax.get_yticks()) == len(sens.labels)
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert "MAP, prior twice as strong" in labels
