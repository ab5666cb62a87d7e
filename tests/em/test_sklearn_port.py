"""scikit-learn's own Gaussian-mixture tests, run against EMGaussianMixture.

The tests are scikit-learn's, unchanged: ``sklearn/mixture/tests/test_gaussian_mixture.py``
as installed (scikit-learn 1.9.1). Each test that applies to us is collected from that
module; while it runs, the module's name ``GaussianMixture`` points at :class:`GaussianMixture`
below, a thin adapter that takes scikit-learn's constructor arguments, maps them to ours and
exposes scikit-learn's attribute names (``precisions_``, ``lower_bound_`` ...). Everything
else (the fit, prediction, scores, sampling, the checks and their errors) is
EMGaussianMixture's own.

The tests that do not apply are in :data:`EXCLUDED` with the reason, and
:func:`test_every_scikit_learn_test_is_ported_or_excluded` checks that the two tables cover
every test function of scikit-learn's file, so none is dropped in silence (a new
scikit-learn release that adds one fails that test until it is placed).

Where we and scikit-learn disagree, the reason and who is right is written in the table.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
import sklearn.mixture._gaussian_mixture as sklearn_gm
from sklearn.mixture.tests import test_gaussian_mixture as sk

from latentmix import EMGaussianMixture
from latentmix.em.estep import (
    DegenerateMixtureError,
    component_log_prob,
    log_det_precision_cholesky,
    precision_cholesky,
)
from latentmix.em.init import initial_params
from latentmix.em.spurious import SpuriousSolutionWarning
from latentmix.params import MixtureParams
from latentmix.validation import check_data, check_random_state

SKLEARN_INIT = {
    # scikit-learn's init_params -> ours. "kmeans" runs Lloyd's algorithm to a partition;
    # our "k-means++" partitions around k-means++ seeds (no Lloyd iterations), the nearest
    # thing we have; "random_from_data" (random rows as means) is our "random" seeding.
    "kmeans": "k-means++",
    "k-means++": "k-means++",
    "random": "random",
    "random_from_data": "random",
}


def _covariances_from_precisions(precisions, covariance_type):
    # Test-only explicit inverse: scikit-learn's starts are given as precisions.
    precisions = np.asarray(precisions, dtype=float)
    if covariance_type in ("full", "tied"):
        try:
            return np.linalg.inv(precisions)
        except np.linalg.LinAlgError:
            # A singular precision has no covariance: handed on as it is, so that our check
            # of the start refuses it (its shape, or it is not positive definite).
            return precisions
    with np.errstate(divide="ignore"):
        return 1.0 / precisions


class GaussianMixture(EMGaussianMixture):
    """EMGaussianMixture under scikit-learn's argument and attribute names.

    Arguments mapped: ``init_params`` by :data:`SKLEARN_INIT`; ``weights_init``,
    ``means_init`` and ``precisions_init`` become one ``init=MixtureParams`` (the pieces not
    given are taken from one of our random starts, as scikit-learn takes them from its
    initial responsibilities); ``warm_start=True`` starts a refit at the last estimate.
    ``tol`` is passed as it is, although ours is relative to the objective and
    scikit-learn's an absolute change of the mean log-likelihood (both stop a run; none of
    the ported tests depends on where exactly). ``verbose`` is accepted and unused. The
    defaults are scikit-learn's (one start, ``reg_covar=1e-6``, ``max_iter=100``).
    """

    missing = "error"  # ours, not scikit-learn's: NaN cells are an error, as there

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    def _start(self, X):
        given = (self.weights_init, self.means_init, self.precisions_init)
        if all(g is None for g in given):
            return SKLEARN_INIT[self.init_params]
        X = check_data(X)
        rng = check_random_state(self.random_state)
        start = initial_params(
            X, self.n_components, self.covariance_type, rng, SKLEARN_INIT[self.init_params]
        )
        weights, means, precisions = given
        return MixtureParams(
            start.weights if weights is None else np.asarray(weights, dtype=float),
            start.means if means is None else np.asarray(means, dtype=float),
            start.covariances
            if precisions is None
            else _covariances_from_precisions(precisions, self.covariance_type),
            self.covariance_type,
        )

    def fit(self, X, y=None, sample_weight=None):
        init = self.params_ if self.warm_start and hasattr(self, "params_") else self._start(X)
        inner = EMGaussianMixture(
            self.n_components,
            covariance_type=self.covariance_type,
            n_init=self.n_init,
            init=init,
            tol=self.tol,
            max_iter=self.max_iter,
            reg_covar=self.reg_covar,
            random_state=self.random_state,
        ).fit(X, sample_weight=sample_weight)
        fitted = {name: value for name, value in vars(inner).items() if name.endswith("_")}
        vars(self).update(fitted)
        if not hasattr(inner, "feature_names_in_"):
            vars(self).pop("feature_names_in_", None)
        n = np.shape(X)[0]
        self.lower_bound_ = self.objective_ / n  # scikit-learn's is per sample
        self.lower_bounds_ = list(self.objective_history_[1:] / n)
        self.precisions_cholesky_ = precision_cholesky(self.covariances_, self.covariance_type)
        self.precisions_ = _covariances_from_precisions(self.covariances_, self.covariance_type)
        return self

    def _n_parameters(self):
        return self.n_parameters()


# --- our functions under scikit-learn's private names ---------------------------------------


def _estimate_log_gaussian_prob(X, means, precisions_chol, covariance_type):
    # scikit-learn's signature over component_log_prob; the covariances are not read when
    # the precision factors are given, so NaN placeholders keep them honest.
    means = np.asarray(means, dtype=float)
    placeholder = np.full(np.shape(precisions_chol), np.nan)
    params = MixtureParams(
        np.full(len(means), 1.0 / len(means)), means, placeholder, covariance_type
    )
    return component_log_prob(np.asarray(X, dtype=float), params, np.asarray(precisions_chol))


#: Module attributes swapped for ours while a test runs: test -> {(module, name): function}.
PATCHES = {
    "test_compute_log_det_cholesky": {
        (sk, "_compute_precision_cholesky"): precision_cholesky,
        (sk, "_compute_log_det_cholesky"): log_det_precision_cholesky,
    },
    "test_gaussian_mixture_log_probabilities": {
        (sklearn_gm, "_estimate_log_gaussian_prob"): _estimate_log_gaussian_prob,
    },
}


# --- which of scikit-learn's tests run, and why the others do not ---------------------------

CONVERGENCE = pytest.mark.filterwarnings("ignore::latentmix.em.fit.ConvergenceWarning")
SPURIOUS = pytest.mark.filterwarnings("ignore::latentmix.em.spurious.SpuriousSolutionWarning")

#: Ported tests: name -> extra pytest marks (our warnings have our own classes and words).
PORTED = {
    "test_gaussian_mixture_attributes": (),
    "test_compute_log_det_cholesky": (),
    "test_gaussian_mixture_log_probabilities": (),
    "test_gaussian_mixture_estimate_log_prob_resp": (),
    "test_gaussian_mixture_predict_predict_proba": (),
    "test_gaussian_mixture_fit_predict": (CONVERGENCE,),
    # A disagreement: five full components on 1000 rows of pure noise in 5-D, kept
    # non-singular only by reg_covar=1e-6, end with components on 4 points (fewer than
    # d + 1 = 6), a covariance of rank 3 plus 1e-6: spurious maximisers. scikit-learn
    # returns them silently; we warn (SpuriousSolutionWarning). The test checks only that
    # fit_predict equals fit().predict, which holds.
    "test_gaussian_mixture_fit_predict_n_init": (SPURIOUS,),
    "test_gaussian_mixture_fit": (),
    "test_gaussian_mixture_fit_best_params": (),
    "test_multiple_init": (),
    "test_gaussian_mixture_n_parameters": (),
    "test_bic_1d_1component": (),
    "test_gaussian_mixture_aic_bic": (),
    "test_warm_start": (CONVERGENCE,),
    "test_convergence_detected_with_warm_start": (CONVERGENCE,),
    # It silences scikit-learn's ConvergenceWarning around a max_iter=1 fit, and ours is a
    # subclass of it (latentmix.em.fit.ConvergenceWarning), so no mark is needed.
    "test_score": (),
    "test_score_samples": (),
    "test_monotonic_likelihood": (CONVERGENCE,),
    "test_fitted_precision_covariance_concistency": (),
    "test_sample": (),
    "test_init": (CONVERGENCE,),
    "test_init_means_not_duplicated": (),
    "test_means_for_all_inits": (),
    "test_max_iter_zero": (),
    "test_gaussian_mixture_single_component_stable": (),
}

_PRIVATE = (
    "tests a private helper of scikit-learn's that has no counterpart of the same signature here: "
)
_WORDING = "asserts scikit-learn's wording for an error or warning we also give, in our words: "

#: Tests that do not apply: name -> why.
EXCLUDED = {
    "test_check_weights": _WORDING
    + "weights_init of the wrong shape, out of [0, 1] or not summing to 1 are refused by "
    "check_params(init) ('init.weights ...'); tests/em/test_sklearn_port.py::"
    "test_bad_scikit_learn_starts_are_refused_in_our_words runs the same inputs.",
    "test_check_means": _WORDING + "means_init of the wrong shape (same test as above).",
    "test_check_precisions": _WORDING
    + "precisions of the wrong shape or not positive definite (same test as above).",
    "test_suffstat_sk_full": _PRIVATE
    + "_estimate_gaussian_covariances_full(resp, X, nk, means, reg) takes the means as an "
    "input (case 1 uses zero means with random responsibilities); our M-step computes means "
    "and covariances together from sufficient statistics, checked against a naive reference "
    "and scikit-learn's fits in tests/em/test_mstep.py and tests/em/test_sklearn.py.",
    "test_suffstat_sk_tied": _PRIVATE + "as test_suffstat_sk_full.",
    "test_suffstat_sk_diag": _PRIVATE + "as test_suffstat_sk_full.",
    "test_gaussian_suffstat_sk_spherical": _PRIVATE + "as test_suffstat_sk_full.",
    "test_gaussian_mixture_fit_convergence_warning": _WORDING
    + "max_iter reached before convergence warns latentmix.em.fit.ConvergenceWarning, "
    "naming max_iter, tol and the last change (tests/em/test_estimator.py).",
    "test_gaussian_mixture_verbose": "we have no verbose printing (progress goes through "
    "latentmix.progress, never print), and the test asserts nothing: it only runs fit with "
    "verbose=1 and 2 with stdout captured.",
    "test_regularisation": _WORDING
    + "ten components on ten rows of two distinct points with reg_covar=0 collapse; ours "
    "raises DegenerateMixtureError (a ValueError) saying so and what to change, and the fit "
    "then works with reg_covar=1e-6: test_collapse_without_regularisation_in_our_words.",
    "test_gaussian_mixture_setting_best_params": "a disagreement. From that start (two "
    "spherical components of variance 1e-6 on one row each, reg_covar=0) one EM step "
    "collapses two components: the likelihood is unbounded there and no estimate exists. "
    "scikit-learn returns the parameters anyway (the test checks only that the attributes "
    "are set, a regression test for an AttributeError); we raise DegenerateMixtureError "
    "naming the collapsed components and the fix (prior='default'). We hold ours right: "
    "returning a collapsed mixture as an estimate is the silent failure issue 12 is about. "
    "test_divergent_start_is_refused runs scikit-learn's test and expects our error.",
    "test_gaussian_mixture_precisions_init_diag": "it checks that precisions_init equal to "
    "those of scikit-learn's own KMeans(n_init=1, random_state=0) start give the same "
    "iterations as no init, i.e. that scikit-learn's default start is that KMeans partition; "
    "our starts are k-means++ partitions and random-scale starts, screened (latentmix.em."
    "init), so there is no such identity to test.",
    "test_gaussian_mixture_precisions_init": _PRIVATE
    + "GaussianMixture._set_parameters and _initialize(X, resp); a full init=MixtureParams "
    "is used as given (test_max_iter_zero and tests/em/test_estimator.py).",
    "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters": _PRIVATE
    + "it mocks _estimate_gaussian_parameters to count M-steps; with init=MixtureParams our "
    "start is used as given, with no M-step before the first E-step (test_max_iter_zero "
    "returns the given means).",
    "test_gaussian_mixture_array_api_compliance": "the Array API (PyTorch, CuPy arrays) is "
    "not supported: we take NumPy arrays, pandas frames, memmaps and dask arrays.",
    "test_gaussian_mixture_raises_where_array_api_not_implemented": "as "
    "test_gaussian_mixture_array_api_compliance.",
}


# --- the fixtures of scikit-learn's conftest that the ported tests use -----------------------


@pytest.fixture(params=[np.float64], ids=["float64"])
def global_dtype(request):
    """scikit-learn runs float64 and, on request, float32; we compute in float64 by design.

    EMGaussianMixture computes every fit in float64 and returns float64 for float32 input
    (its Notes say why: the never-decreasing objective check and the convergence test would
    be decided by round-off in float32); tests/em/test_sklearn_api.py checks that. So the
    float32 cases, which assert float32 attributes, are a documented disagreement.
    """
    return request.param


@pytest.fixture(params=[0, 42])
def global_random_seed(request):
    """scikit-learn's default global seed (42) and one more."""
    return request.param


