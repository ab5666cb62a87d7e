"""The report's figures: what they plot is what the mixture says."""

import numpy as np
from scipy import stats

from latentmix.comparison import compare, posterior_draws
from latentmix.params import MixtureParams, sample_mixture
from latentmix.report import figures


def test_one_dimensional_density_figure(fake_idata):
    params = MixtureParams(
        np.array([0.3, 0.7]), np.array([[-2.0], [3.0]]), np.array([[[1.0]], [[2.0]]]), "full"
    )
    X = sample_mixture(params, 100, random_state=0)[0]
    idata = fake_idata(params, draws=50, seed=1)
    comp = compare(X, idata, params, mle=params._replace(means=params.means + 0.1))
    fig = figures.density_1d(X, comp, posterior_draws(idata, "full"), comp.level)
    ax = fig.axes[0]
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert labels == {
        "data", "posterior 95% band", "posterior predictive", "MLE plug-in", "MAP plug-in",
    }  # fmt: skip
    # The plotted MAP curve is the mixture density.
    x, y = ax.get_lines()[-1].get_data()
    direct = 0.3 * stats.norm(-2, 1).pdf(x) + 0.7 * stats.norm(3, np.sqrt(2)).pdf(x)
    np.testing.assert_allclose(y, direct, rtol=1e-10)


def test_components_are_labelled_from_one(shared_analysis):
    comp = shared_analysis.comparison
    fig = figures.membership(shared_analysis.X, comp)
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert "EM MAP responsibility, component 1" in labels
    assert not any("component 0" in label for label in labels)
