"""Optima and chains: the MLE and the MAP told apart when they are different optima (iris,
K = 3, the training rows of --test-fraction 0.2), and taken as one where they are (faithful)."""

import arviz as az
import numpy as np
import pytest

from latentmix import EMGaussianMixture
from latentmix.datasets import load
from latentmix.report.analysis import split_rows
from latentmix.report.modes import (
    SAME_PARTITION_ARI,
    check_modes,
    distinct_optima,
    modes_sentences,
    modes_warnings,
)


def _fits(X, K):
    mle = EMGaussianMixture(K, n_init=10, random_state=0).fit(X)
    em_map = EMGaussianMixture(K, prior="default", n_init=10, random_state=0).fit(X)
    return mle, em_map


def _idata(*chain_params, draws=20, seed=0):
    """One chain of draws per given parameters, all at them (weights and means nudged)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in ("weights", "means", "covariances"):
        chains = []
        for p in chain_params:
            value = getattr(p, name)
            noise = 0 if name == "covariances" else 1e-4 * rng.standard_normal(value.shape)
            chains.append(np.broadcast_to(value + noise, (draws, *value.shape)))
        out[name] = np.stack(chains)
    return az.from_dict(posterior=out)


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
    assert "started at the EM MAP" in text and "1 of 2 as the MLE does" in text


def test_one_optimum_gives_no_warning():
    X = load("faithful").data
    mle, em_map = _fits(X, 2)
    modes = check_modes(X, mle, em_map, _idata(em_map.params_, em_map.params_))
    assert modes.same_optimum is True and modes.ari_mle_map > 0.99
    assert modes.climb_log_likelihood == pytest.approx(mle.log_likelihood_, abs=1e-6)
    assert modes_warnings(modes) == []
    assert modes_sentences(modes)[0].startswith("The MLE and the MAP are one optimum")


def test_without_an_mle_only_the_chains_are_described(iris_train):
    _, em_map = _fits(iris_train, 3)
    modes = check_modes(iris_train, None, em_map, _idata(em_map.params_))
    assert modes.same_optimum is None and modes.ari_mle_map is None
    assert modes_warnings(modes) == []
    assert modes_sentences(modes)[-1].startswith("Every one of the 1 chains started")


def test_distinct_optima_counts_values_apart_by_more_than_round_off():
    assert distinct_optima([-10.0, -10.0 - 1e-9, -12.0, -12.5, np.nan]) == 3
    assert distinct_optima([]) == 0
