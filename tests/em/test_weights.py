"""Observation weights: every bad input, the weighted kernel, integer weights == repeated rows."""

import numpy as np
import pytest

from latentmix.validation import check_sample_weight


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (np.ones(4), "has 4 weights but X has 5 rows"),
        (np.ones((5, 1)), "must be 1-D"),
        ([1, 1, -1, 1, 1], "negative value.*row 2"),
        ([1, 1, np.nan, 1, 1], "NaN or infinite.*row 2"),
        ([1, np.inf, 1, 1, 1], "NaN or infinite.*row 1"),
        (np.zeros(5), "zero for every row"),
        (["a", 1, 1, 1, 1], "must be numbers"),
    ],
)
def test_bad_weights_are_refused_with_the_reason(weights, match):
    with pytest.raises(ValueError, match=match):
        check_sample_weight(weights, 5)


def test_good_weights_pass_as_float():
    w = check_sample_weight([0, 1, 2, 0.5, 3], 5)
    assert w.dtype == float
    np.testing.assert_array_equal(w, [0, 1, 2, 0.5, 3])