@pytest.fixture(autouse=True)
def _our_gaussian_mixture(request, monkeypatch):
    monkeypatch.setattr(sk, "GaussianMixture", GaussianMixture)
    for (module, name), ours in PATCHES.get(request.function.__name__, {}).items():
        monkeypatch.setattr(module, name, ours)


def _port(name, marks):
    original = getattr(sk, name)

    @functools.wraps(original)
    def test(*args, **kwargs):
        return original(*args, **kwargs)

    for mark in marks:
        test = mark(test)
    return test


for _name, _marks in PORTED.items():
    globals()[_name] = _port(_name, _marks)


def test_every_scikit_learn_test_is_ported_or_excluded():
    theirs = {
        name
        for name, obj in vars(sk).items()
        if name.startswith("test_") and inspect.isfunction(obj)
    }
    assert not set(PORTED) & set(EXCLUDED)
    assert set(PORTED) | set(EXCLUDED) == theirs, (
        f"not placed: {sorted(theirs - set(PORTED) - set(EXCLUDED))}; "
        f"no longer in scikit-learn: {sorted((set(PORTED) | set(EXCLUDED)) - theirs)}"
    )


# --- our versions of the tests excluded for their wording ------------------------------------


def test_bad_scikit_learn_starts_are_refused_in_our_words():
    # The bad starts of test_check_weights, test_check_means and test_check_precisions.
    rng = np.random.RandomState(0)
    data = sk.RandomData(rng)
    K, d = data.n_components, data.n_features
    X = data.X["full"]
    bad = {
        "weights_init": [
            (rng.rand(K, 1), r"init.weights has shape \(2, 1\); expected \(2,\)"),
            (rng.rand(K) + 1, "init.weights must be positive and sum to 1"),
            (np.array([0.2, 0.3]), r"sum to 1; got .* \(sum 0.5\). Divide by their sum"),
        ],
        "means_init": [(rng.rand(K + 1, d), r"init.means has shape \(3, 2\); expected")],
        "precisions_init": [
            (np.ones((K + 1, d, d)), r"init.covariances has shape \(3, 2, 2\)"),
        ],
    }
    for name, cases in bad.items():
        for value, message in cases:
            with pytest.raises(ValueError, match=message):
                GaussianMixture(K, **{name: value}).fit(X)
    not_positive = {
        "full": np.array([[[-1.0, 0.0], [0.0, 1.0]], np.eye(2)]),
        "tied": np.array([[-1.0, 0.0], [0.0, 1.0]]),
        "diag": np.full((K, d), -1.0),
        "spherical": np.full(K, -1.0),
    }
    for covariance_type, precisions in not_positive.items():
        gm = GaussianMixture(K, covariance_type=covariance_type, precisions_init=precisions)
        with pytest.raises(ValueError, match=r"init.covariances .*is not positive definite"):
            gm.fit(data.X[covariance_type])
    good = GaussianMixture(K, weights_init=data.weights, means_init=data.means).fit(X)
    np.testing.assert_array_equal(good.weights_init, data.weights)  # not changed


