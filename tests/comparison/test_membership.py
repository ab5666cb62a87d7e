"""Membership comparison against direct scipy computation, draw by draw."""

import numpy as np
from scipy.special import logsumexp

from latentmix.comparison import compare
from latentmix.em.estep import e_step
from latentmix.params import sample_mixture


def test_membership_matches_direct_scipy(truth, fake_idata, scipy_log_prob):
    X, _ = sample_mixture(truth, 150, random_state=5)
    idata = fake_idata(truth, seed=7)
    mle = truth._replace(means=truth.means + 0.05)
    result = compare(X, idata, truth, mle=mle, n_disagree=5)
    logp = scipy_log_prob(idata, X)
    # Mean and sd over draws of p(z = k | x, theta_s).
    resp = np.exp(logp - logsumexp(logp, axis=2, keepdims=True))
    m = result.membership
    np.testing.assert_allclose(m.posterior_mean, resp.mean(0), atol=1e-12)
    np.testing.assert_allclose(m.posterior_sd, resp.std(0), atol=1e-7)
    resp_map = np.exp(e_step(X, truth)[0])
    np.testing.assert_allclose(m.responsibilities_map, resp_map, atol=1e-12)
    np.testing.assert_allclose(m.responsibilities_mle, np.exp(e_step(X, mle)[0]), atol=1e-12)
    tv = 0.5 * np.abs(resp_map - resp.mean(0)).sum(1)
    np.testing.assert_allclose(m.disagreement, tv, atol=1e-12)
    assert list(m.top) == list(np.argsort(-tv)[:5])
    assert m.n_label_changes == int(np.sum(resp_map.argmax(1) != resp.mean(0).argmax(1)))
    record = m.to_dict(X, ["a", "b"])
    assert [r["row"] for r in record["top"]] == list(m.top)
    assert record["top"][0]["x"] == dict(zip("ab", X[m.top[0]].tolist(), strict=True))
    assert record["max_disagreement"] == m.disagreement.max()
