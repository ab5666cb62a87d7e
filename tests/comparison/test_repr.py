"""How compare() results read: short reprs, pandas frames that match the arrays, escaped HTML.

The comparison is of a K = 3, d = 4 full-covariance mixture whose posterior is faked around
the truth (``fake_idata``): no sampling, a few seconds in all.
"""

import pickle

import numpy as np
import pytest

from latentmix.comparison import compare
from latentmix.params import MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior

FEATURES = ("a", "<b>", "c", "d")


@pytest.fixture(scope="module")
def result(fake_idata):
    rng = np.random.default_rng(3)
    A = 0.3 * rng.standard_normal((3, 4, 4))
    truth = MixtureParams(
        np.array([0.5, 0.3, 0.2]),
        np.array([[0.0, 0.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0], [-5.0, 5.0, -5.0, 5.0]]),
        A @ A.transpose(0, 2, 1) + np.eye(4),
        "full",
    )
    X, _ = sample_mixture(truth, 150, random_state=4)
    X_test, _ = sample_mixture(truth, 30, random_state=5)
    return compare(
        X,
        fake_idata(truth, seed=6),
        truth,
        mle=truth,
        truth=truth,
        feature_names=FEATURES,
        X_test=X_test,
        prior=ConjugatePrior.default(X, 3, "full"),
        laplace_draws=300,
    )


def _parts(result):
    return {
        "comparison": result,
        "table": result.tables["covariances"],
        "predictive": result.predictive,
        "membership": result.membership,
        "wald": result.wald,
        "laplace": result.laplace,
    }


def test_reprs_are_a_few_lines_without_matrices(result):
    for name, part in _parts(result).items():
        text = repr(part)
        assert len(text.splitlines()) <= 15, name
        assert len(text) < 1200, name
        assert "array(" not in text and "[[" not in text, name
        assert "to_dataframe()" in text, name
    text = repr(result)
    assert "K=3, d=4" in text and "'full'" in text and "95%" in text
    assert "weights 2, means 12, covariances 30" in text
    assert "K=3, d=4" in repr(result.wald) and "(44, 44)" in repr(result.wald)


def test_html_escapes_feature_names(result):
    for name in ("comparison", "table"):
        page = _parts(result)[name]._repr_html_()
        assert "<b>" not in page, name
        assert "&lt;b&gt;" in page, name
        assert "<table" in page, name
    for name in ("predictive", "membership", "wald", "laplace"):
        assert "<table" in _parts(result)[name]._repr_html_(), name


def test_entry_frames_hold_the_entries(result):
    entries = result.all_entries()
    frame = result.to_dataframe()
    assert frame.shape[0] == len(entries) == 44 + 12 + 18
    assert list(frame.index) == [e.label for e in entries]
    for column in ("mle", "map", "mean", "lower", "upper", "wald_lower", "laplace_upper"):
        np.testing.assert_array_equal(frame[column], [getattr(e, column) for e in entries])
    cov = frame[frame["parameter"] == "covariances"]
    assert list(cov["component"]) == [k for k in range(3) for _ in range(10)]
    table = result.tables["means"].to_dataframe()
    np.testing.assert_array_equal(table["map"], result.map.means.ravel())
    assert table.loc["means[2, <b>]", "index"] == (1, 1)

    long = result.to_dataframe(long=True, derived=False)
    main = result.all_entries(derived=False)
    assert long.shape == (4 * len(main), 10)
    mle = long[long["estimator"] == "MLE"]
    np.testing.assert_array_equal(mle["value"], [e.mle for e in main])
    np.testing.assert_array_equal(mle["lower"], [e.wald_lower for e in main])
    assert set(mle["interval"]) == {"Wald"}
    post = long[long["estimator"] == "posterior"]
    np.testing.assert_array_equal(post["upper"], [e.upper for e in main])
    assert post["quantile"].isna().all() and post["outside"].isna().all()
    truth = long[long["estimator"] == "truth"]
    np.testing.assert_array_equal(truth["quantile"], [e.quantile_truth for e in main])


def test_predictive_agreement_and_membership_frames(result):
    pred = result.predictive.to_dataframe()
    assert list(pred.index) == [r.estimate for r in result.predictive.rows]
    np.testing.assert_array_equal(pred["held_out"], [r.held_out for r in result.predictive.rows])

    agree = result.agreement_dataframe()
    assert agree.shape == (len(result.agreement), 9)
    np.testing.assert_array_equal(
        agree["width_ratio_median"], [a.width_ratio_median for a in result.agreement]
    )

    m = result.membership
    n, K = m.responsibilities_map.shape
    frame = m.to_dataframe()
    assert frame.shape == (n * K, 7)
    wide = frame.pivot(index="row", columns="component", values="posterior_mean")
    np.testing.assert_array_equal(wide.to_numpy(), m.posterior_mean)
    top = m.to_dataframe(top_only=True)
    assert list(top["row"][::K]) == list(m.top)
    np.testing.assert_array_equal(top["disagreement"][::K], m.disagreement[m.top])


def test_interval_frames_hold_the_arrays(result):
    for part in (result.wald, result.laplace):
        frame = part.to_dataframe()
        assert list(frame.index) == list(part.names)
        for column in ("estimate", "standard_error", "lower", "upper"):
            np.testing.assert_array_equal(frame[column], getattr(part, column))
        assert list(zip(frame["parameter"], frame["index"], strict=True)) == list(part.keys)
    assert list(result.wald.to_dataframe()["scale"]) == list(result.wald.scales)
    assert "scale" not in result.laplace.to_dataframe()


def test_pickling_and_fields_are_unchanged(result):
    copy = pickle.loads(pickle.dumps(result))
    assert repr(copy) == repr(result)
    assert copy.tables["weights"] == result.tables["weights"]
    assert copy.wald._fields == result.wald._fields
    assert copy.wald.names == result.wald.names
