"""The report's figures: what they plot is what the mixture says."""

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from scipy import stats

from latentmix.comparison import compare, posterior_draws
from latentmix.datasets import load
from latentmix.params import MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior
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


# --- the prior on the marginal panels -------------------------------------------------------


def _prior_draws(prior, K, covariance_type, n=1500, seed=0):
    from latentmix.priors import sample_prior

    rng = np.random.default_rng(seed)
    return [sample_prior(prior, K, covariance_type, rng) for _ in range(n)]


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_prior_marginals_are_the_priors_draws(covariance_type):
    prior = ConjugatePrior(
        np.array([1.0, 2.5]), np.array([1.0, -1.0]), 0.5, 6.0,
        {"full": np.array([[2.0, 0.6], [0.6, 1.0]]), "diag": np.array([2.0, 1.0]),
         "spherical": 1.5}[covariance_type],
    )  # fmt: skip
    draws = _prior_draws(prior, 2, covariance_type)
    keys = [("weights", (1,)), ("means", (0, 1))]
    keys.append(("covariances", {"full": (1, 0, 0), "diag": (1, 0), "spherical": (1,)}
                 [covariance_type]))  # fmt: skip
    for group, index in keys:
        dist = figures.prior_marginal(prior, group, index, covariance_type, 2)
        values = [float(np.asarray(getattr(p, group))[index]) for p in draws]
        assert stats.kstest(values, dist.cdf).pvalue > 1e-3, (group, index)
    if covariance_type == "full":
        assert figures.prior_marginal(prior, "covariances", (0, 0, 1), "full", 2) is None
        offdiag = figures.prior_offdiagonal_draws(prior, 3000)[:, 0, 1]
        values = [p.covariances[0, 0, 1] for p in draws]
        assert stats.ks_2samp(values, offdiag).pvalue > 1e-3


def test_marginal_panels_show_the_prior_and_the_posteriors_range(fake_analysis):
    analysis = fake_analysis(load("galaxies"), 3)
    comp = analysis.comparison
    draws = posterior_draws(analysis.idata, comp.covariance_type)
    fig = figures.marginals(comp, draws, "covariances", vb=analysis.vb, prior=analysis.prior)
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert "prior" in labels
    for ax, entry in zip(fig.axes, comp.tables["covariances"].entries, strict=False):
        s = draws.covariances[(slice(None), slice(None), *entry.index)].ravel()
        lo, hi = ax.get_xlim()
        assert (lo, hi) == figures.panel_limits(s, (entry.mle, entry.map, entry.truth), True)
        assert lo >= 0 and np.mean((s >= lo) & (s <= hi)) > 0.95


def test_panel_limits_cut_a_long_tail():
    rng = np.random.default_rng(0)
    s = stats.invgamma(1.2).rvs(4000, random_state=rng)
    lower, upper = np.quantile(s, [0.025, 0.975])
    lo, hi = figures.panel_limits(s, [], positive=True, margin=0.0)
    assert lo >= 0 and hi <= upper + 0.25 * (upper - lower) + 1e-12
    assert hi < np.quantile(s, 0.995)
    # A point estimate is always in view.
    assert figures.panel_limits(s, [50.0], positive=True)[1] > 50.0


# --- chains, membership ---------------------------------------------------------------------


def test_traces_side_by_side_and_rank_bars_per_chain(shared_analysis):
    comp = shared_analysis.comparison
    draws = posterior_draws(shared_analysis.idata, comp.covariance_type)
    C, S = draws.weights.shape[:2]
    fig = figures.trace_rank(comp, draws, "means")
    n = len(comp.tables["means"].entries)
    assert len(fig.axes) == 2 * n
    trace, rank = fig.axes[0], fig.axes[1]
    starts = sorted(
        line.get_xdata()[0] for line in trace.get_lines() if len(line.get_xdata()) == S
    )
    assert starts == [ch * S for ch in range(C)]
    assert len(rank.get_yticks()) == C
    # One bar per rank bin and chain, in one collection, chain 1 in the top band.
    (bars,) = [c for c in rank.collections if isinstance(c, PolyCollection)]
    paths = bars.get_paths()
    assert len(paths) == 20 * C
    bases = [path.vertices[:, 1].min() for path in paths]
    assert bases == [C - 1 - ch for ch in range(C) for _ in range(20)]


def test_membership_draws_a_subset_of_many_rows_with_the_most_disagreeing(shared_analysis):
    from dataclasses import replace

    comp, X = shared_analysis.comparison, shared_analysis.X
    n = len(X)
    whole = figures.membership(X, comp)
    assert "random" not in whole._suptitle.get_text()
    # Two rows made to disagree most: the subset always holds them.
    disagreement = np.zeros(n)
    disagreement[[3, 7]] = 0.5, 0.4
    m = replace(comp.membership, disagreement=disagreement, top=np.argsort(-disagreement))
    part = figures.membership(X, replace(comp, membership=m), max_points=40)
    (data_panel,) = [a for a in part.axes if a.get_title() == "where membership is uncertain"]
    shown = data_panel.collections[0].get_offsets()
    assert 40 <= len(shown) <= 42
    assert all((shown == X[i, :2]).all(axis=1).any() for i in (3, 7))
    title = part._suptitle.get_text()
    assert f"(a random 40 of the {n} rows, and the 2 that disagree most)" in title


