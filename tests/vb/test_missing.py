"""VB with missing cells (latentmix.vb.missing): complete data give the complete-data fit,
the ELBO never falls and equals its definition at draws of q, the predictive of a row is
that of its observed cells, and the truth is recovered."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from latentmix import ConjugatePrior, VBGaussianMixture
from latentmix.em.init import initial_params
from latentmix.params import COVARIANCE_TYPES, MixtureParams, full_covariances, sample_mixture
from latentmix.priors import log_prior
from latentmix.vb.fit import VBOptions, run_vb
from latentmix.vb.missing import incomplete_data
from latentmix.vb.predictive import sample_posterior_arrays
from latentmix.vb.updates import kernel_params, log_rho_constants

rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(-3, 1, (40, 3)), rng.normal(3, 0.7, (60, 3))]) + 5.0


def with_holes(X, fraction=0.25, seed=1):
    r = np.random.default_rng(seed)
    out = X.copy()
    out[r.random(X.shape) < fraction] = np.nan
    empty = np.isnan(out).all(axis=1)
    out[empty, 0] = X[empty, 0]  # every row keeps a cell
    return out


def setup(covariance_type):
    prior = ConjugatePrior.default(X, 2, covariance_type)
    start = initial_params(X, 2, covariance_type, np.random.default_rng(2), prior=prior)
    return prior, start


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_complete_data_through_the_missing_path_is_the_complete_fit(covariance_type):
    prior, start = setup(covariance_type)
    options = VBOptions(prior, covariance_type, tol=0.0, max_iter=8)
    a = run_vb(X, start, options)
    b = run_vb(incomplete_data(X), start, options)
    np.testing.assert_allclose(b.elbo_history, a.elbo_history, rtol=1e-12)
    np.testing.assert_allclose(b.posterior.scale, a.posterior.scale, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("seed", [1, 2])
def test_elbo_never_falls_with_missing_cells(covariance_type, seed):
    Xm = with_holes(X, 0.3, seed)
    prior, start = setup(covariance_type)
    run = run_vb(incomplete_data(Xm), start, VBOptions(prior, covariance_type, max_iter=60))
    history = run.elbo_history
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))
    # Each row counts once, whatever it misses.
    assert run.state.stats.nk.sum() == pytest.approx(X.shape[0])


def reference_q_z_xm(Xm, post):
    """Row by row with explicit inverses: r (n, K), completed rows (n, K, d), C (n, K, d, d)."""
    k_params = kernel_params(post)
    K, d = post.mean.shape
    S = full_covariances(k_params.covariances, k_params.covariance_type, K, d)
    const = log_rho_constants(post)
    n = Xm.shape[0]
    log_rho = np.empty((n, K))
    xhat = np.empty((n, K, d))
    C = np.zeros((n, K, d, d))
    for i, x in enumerate(Xm):
        o, m = ~np.isnan(x), np.isnan(x)
        for k in range(K):
            Soo_inv = np.linalg.inv(S[k][np.ix_(o, o)])
            diff = x[o] - post.mean[k, o]
            xhat[i, k, o] = x[o]
            xhat[i, k, m] = post.mean[k, m] + S[k][np.ix_(m, o)] @ Soo_inv @ diff
            Cm = S[k][np.ix_(m, m)] - S[k][np.ix_(m, o)] @ Soo_inv @ S[k][np.ix_(o, m)]
            C[i, k][np.ix_(m, m)] = Cm
            log_rho[i, k] = (
                const[k]
                - 0.5 * diff @ Soo_inv @ diff
                + 0.5 * m.sum() * np.log(2 * np.pi)
                + 0.5 * np.linalg.slogdet(Cm)[1]
            )
    r = np.exp(log_rho - logsumexp(log_rho, axis=1, keepdims=True))
    return r, xhat, C


def log_q(theta: MixtureParams, post) -> float:
    covariance_type = post.covariance_type
    K, d = post.mean.shape
    total = stats.dirichlet.logpdf(theta.weights, post.weight_concentration)
    cov, nu, scale = np.asarray(theta.covariances), post.degrees_of_freedom, post.scale
    if covariance_type == "full":
        total += sum(stats.invwishart.logpdf(cov[k], nu[k], scale[k]) for k in range(K))
    elif covariance_type == "tied":
        total += stats.invwishart.logpdf(cov, float(nu), scale)
    else:
        shape = nu[:, None] if covariance_type == "diag" else nu
        total += stats.invgamma.logpdf(cov, shape / 2, scale=scale / 2).sum()
    full = full_covariances(cov, covariance_type, K, d)
    for k in range(K):
        total += stats.multivariate_normal.logpdf(
            theta.means[k], post.mean[k], full[k] / post.mean_precision[k]
        )
    return float(total)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_equals_its_definition_at_every_draw(covariance_type):
    """At the recorded pair the integrand of E_q[log p(X_o, X_m, Z, theta)] - E_q[log q] is
    the same at every draw of theta (with the expectations over q(z, x_m) in closed form)."""
    Xm = with_holes(X[::2], 0.3, 3)
    prior, start = setup(covariance_type)
    options = VBOptions(prior, covariance_type, tol=0.0, max_iter=3)
    run = run_vb(incomplete_data(Xm), start, options)
    before = run_vb(incomplete_data(Xm), start, options._replace(max_iter=2)).posterior
    r, xhat, C = reference_q_z_xm(Xm, before)
    m_count = np.isnan(Xm).sum(axis=1)
    log_det_c = np.array(
        [
            [np.linalg.slogdet(C[i, k][np.ix_(np.isnan(x), np.isnan(x))])[1] for k in range(2)]
            for i, x in enumerate(Xm)
        ]
    )
    h_xm = 0.5 * m_count[:, None] * (1 + np.log(2 * np.pi)) + 0.5 * log_det_c
    entropy = -(r * np.log(r)).sum() + (r * h_xm).sum()
    assert run.state.entropy == pytest.approx(entropy, rel=1e-9)
    weights, means, covariances = sample_posterior_arrays(run.posterior, 10, 4)
    values = []
    for w, mu, cov in zip(weights, means, covariances, strict=True):
        theta = MixtureParams(w, mu, cov, covariance_type)
        full = theta.full_covariances()
        expected = 0.0
        for k in range(2):
            log_n = stats.multivariate_normal.logpdf(xhat[:, k], mu[k], full[k])
            trace = np.einsum("ab,iba->i", np.linalg.inv(full[k]), C[:, k])
            expected += (r[:, k] * (np.log(w[k]) + log_n - 0.5 * trace)).sum()
        values.append(expected + log_prior(theta, prior) - log_q(theta, run.posterior) + entropy)
    np.testing.assert_allclose(values, run.elbo, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_the_predictive_of_a_row_is_that_of_its_observed_cells(covariance_type):
    Xm = with_holes(X, 0.3, 5)
    vb = VBGaussianMixture(
        2, covariance_type=covariance_type, missing="ignore", random_state=0, n_init=1
    ).fit(Xm)
    post = vb.posterior_
    d = 3
    w = post.weight_concentration / post.weight_concentration.sum()
    got = vb.score_samples(Xm[:15])
    for i, x in enumerate(Xm[:15]):
        o = ~np.isnan(x)
        dens = 0.0
        for k in range(2):
            if covariance_type == "full":
                dof = post.degrees_of_freedom[k] - d + 1
                shape = (
                    post.scale[k] * (post.mean_precision[k] + 1) / (post.mean_precision[k] * dof)
                )
                dens += w[k] * stats.multivariate_t.pdf(
                    x[o], post.mean[k, o], shape[np.ix_(o, o)], dof
                )
            else:
                nu = post.degrees_of_freedom[k]
                var = (
                    np.broadcast_to(post.scale[k], (d,))
                    * (post.mean_precision[k] + 1)
                    / (post.mean_precision[k] * nu)
                )
                if covariance_type == "diag":
                    dens += w[k] * np.prod(stats.t.pdf(x[o], nu, post.mean[k, o], np.sqrt(var[o])))
                else:
                    dens += w[k] * stats.multivariate_t.pdf(
                        x[o], post.mean[k, o], np.diag(var[o]), nu
                    )
        assert got[i] == pytest.approx(np.log(dens), rel=1e-10)


def test_the_truth_is_recovered_with_a_quarter_of_the_cells_missing():
    truth = MixtureParams(
        np.array([0.4, 0.6]),
        np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0]]),
        np.stack([np.eye(3), np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])]),
    )
    data, _ = sample_mixture(truth, 3000, 7)
    vb = VBGaussianMixture(2, missing="ignore", random_state=0, n_init=2).fit(
        with_holes(data, 0.25, 8)
    )
    order = np.argsort(vb.means_[:, 0])
    np.testing.assert_allclose(vb.means_[order], truth.means, atol=0.12)
    np.testing.assert_allclose(vb.weights_[order], truth.weights, atol=0.03)
    np.testing.assert_allclose(vb.covariances_[order], truth.covariances, atol=0.25)
    assert vb.n_missing_ == int(np.isnan(with_holes(data, 0.25, 8)).sum())


def test_settings_with_missing_cells():
    Xm = with_holes(X)
    with pytest.raises(ValueError, match="pass missing='ignore'"):
        VBGaussianMixture(2).fit(Xm)
    with pytest.raises(ValueError, match="missing must be 'error'"):
        VBGaussianMixture(2, missing="drop").fit(Xm)
    with pytest.raises(ValueError, match="starting responsibilities are not taken"):
        VBGaussianMixture(2, missing="ignore", init=np.full((100, 2), 0.5)).fit(Xm)
    import dask.array as da

    with pytest.raises(ValueError, match="missing='ignore' needs the data in memory"):
        VBGaussianMixture(2, missing="ignore").fit(da.from_array(Xm, (50, 3)))
    # Weights and missing cells together: integer weights are rows repeated.
    counts = np.random.default_rng(9).integers(1, 3, size=Xm.shape[0])
    start = VBGaussianMixture(2, missing="ignore", random_state=0, n_init=1).fit(Xm).params_
    a = VBGaussianMixture(2, missing="ignore", init=start, max_iter=5, tol=0.0)
    b = VBGaussianMixture(2, missing="ignore", init=start, max_iter=5, tol=0.0)
    import warnings

    from latentmix.em.fit import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(Xm, sample_weight=counts)
        b.fit(np.repeat(Xm, counts, axis=0))
    np.testing.assert_allclose(a.elbo_history_, b.elbo_history_, rtol=1e-10)
