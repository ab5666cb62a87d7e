"""The VB updates and the ELBO against direct computations, for every covariance type.

The reference here is written the textbook way (Bishop 2006, sec. 10.2): in the precision
parameterisation (a Wishart on each precision matrix, a gamma on each precision), row by
row, with explicit inverses and no centring, no blocks and no fused kernel. The package's
updates are in the covariance parameterisation on EM's fused kernels; both must give the
same variational parameters after several iterations from the same responsibilities.

The ELBO is checked against its definition E_q[log p(X, Z, theta)] - E_q[log q(Z, theta)]
evaluated at draws of theta from q, with the densities of scipy.stats: at the recorded pair
(q(z), q(theta) optimal for it) the integrand is the same number at every draw (q(theta) is
the normalised complete-data posterior of the soft counts), so every draw must give the ELBO
to round-off. That pins every constant.
"""

import numpy as np
import pytest
from scipy import stats
from scipy.special import digamma, logsumexp

from latentmix import ConjugatePrior
from latentmix.params import COVARIANCE_TYPES, MixtureParams, full_covariances
from latentmix.priors import log_prior
from latentmix.vb.fit import VBOptions, run_vb
from latentmix.vb.predictive import sample_posterior_arrays

SHARED = ("tied", "tied_diag", "tied_spherical")


def make_problem(covariance_type, seed=0, n=60, d=3, K=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(K, d))
    X = centres[rng.integers(K, size=n)] + rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, d)
    X = X + 10.0  # off the origin: the package centres, the reference does not
    resp = rng.dirichlet(np.ones(K), size=n)
    default = ConjugatePrior.default(X, K, covariance_type)
    prior = ConjugatePrior(
        rng.uniform(0.3, 2.0, K),
        default.mean + rng.normal(size=d),
        0.3,
        default.degrees_of_freedom + 0.7,
        default.scale,
    )
    return X, resp, prior


# --- the textbook reference --------------------------------------------------------------


def reference_m_step(X, resp, prior, covariance_type):
    """q(theta) from responsibilities, in the precision parameterisation.

    Returns a dict: alpha (K,), beta (K,), m (K, d), and for the precisions either the
    Wishart (nu, W) per component or shared, or the gamma (a, b) per precision.
    """
    n, d = X.shape
    K = resp.shape[1]
    nk = resp.sum(axis=0)
    xbar = (resp.T @ X) / nk[:, None]
    beta0, m0, nu0 = prior.mean_precision, prior.mean, prior.degrees_of_freedom
    beta = beta0 + nk
    m = (beta0 * m0 + nk[:, None] * xbar) / beta[:, None]
    out = {"alpha": prior.concentration(K) + nk, "beta": beta, "m": m}
    # Per component: scatter about its own mean plus the prior-mean term.
    terms = []
    for k in range(K):
        diff = X - xbar[k]
        scatter = (resp[:, k, None] * diff).T @ diff
        shift = np.outer(xbar[k] - m0, xbar[k] - m0) * beta0 * nk[k] / (beta0 + nk[k])
        terms.append(scatter + shift)
    terms = np.array(terms)
    psi = np.asarray(prior.scale, dtype=float)
    if covariance_type == "full":
        out["nu"] = nu0 + nk
        out["W"] = np.array([np.linalg.inv(psi + terms[k]) for k in range(K)])
    elif covariance_type == "tied":
        out["nu"] = nu0 + n
        out["W"] = np.linalg.inv(psi + terms.sum(axis=0))
    elif covariance_type == "diag":
        out["a"] = np.repeat((nu0 / 2 + nk / 2)[:, None], d, axis=1)
        out["b"] = psi / 2 + np.diagonal(terms, axis1=1, axis2=2) / 2
    elif covariance_type == "spherical":
        out["a"] = nu0 / 2 + nk * d / 2
        out["b"] = psi / 2 + np.trace(terms, axis1=1, axis2=2) / 2
    elif covariance_type == "tied_diag":
        out["a"] = np.full(d, nu0 / 2 + n / 2)
        out["b"] = psi / 2 + np.diagonal(terms, axis1=1, axis2=2).sum(axis=0) / 2
    else:
        out["a"] = nu0 / 2 + n * d / 2
        out["b"] = psi / 2 + np.trace(terms, axis1=1, axis2=2).sum() / 2
    return out


