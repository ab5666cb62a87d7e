"""Optima and chains: the MLE and the MAP told apart when they are different optima (iris,
K = 3, the training rows of --test-fraction 0.2), and taken as one where they are (faithful)."""

from types import SimpleNamespace

import arviz as az
import numpy as np
import pytest

from latentmix import EMGaussianMixture
from latentmix.comparison.membership import adjusted_rand_index
from latentmix.datasets import load
from latentmix.matching import match_components
from latentmix.report.analysis import split_rows
from latentmix.report.modes import (
    PEAK_CHECK,
    SAME_PARTITION_ARI,
    Modes,
    check_modes,
    count_peaks,
    distinct_optima,
    hard_labels,
    map_optima,
    modes_sentences,
    modes_warnings,
    multimodal_entries,
)


def _fits(X, K):
    mle = EMGaussianMixture(K, n_init=10, random_state=0).fit(X)
    em_map = EMGaussianMixture(K, prior="default", n_init=10, random_state=0).fit(X)
    return mle, em_map


def _idata(*chain_params, draws=20, seed=0, chain_start=None):
    """One chain of draws per given parameters, all at them (weights and means nudged).

    ``chain_start``: the optimum each chain started at, as the estimator records it (with
    ``n_starts`` one more than the largest); not recorded if not given.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name in ("weights", "means", "covariances"):
        chains = []
        for p in chain_params:
            value = getattr(p, name)
            noise = 0 if name == "covariances" else 1e-4 * rng.standard_normal(value.shape)
            chains.append(np.broadcast_to(value + noise, (draws, *value.shape)))
        out[name] = np.stack(chains)
    idata = az.from_dict(posterior=out)
    if chain_start is not None:
        idata.posterior.attrs.update(n_starts=max(chain_start) + 1, chain_start=chain_start)
    return idata


@pytest.fixture(scope="module")
def iris_train():
    X = load("iris").data
    train, _ = split_rows(len(X), 0.2, 3, 0)
    return X[train]


def test_different_optima_are_told_apart_and_a_chain_at_the_mle_is_flagged(iris_train):
    mle, em_map = _fits(iris_train, 3)
    modes = check_modes(iris_train, mle, em_map, _idata(em_map.params_, mle.params_))
    assert modes.same_optimum is False
    assert modes.ari_mle_map < SAME_PARTITION_ARI
    # EM for the likelihood from the MAP stops at a lower local maximum than the MLE.
    assert modes.climb_log_likelihood < modes.mle_log_likelihood - 1
    assert modes.n_map_optima > 1 and 0 < modes.n_reach_map < modes.n_map_restarts
    assert modes.chain_ari_map[0] == pytest.approx(1.0) and modes.chain_ari_mle[1] > 0.99
    warnings = modes_warnings(modes)
    assert warnings[0].startswith("The MLE and the MAP are different optima")
    assert "two answers" in warnings[0]
    assert warnings[1].startswith("Chain(s) 2 left the MAP's optimum")
    text = " ".join(modes_sentences(modes))
    assert "started near the EM MAP" in text and "1 of 2 as the MLE does" in text
    # Every chain at the MAP (--chain-starts map) although the restarts found several optima.
    assert f"though the MAP's restarts found {modes.n_map_optima} distinct optima" in text


def test_one_optimum_gives_no_warning():
    X = load("faithful").data
    mle, em_map = _fits(X, 2)
    modes = check_modes(X, mle, em_map, _idata(em_map.params_, em_map.params_))
    assert modes.same_optimum is True and modes.ari_mle_map > 0.99
    assert modes.climb_log_likelihood == pytest.approx(mle.log_likelihood_, abs=1e-6)
    assert modes_warnings(modes) == []
    assert modes_sentences(modes)[0].startswith("The MLE and the MAP are one optimum")
    assert "distinct optima" not in " ".join(modes_sentences(modes))


def test_without_an_mle_only_the_chains_are_described(iris_train):
    _, em_map = _fits(iris_train, 3)
    modes = check_modes(iris_train, None, em_map, _idata(em_map.params_))
    assert modes.same_optimum is None and modes.ari_mle_map is None
    assert modes_warnings(modes) == []
    assert modes_sentences(modes)[-1].startswith("Every one of the 1 chains started")


def test_distinct_optima_counts_values_apart_by_more_than_round_off():
    assert distinct_optima([-10.0, -10.0 - 1e-9, -12.0, -12.5, np.nan]) == 3
    assert distinct_optima([]) == 0


def test_map_optima_are_distinct_best_first_and_in_the_reference_order(iris_train):
    _, em_map = _fits(iris_train, 3)
    optima = map_optima(iris_train, em_map)
    assert len(optima) >= 2 and optima[0].params is em_map.params_
    assert optima[0].objective == em_map.objective_
    objectives = [o.objective for o in optima]
    assert np.all(np.diff(objectives) < -1e-6 * abs(objectives[0]))
    labels = [hard_labels(iris_train, o.params) for o in optima]
    for i in range(len(optima)):
        for j in range(i):
            assert adjusted_rand_index(labels[i], labels[j]) < SAME_PARTITION_ARI
    # Every restart counted once, at the optimum it reached.
    assert sum(o.n_restarts for o in optima) == sum(not r["degenerate"] for r in em_map.restarts_)
    # In another component order, the reference's: the first is the reference itself and the
    # others line up with it.
    reference = em_map.params_.permute([2, 0, 1])
    reordered = map_optima(iris_train, em_map, reference)
    assert reordered[0].params is reference
    for o in reordered:
        np.testing.assert_array_equal(match_components(o.params, reference), [0, 1, 2])
    np.testing.assert_allclose([o.objective for o in reordered], objectives)


def test_one_optimum_when_every_restart_reaches_the_map():
    X = load("faithful").data
    _, em_map = _fits(X, 2)
    (optimum,) = map_optima(X, em_map)
    assert optimum.params is em_map.params_ and optimum.n_restarts == len(em_map.restarts_)


def test_chains_from_two_optima_that_stay_apart_are_a_multimodal_posterior(iris_train):
    mle, em_map = _fits(iris_train, 3)
    optima = map_optima(iris_train, em_map)
    idata = _idata(em_map.params_, optima[1].params, em_map.params_, chain_start=[0, 1, 0])
    modes = check_modes(iris_train, mle, em_map, idata, optima=optima)
    assert modes.chain_start == [0, 1, 0] and modes.chain_optimum == [0, 1, 0]
    assert modes.optima_objectives == [o.objective for o in optima]
    assert modes.optima_restarts == [o.n_restarts for o in optima]
    text = " ".join(modes_sentences(modes))
    gap = optima[0].objective - optima[1].objective
    assert "chains 1 and 3 at optimum 1, the MAP (objective" in text
    assert f"chain 2 at optimum 2 (objective {optima[1].objective:.2f}, {gap:.2f} below" in text
    assert "The chains ended in different optima: the posterior has several modes" in text
    warnings = modes_warnings(modes)
    assert "started at 2 optima of the MAP's restarts" in warnings[0]
    (apart,) = [w for w in warnings if w.startswith("The chains ended in different optima")]
    assert "chains 1 and 3 at optimum 1 (the MAP); chain 2 at optimum 2." in apart
    assert "not because a chain failed to converge" in apart
    assert f"optimum 2's is {gap:.2f} lower" in apart and "chain_optimum" in apart


def test_chains_from_two_optima_that_meet_are_one_mode(iris_train):
    _, em_map = _fits(iris_train, 3)
    optima = map_optima(iris_train, em_map)
    idata = _idata(em_map.params_, em_map.params_, chain_start=[0, 1])
    # Chain 2 reached the MAP's mode with two components swapped: every draw relabelled alike.
    order = np.broadcast_to([[0, 1, 2], [0, 2, 1]], (20, 2, 3)).transpose(1, 0, 2)
    idata.add_groups(sample_stats={"component_order": order})
    modes = check_modes(iris_train, None, em_map, idata, optima=optima)
    assert modes.chain_optimum == [0, 0] and modes.chain_reordered == [False, True]
    text = modes_sentences(modes)[-1]
    assert "every chain at optimum 1 (the MAP), so the other optima held no chain" in text
    assert "moved every draw of chain 2 by one permutation: it settled" in text
    (warning,) = modes_warnings(modes)
    assert warning.startswith("The relabelled draws counted above include every draw of chain 2")


@pytest.mark.parametrize(
    ("name", "peaks"),
    [
        ("normal", 1),
        ("gamma", 1),
        ("lognormal", 1),
        ("t3", 1),
        ("halves", 2),
        ("90/10", 2),
    ],
)
def test_count_peaks_on_known_shapes(name, peaks):
    rng = np.random.default_rng(3)
    draws = {
        "normal": lambda: rng.normal(size=4000),
        "gamma": lambda: rng.gamma(2.0, size=4000),
        "lognormal": lambda: rng.lognormal(0.0, 1.0, 4000),
        "t3": lambda: rng.standard_t(3, 4000),
        "halves": lambda: np.r_[rng.normal(0, 1, 2000), rng.normal(4, 1, 2000)],
        "90/10": lambda: np.r_[rng.normal(0, 1, 3600), rng.normal(5, 0.5, 400)],
    }[name]()
    assert count_peaks(draws) == peaks
    assert count_peaks(np.full(10, 2.0)) == 1  # no spread: one peak


def test_a_bimodal_marginal_is_flagged_by_label_and_names_the_check():
    rng = np.random.default_rng(0)
    bimodal = np.r_[rng.normal(0, 1, 500), rng.normal(5, 1, 500)].reshape(2, 500)
    posterior = {
        "weights": np.full((2, 500, 2), 0.5),
        "means": np.stack([rng.normal(size=(2, 500)), bimodal], axis=-1)[..., None],
    }
    idata = az.from_dict(posterior=posterior)
    entries = [
        SimpleNamespace(parameter="means", index=(0, 0), label="means[1, x]"),
        SimpleNamespace(parameter="means", index=(1, 0), label="means[2, x]"),
    ]
    comparison = SimpleNamespace(tables={"means": SimpleNamespace(entries=entries)})
    assert multimodal_entries(idata, comparison) == ["means[2, x]"]
    modes = check_modes_stub(multimodal=["means[2, x]"])
    (warning,) = modes_warnings(modes)
    assert "means[2, x]" in warning and PEAK_CHECK in warning


def check_modes_stub(**fields):
    """A Modes of one optimum and one chain at the MAP, with ``fields`` replaced."""
    base = dict(
        ari_mle_map=1.0,
        climb_log_likelihood=0.0,
        climb_collapsed=False,
        mle_log_likelihood=0.0,
        same_optimum=True,
        n_map_optima=1,
        n_reach_map=1,
        n_map_restarts=1,
        chain_ari_map=[1.0],
        chain_ari_mle=[1.0],
        multimodal=[],
    )
    return Modes(**{**base, **fields})
