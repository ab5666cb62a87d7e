"""EM with missing cells: patterns, the marginal E-step, the M-step statistics, imputation."""

import numpy as np
import pytest

from latentmix.em.missing import missingness_patterns


def test_patterns_group_rows_and_put_complete_first():
    X = np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0], [np.nan] * 3, [4.0, np.nan, 5.0]])
    patterns, index = missingness_patterns(X)
    np.testing.assert_array_equal(
        patterns, [[True, True, True], [True, False, True], [False, False, False]]
    )
    np.testing.assert_array_equal(index, [1, 0, 2, 1])
    np.testing.assert_array_equal(patterns[index], ~np.isnan(X))


def test_patterns_of_complete_data_are_one():
    patterns, index = missingness_patterns(np.ones((4, 2)))
    np.testing.assert_array_equal(patterns, [[True, True]])
    np.testing.assert_array_equal(index, np.zeros(4))


def test_patterns_refuse_1d():
    with pytest.raises(ValueError, match="2-D"):
        missingness_patterns(np.ones(3))