def reference_e_step(X, q, covariance_type):
    """Responsibilities row by row from the expectations under q."""
    n, d = X.shape
    K = q["m"].shape[0]
    e_log_pi = digamma(q["alpha"]) - digamma(q["alpha"].sum())
    log_rho = np.empty((n, K))
    for k in range(K):
        if covariance_type in ("full", "tied"):
            W = q["W"][k] if covariance_type == "full" else q["W"]
            nu = q["nu"][k] if covariance_type == "full" else q["nu"]
            e_log_det = (
                sum(digamma((nu + 1 - i) / 2) for i in range(1, d + 1))
                + d * np.log(2)
                + np.linalg.slogdet(W)[1]
            )
            e_prec = nu * W
        else:
            if covariance_type == "diag":
                a, b = q["a"][k], q["b"][k]
            elif covariance_type == "spherical":
                a, b = np.full(d, q["a"][k]), np.full(d, q["b"][k])
            else:  # one shared set of precisions
                a, b = np.broadcast_to(q["a"], (d,)), np.broadcast_to(q["b"], (d,))
            e_log_det = (digamma(a) - np.log(b)).sum()
            e_prec = np.diag(a / b)
        for i in range(n):
            diff = X[i] - q["m"][k]
            quad = d / q["beta"][k] + diff @ e_prec @ diff
            log_2pi = d * np.log(2 * np.pi)
            log_rho[i, k] = e_log_pi[k] + 0.5 * (e_log_det - log_2pi - quad)
    return np.exp(log_rho - logsumexp(log_rho, axis=1, keepdims=True))


def to_package_form(q, covariance_type):
    """(degrees_of_freedom, scale) of the package from the reference's precisions."""
    if covariance_type == "full":
        return q["nu"], np.array([np.linalg.inv(W) for W in q["W"]])
    if covariance_type == "tied":
        return q["nu"], np.linalg.inv(q["W"])
    if covariance_type == "diag":
        return 2 * q["a"][:, 0], 2 * q["b"]
    if covariance_type == "tied_diag":
        return 2 * q["a"][0], 2 * q["b"]
    return 2 * q["a"], 2 * q["b"]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_updates_match_the_textbook_reference(covariance_type):
    X, resp, prior = make_problem(covariance_type)
    T = 4
    q = reference_m_step(X, resp, prior, covariance_type)
    for _ in range(T):
        q = reference_m_step(X, reference_e_step(X, q, covariance_type), prior, covariance_type)
    run = run_vb(X, resp, VBOptions(prior, covariance_type, tol=0.0, max_iter=T))
    post = run.posterior
    assert run.n_iter == T
    np.testing.assert_allclose(post.weight_concentration, q["alpha"], rtol=1e-9)
    np.testing.assert_allclose(post.mean_precision, q["beta"], rtol=1e-9)
    np.testing.assert_allclose(post.mean, q["m"], rtol=1e-9)
    dof, scale = to_package_form(q, covariance_type)
    np.testing.assert_allclose(post.degrees_of_freedom, dof, rtol=1e-9)
    np.testing.assert_allclose(post.scale, scale, rtol=1e-8)


# --- the ELBO against its definition -------------------------------------------------------


def log_q(theta: MixtureParams, post) -> float:
    """log q(theta) from scipy.stats, the covariance factor and the means given it."""
    covariance_type = post.covariance_type
    K, d = post.mean.shape
    total = stats.dirichlet.logpdf(theta.weights, post.weight_concentration)
    cov = np.asarray(theta.covariances)
    nu, scale = post.degrees_of_freedom, post.scale
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


def log_joint(X, resp, theta: MixtureParams, prior) -> float:
    """E_{q(z)}[log p(X, Z | theta)] + log p(theta)."""
    K = theta.n_components
    full = theta.full_covariances()
    comp = np.column_stack(
        [stats.multivariate_normal.logpdf(X, theta.means[k], full[k]) for k in range(K)]
    )
    expected = (resp * (np.log(theta.weights) + comp.reshape(-1, K))).sum()
    return float(expected + log_prior(theta, prior))


def draws(post, S, seed):
    weights, means, covariances = sample_posterior_arrays(post, S, seed)
    return [
        MixtureParams(weights[s], means[s], covariances[s], post.covariance_type) for s in range(S)
    ]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("d", [1, 3])
def test_elbo_equals_its_definition_at_every_draw(covariance_type, d):
    X, resp, prior = make_problem(covariance_type, seed=1, d=d, n=40)
    T = 3
    options = VBOptions(prior, covariance_type, tol=0.0, max_iter=T)
    run = run_vb(X, resp, options)
    # The run's last q(z): the reference E-step at the q(theta) of one iteration earlier.
    before = run_vb(X, resp, options._replace(max_iter=T - 1)).posterior
    r = reference_e_step(X, reference_q(before, d), covariance_type)
    entropy = -(r * np.log(r)).sum()
    assert run.state.entropy == pytest.approx(entropy, rel=1e-9)
    values = [
        log_joint(X, r, theta, prior) - log_q(theta, run.posterior) + entropy
        for theta in draws(run.posterior, 20, seed=2)
    ]
    np.testing.assert_allclose(values, run.elbo, rtol=1e-9)
    assert run.elbo_history[-1] == run.elbo


