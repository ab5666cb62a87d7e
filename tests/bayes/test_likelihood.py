"""The likelihood Op: value against scipy, gradient against PyTensor's own and the E-step's.

References, in layers: the rows against scipy's ``multivariate_normal`` summed by
``logsumexp`` (naive); the gradient against PyTensor's derivative of the plain graph
(:func:`latentmix.bayes.likelihood.reference_rows`) for every covariance type, against
central finite differences on random points (hypothesis), and the responsibilities' sums
against EM's E-step (:func:`latentmix.em.estep.responsibilities`); the numba and the Python
paths against each other; one pass over the data where value and gradient are both wanted.
The kernels' own exponential against ``np.exp``, and their blocks against one another (a score
is the sum of its rows' scores, wherever the block edges fall).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from latentmix.bayes.kernels import BLOCK_ROWS, _exp_nonpositive
from latentmix.bayes.likelihood import (
    MixtureLogLik,
    MixtureScore,
    full_covariances,
    mixture_loglik,
    mixture_rows,
    mixture_score,
    reference_rows,
)
from latentmix.bayes.sample import quiet_compile
from latentmix.em.estep import responsibilities
from latentmix.params import COVARIANCE_TYPES, MixtureParams, covariances_shape

K, D = 3, 3


def _params(rng, covariance_type, K=K, d=D) -> MixtureParams:
    weights = rng.dirichlet(np.full(K, 3.0))
    means = 2 * rng.normal(size=(K, d))
    A = rng.normal(size=(K, d, d))
    full = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    diag = np.diagonal(full, axis1=1, axis2=2).copy()
    covariances = {
        "full": full,
        "tied": full[0],
        "diag": diag,
        "spherical": diag.mean(axis=1),
        "tied_diag": diag[0],
        "tied_spherical": np.asarray(diag.mean()),
    }[covariance_type]
    return MixtureParams(weights, means, covariances, covariance_type)


def _symbols(covariance_type, K=K, d=D):
    shape = covariances_shape(covariance_type, K, d)
    return (
        pt.vector("weights", shape=(K,)),
        pt.matrix("means", shape=(K, d)),
        pt.tensor("covariances", shape=shape, dtype="float64"),
    )


def _value_and_grad(rows_of, X, covariance_type, mode="NUMBA", row_weights=None):
    """A compiled function of (weights, means, covariances) -> [sum of rows, gradients]."""
    w, mu, cov = _symbols(covariance_type)
    rows = rows_of(pt.as_tensor(X), w, mu, cov, covariance_type)
    total = rows.sum() if row_weights is None else (rows * row_weights).sum()
    return pytensor.function([w, mu, cov], [total, *pt.grad(total, [w, mu, cov])], mode=mode)


def _full(params: MixtureParams) -> np.ndarray:
    return pytensor.function(
        [],
        full_covariances(
            pt.as_tensor(params.covariances), params.covariance_type, pt.as_tensor(params.means)
        ),
    )()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_rows_are_scipys_mixture_density(covariance_type):
    rng = np.random.default_rng(0)
    params = _params(rng, covariance_type)
    X = rng.normal(size=(50, D)) * 3
    covs = _full(params)
    expected = logsumexp(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(X)
            for w, m, c in zip(params.weights, params.means, covs, strict=True)
        ],
        axis=0,
    )
    got = mixture_rows(X, params.weights, params.means, covs)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gradient_is_pytensors_derivative_of_the_plain_graph(covariance_type):
    rng = np.random.default_rng(1)
    params = _params(rng, covariance_type)
    X = rng.normal(size=(200, D)) * 3
    c = rng.uniform(0.5, 2.0, size=200)  # observation weights reach the Op as row gradients
    args = (params.weights, params.means, params.covariances)
    ours = _value_and_grad(mixture_loglik, X, covariance_type, row_weights=c)(*args)
    with quiet_compile():  # numba on PyTensor's code for the plain graph, on a cold cache
        reference = _value_and_grad(reference_rows, X, covariance_type, row_weights=c)(*args)
    for name, a, b in zip(
        ["value", "weights", "means", "covariances"], ours, reference, strict=True
    ):
        if name == "covariances" and covariance_type in ("full", "tied"):
            b = 0.5 * (b + b.T) if b.ndim == 2 else 0.5 * (b + b.transpose(0, 2, 1))
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(b).max(), err_msg=name)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40))
def test_gradient_matches_finite_differences(seed, n):
    """Every gradient entry, on random data and parameters, by central differences."""
    rng = np.random.default_rng(seed)
    params = _params(rng, "full", K=2, d=2)
    X = rng.normal(size=(n, 2)) * 2
    g = rng.uniform(0.1, 1.0, size=n)
    cov = params.covariances
    g_w, g_mu, g_cov, rows = mixture_score(X, params.weights, params.means, cov, g)
    np.testing.assert_allclose(rows, mixture_rows(X, params.weights, params.means, cov))

    def f(w, mu, c):
        return g @ mixture_rows(X, w, mu, c)

    h = 1e-6
    for j in range(2):
        e = np.eye(2)[j] * h
        fd = f(params.weights + e, params.means, cov) - f(params.weights - e, params.means, cov)
        np.testing.assert_allclose(g_w[j], fd / (2 * h), rtol=1e-5, atol=1e-6)
    for k in range(2):
        for j in range(2):
            e = np.zeros((2, 2))
            e[k, j] = h
            fd = f(params.weights, params.means + e, cov) - f(
                params.weights, params.means - e, cov
            )
            np.testing.assert_allclose(g_mu[k, j], fd / (2 * h), rtol=1e-5, atol=1e-6)
    for k in range(2):
        for i in range(2):
            for j in range(i + 1):
                # A symmetric perturbation: entries (i, j) and (j, i) move together.
                e = np.zeros((2, 2, 2))
                e[k, i, j] = e[k, j, i] = h
                fd = f(params.weights, params.means, cov + e) - f(
                    params.weights, params.means, cov - e
                )
                expected = (g_cov[k, i, j] + g_cov[k, j, i]) if i != j else g_cov[k, i, i]
                np.testing.assert_allclose(expected, fd / (2 * h), rtol=1e-5, atol=1e-6)


def test_weight_gradient_gives_the_e_steps_responsibility_sums():
    """w_k dl/dw_k = N_k, the responsibilities' sum from EM's E-step; the rows are its."""
    rng = np.random.default_rng(2)
    params = _params(rng, "full")
    X = rng.normal(size=(300, D)) * 3
    g_w, *_, rows = mixture_score(
        X, params.weights, params.means, params.covariances, np.ones(300)
    )
    resp, sample_log_lik = responsibilities(X, params)
    np.testing.assert_allclose(params.weights * g_w, resp.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(rows, sample_log_lik, rtol=1e-12)


def test_numba_and_python_paths_agree_and_share_one_pass():
    rng = np.random.default_rng(3)
    params = _params(rng, "tied")
    X = rng.normal(size=(100, D))
    args = (params.weights, params.means, params.covariances)
    numba_fn = _value_and_grad(mixture_loglik, X, "tied", mode="NUMBA")
    python_fn = _value_and_grad(mixture_loglik, X, "tied", mode="FAST_RUN")
    for a, b in zip(numba_fn(*args), python_fn(*args), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    for fn in (numba_fn, python_fn):
        ops = [type(node.op) for node in fn.maker.fgraph.apply_nodes]
        assert MixtureScore in ops and MixtureLogLik not in ops  # rows from the score's pass


def test_a_covariance_that_is_not_positive_definite_gives_minus_infinity():
    rng = np.random.default_rng(4)
    params = _params(rng, "full")
    bad = params.covariances.copy()
    bad[1] = -np.eye(D)
    X = rng.normal(size=(10, D))
    assert np.all(mixture_rows(X, params.weights, params.means, bad) == -np.inf)
    grads = mixture_score(X, params.weights, params.means, bad, np.ones(10))
    assert all(np.isnan(g).all() for g in grads[:3])


def test_the_op_refuses_inputs_of_the_wrong_rank():
    with pytest.raises(ValueError, match=r"weights \(K,\), means \(K, d\)"):
        MixtureLogLik()(pt.matrix(), pt.matrix(), pt.matrix(), pt.tensor3())


def test_the_kernels_exponential_is_numpys_to_the_last_bits():
    x = np.concatenate([-np.linspace(0, 708, 200_001), [-0.0, -1e-300, -5e-324]])
    got = x.copy()
    _exp_nonpositive(got, got.size, np.empty(got.size))
    np.testing.assert_allclose(got, np.exp(x), rtol=4e-16, atol=0)


def test_the_kernels_exponential_is_zero_below_its_floor_and_keeps_nan():
    x = np.array([-708.5, -745.0, -1e300, -np.inf, np.nan, -1.0])
    got = x.copy()
    _exp_nonpositive(got, 5, np.empty(6))
    assert np.all(got[:4] == 0.0) and np.isnan(got[4])
    assert got[5] == -1.0  # past b: untouched


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-708.0, 0.0), min_size=1, max_size=70))
def test_the_kernels_exponential_on_any_nonpositive_numbers(values):
    x = np.array(values)
    got = x.copy()
    _exp_nonpositive(got, got.size, np.empty(got.size))
    np.testing.assert_allclose(got, np.exp(x), rtol=4e-16, atol=0)


@pytest.mark.parametrize("n", [1, BLOCK_ROWS - 1, BLOCK_ROWS, BLOCK_ROWS + 1, 2 * BLOCK_ROWS + 3])
def test_block_edges_change_nothing(n):
    """Rows against scipy, and the score against the sum of its parts split anywhere."""
    rng = np.random.default_rng(n)
    params = _params(rng, "full")
    X = rng.normal(size=(n, D)) * 3
    g = rng.uniform(0.5, 2.0, size=n)
    args = (params.weights, params.means, params.covariances)
    expected = logsumexp(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(X).reshape(n)
            for w, m, c in zip(*args, strict=True)
        ],
        axis=0,
    )
    np.testing.assert_allclose(mixture_rows(X, *args), expected, rtol=1e-12)
    whole = mixture_score(X, *args, g)
    cut = rng.integers(0, n + 1)
    parts = [mixture_score(X[a:b], *args, g[a:b]) for a, b in ((0, cut), (cut, n))]
    for name, total, first, second in zip(
        ["weights", "means", "cov"], *(x[:3] for x in (whole, *parts)), strict=True
    ):
        np.testing.assert_allclose(total, first + second, rtol=1e-12, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(whole[3], np.concatenate([parts[0][3], parts[1][3]]), rtol=1e-14)
