"""The analysis without the sampler: the train/test split and the diagnostics block."""

import numpy as np
import pytest

from latentmix.report.analysis import diagnostics_summary, split_rows


def test_split_rows_is_a_seeded_partition():
    train, test = split_rows(100, 0.25, 2, seed=0)
    assert len(test) == 25 and len(train) == 75
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(100))
    again = split_rows(100, 0.25, 2, seed=0)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    with pytest.raises(ValueError, match="held-out"):
        split_rows(5, 0.01, 2, seed=0)
    with pytest.raises(ValueError, match="training rows"):
        split_rows(5, 0.9, 3, seed=0)


def test_diagnostics_summary_is_the_one_diagnostics_block(shared_analysis):
    diag = diagnostics_summary(shared_analysis.idata)
    assert set(diag) == {
        "max_r_hat", "min_ess_bulk", "min_ess_tail", "n_divergent", "ebfmi", "n_chains",
        "n_draws", "n_relabelled", "relabelling", "problems",
    }  # fmt: skip
    assert diag["n_chains"] == 2 and diag["n_draws"] == 100
    assert diag == shared_analysis.diagnostics