def test_collapse_without_regularisation_in_our_words():
    # test_regularisation's data: two distinct points, five copies each, ten components.
    X = np.vstack((np.ones((5, 5)), np.zeros((5, 5))))
    for covariance_type in ("full", "tied", "diag", "spherical"):
        gm = GaussianMixture(10, reg_covar=0, covariance_type=covariance_type, random_state=0)
        with pytest.raises(DegenerateMixtureError, match="collapsed") as err:
            gm.fit(X)
        assert "prior='default'" in str(err.value) and isinstance(err.value, ValueError)
        # With reg_covar=1e-6 there is an estimate, and it is a spurious one: every
        # component on one row with a variance of 1e-6; we say so, scikit-learn does not.
        gm.set_params(reg_covar=1e-6)
        if covariance_type == "tied":  # one shared covariance cannot shrink onto one row
            gm.fit(X)
        else:
            with pytest.warns(SpuriousSolutionWarning, match="1 effective points"):
                gm.fit(X)
        assert np.isfinite(gm.lower_bound_)


def test_divergent_start_is_refused():
    # scikit-learn's test_gaussian_mixture_setting_best_params expects an estimate; there is
    # none (two components collapse onto one row each), and we say so.
    with pytest.raises(DegenerateMixtureError, match=r"component\(s\) 0, 1 collapsed"):
        sk.test_gaussian_mixture_setting_best_params()


def test_noise_fit_of_fit_predict_n_init_is_flagged_spurious():
    # The data of test_gaussian_mixture_fit_predict_n_init, where we disagree (see PORTED).
    X = np.random.RandomState(0).randn(1000, 5)
    with pytest.warns(SpuriousSolutionWarning, match="rests on 4 effective points") as caught:
        gm = GaussianMixture(n_components=5, n_init=5, random_state=0).fit(X)
    assert gm.spurious_components_.size >= 1 and len(caught) == 1
    n_k = gm.weights_[gm.spurious_components_] * len(X)
    assert np.all(n_k < 5 + 1)  # fewer rows than d + 1: a singular covariance + reg_covar