def reference_q(post, d):
    """The reference's dict of q(theta) from the package's VBPosterior."""
    q = {"alpha": post.weight_concentration, "beta": post.mean_precision, "m": post.mean}
    covariance_type = post.covariance_type
    if covariance_type == "full":
        q.update(nu=post.degrees_of_freedom, W=np.array([np.linalg.inv(s) for s in post.scale]))
    elif covariance_type == "tied":
        q.update(nu=post.degrees_of_freedom, W=np.linalg.inv(post.scale))
    else:
        a, b = post.degrees_of_freedom / 2, post.scale / 2
        if covariance_type == "diag":
            a = np.repeat(a[:, None], d, axis=1)
        q.update(a=a, b=b)
    return q


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_e_step_raises_a_monte_carlo_elbo(covariance_type):
    """Off the recorded pairs the definition has Monte Carlo error: the E-step's q(z) beats
    the q(z) that made q(theta), by more than that error, at the same q(theta)."""
    X, resp, prior = make_problem(covariance_type, seed=3, d=2, n=50)
    options = VBOptions(prior, covariance_type, tol=0.0, max_iter=0)
    run = run_vb(X, resp, options)
    post = run.posterior
    new = reference_e_step(X, reference_q(post, X.shape[1]), covariance_type)
    thetas = draws(post, 60, seed=4)

    def mc(r):
        h = -(r * np.log(r)).sum()
        values = np.array([log_joint(X, r, t, prior) - log_q(t, post) for t in thetas]) + h
        return values.mean(), values.std(ddof=1) / np.sqrt(len(values))

    before, se_before = mc(resp)
    after, se_after = mc(new)
    assert before == pytest.approx(run.elbo, rel=1e-9)  # zero variance at the recorded pair
    assert se_before < 1e-8 * abs(before)
    assert after - before > 4 * se_after
    # ... and the ELBO the package records after that E-step (q(theta) updated too) is higher.
    assert run_vb(X, resp, options._replace(max_iter=1)).elbo >= after - 4 * se_after


def test_in_one_dimension_the_types_are_two_models():
    """In 1-D full, diag and spherical are one model (a variance per component), and tied,
    tied_diag and tied_spherical another (one variance): the same q and the same ELBO."""
    X, resp, prior = make_problem("full", seed=5, d=1, n=50)
    scale = float(prior.scale[0, 0])
    runs = {}
    for covariance_type in COVARIANCE_TYPES:
        shaped = {"full": [[scale]], "tied": [[scale]], "diag": [scale], "tied_diag": [scale]}
        p = ConjugatePrior(
            prior.weight_concentration,
            prior.mean,
            prior.mean_precision,
            prior.degrees_of_freedom,
            shaped.get(covariance_type, scale),
        )
        runs[covariance_type] = run_vb(X, resp, VBOptions(p, covariance_type, tol=0.0, max_iter=6))
    for group in (("full", "diag", "spherical"), ("tied", "tied_diag", "tied_spherical")):
        first = runs[group[0]]
        for other in group[1:]:
            np.testing.assert_allclose(runs[other].elbo_history, first.elbo_history, rtol=1e-12)
            np.testing.assert_allclose(runs[other].posterior.mean, first.posterior.mean)
            np.testing.assert_allclose(
                np.ravel(runs[other].posterior.scale), np.ravel(first.posterior.scale)
            )
    assert runs["tied"].elbo != pytest.approx(runs["full"].elbo)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_with_one_component_the_elbo_is_the_log_marginal_likelihood(covariance_type):
    """K = 1: the labels are known, q(theta) is the exact posterior and the bound is tight.
    log p(X) is computed independently as the sum of one-step-ahead predictive densities
    log p(x_i | x_1..x_{i-1}), each a Student t (scipy) from the conjugate update."""
    X, _, prior = make_problem(covariance_type, seed=6, d=2, n=25, K=1)
    run = run_vb(X, np.ones((X.shape[0], 1)), VBOptions(prior, covariance_type, max_iter=2))
    d = X.shape[1]
    m, kappa, nu = prior.mean.copy(), prior.mean_precision, prior.degrees_of_freedom
    psi = np.asarray(prior.scale, dtype=float)
    total = 0.0
    for x in X:
        if covariance_type == "full":
            dof = nu - d + 1
            total += stats.multivariate_t.logpdf(x, m, psi * (kappa + 1) / (kappa * dof), dof)
            psi = psi + kappa / (kappa + 1) * np.outer(x - m, x - m)
            nu += 1
        elif covariance_type == "diag":
            scale = np.sqrt(psi * (kappa + 1) / (kappa * nu))
            total += stats.t.logpdf(x, nu, m, scale).sum()
            psi = psi + kappa / (kappa + 1) * (x - m) ** 2
            nu += 1
        else:
            shape = psi * (kappa + 1) / (kappa * nu) * np.eye(d)
            total += stats.multivariate_t.logpdf(x, m, shape, nu)
            psi = psi + kappa / (kappa + 1) * ((x - m) ** 2).sum()
            nu += d
        m = (kappa * m + x) / (kappa + 1)
        kappa += 1
    assert run.elbo == pytest.approx(total, rel=1e-10)