def test_membership_curve_is_broken_at_gaps():
    x = np.array([9.2, 9.6, 10.0, 10.4, 16.1, 16.2, 18.5, 19.0, 19.5, 20.0, 33.0, 34.3])
    runs = figures.gap_runs(x)
    assert x[runs[0]].tolist() == [9.2, 9.6, 10.0, 10.4]
    assert all(np.diff(x[r]).max(initial=0) <= 0.05 * np.ptp(x) for r in runs)
    assert sum(r.stop - r.start for r in runs) == x.size


# --- joint views ----------------------------------------------------------------------------


def test_joint_views(shared_analysis):
    comp = shared_analysis.comparison
    draws = posterior_draws(shared_analysis.idata, comp.covariance_type)
    entries = figures.leading_entries(comp)
    K = comp.map.n_components
    assert [e.parameter for e in entries[:K]] == ["means"] * K
    assert len(entries) == figures.MAX_PAIR_ENTRIES
    m = len(entries)
    assert len(figures.posterior_pairs(comp, draws).axes) == m * m
    n_all = sum(len(comp.tables[g].entries) for g in ("weights", "means", "covariances"))
    corr = figures.posterior_correlation(comp, draws)
    image = corr.axes[0].get_images()[0].get_array()
    assert image.shape == (n_all, n_all)
    np.testing.assert_allclose(np.diag(image), 1.0)
    names, observed, replicated = figures.replicate_statistics(
        shared_analysis.X, draws, n_replicates=20
    )
    assert replicated.shape == (20, len(names)) and observed.shape == (len(names),)
    # The sd statistics of the data are the data's; the tail statistic is the largest squared
    # Mahalanobis distance, as scipy computes it from the inverse covariance.
    X = shared_analysis.X
    np.testing.assert_allclose(observed[:3], X.std(axis=0, ddof=1))
    from scipy.spatial.distance import mahalanobis

    inverse = np.linalg.inv(np.cov(X, rowvar=False))
    tails = [mahalanobis(x, X.mean(axis=0), inverse) ** 2 for x in X]
    np.testing.assert_allclose(observed[-1], max(tails), rtol=1e-10)
    # Collinear columns (a singular covariance): the pseudo-inverse's distance, not an error.
    collinear = np.column_stack([X[:, 0], 2 * X[:, 0], X[:, 1]])
    _, singular, _ = figures.replicate_statistics(collinear, draws, n_replicates=2)
    assert np.isfinite(singular[-1]) and singular[-1] > 0
    fig = figures.predictive_checks(shared_analysis.X, comp, draws)
    assert sum(ax.axison for ax in fig.axes) == len(names)
    density = figures.predictive_density(shared_analysis.X, comp, draws, n_draws=20, n_grid=40)
    assert density.axes[0].collections


# --- labels: the adjusted Rand index --------------------------------------------------------


def test_adjusted_rand_index_is_sklearns():
    from sklearn.metrics import adjusted_rand_score

    from latentmix.comparison.membership import adjusted_rand_index

    rng = np.random.default_rng(0)
    for n, a, b in ((50, 3, 3), (30, 2, 5), (7, 1, 3), (100, 4, 4)):
        x, y = rng.integers(0, a, n), rng.integers(0, b, n)
        assert adjusted_rand_index(x, y) == pytest.approx(adjusted_rand_score(x, y), abs=1e-12)
    names = np.array(["setosa", "versicolor", "virginica"])[rng.integers(0, 3, 40)]
    codes = rng.integers(0, 3, 40)
    assert adjusted_rand_index(names, codes) == pytest.approx(adjusted_rand_score(names, codes))
    assert adjusted_rand_index(names, names) == 1.0
    with pytest.raises(ValueError, match="same points"):
        adjusted_rand_index([0, 1], [0, 1, 1])


def test_labels_of_a_data_set_and_of_a_csv(tmp_path):
    from latentmix.report.labels import csv_columns, take_labels

    iris = load("iris")
    dataset, target = take_labels(iris, "iris", "Species")
    assert dataset is iris and len(np.unique(target)) == 3
    path = tmp_path / "d.csv"
    path.write_text("a,kind,b\n1,x,2\n2,y,3.5\n0.5,x,1\n")
    assert csv_columns(path, "kind", None, None) == ["a", "b"]
    with pytest.raises(ValueError, match="also in --columns"):
        csv_columns(path, "kind", ["a", "kind"], None)
    with pytest.raises(ValueError, match="no column named 'nope'"):
        csv_columns(path, "nope", None, None)
    from latentmix.datasets import read_csv

    dataset, target = take_labels(read_csv(path, ["a", "b"]), path, "kind")
    assert target.tolist() == ["x", "y", "x"] and dataset.feature_names == ("a", "b")
    # A numeric column among the features is taken out of them.
    dataset, target = take_labels(read_csv(path, ["a", "b"]), path, "b")
    assert dataset.feature_names == ("a",) and target.tolist() == [2.0, 3.5, 1.0]
