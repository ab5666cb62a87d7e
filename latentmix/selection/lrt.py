r"""The sequential bootstrap likelihood-ratio test for the number of components.

As R mclust's ``mclustBootstrapLRT`` (McLachlan 1987; McLachlan & Rathnayake 2014): within
one covariance structure, test K components against K + 1 for K = 1, 2, ... by the statistic

.. math::

    \text{LRTS} = 2 \{\log L(\hat\theta_{K+1}) - \log L(\hat\theta_K)\},

whose null distribution is not the textbook chi-square (the null sits on the boundary of the
alternative and the alternative is not identifiable there), so it is bootstrapped: each
replicate draws n rows from the fitted K-component MLE, fits K and K + 1 components by EM
started at the fitted estimates (as mclust does), and keeps their LRTS. The p-value is
:math:`(1 + \#\{\text{LRTS}^*_b \ge \text{LRTS}\}) / (B + 1)` over the B replicates that
gave an LRTS. Data with missing cells or observation weights are bootstrapped as the
parametric bootstrap of :func:`latentmix.em.intervals.bootstrap` does: simulated row i loses
the cells row i of the data lacks and carries row i's weight, so each replicate's statistic is
made as the data's was (EM on the observed cells, weighted log-likelihoods). Unlike mclust,
each replicate's models are fitted both from the fitted estimates and from fresh starts (the
better kept), as thoroughly as the data were: fitted only from the fitted estimates the
statistic is too small under the null and the test rejects too often (:func:`_fit`). A
replicate that cannot be fitted is drawn again, as in mclust, at most :data:`MAX_REDRAWS`
times. The test goes on to K + 1 while the p-value is at most the level and stops at the
first that is not: the number of components it picks is that K.

Each replicate is one task of :func:`latentmix.studies.runner.run_study`
(:func:`lrt_task`), so the test runs on Dask and resumes.
"""

from __future__ import annotations

import numpy as np

from latentmix.params import sample_mixture

#: Times a replicate is drawn again when a fit on it fails, before the replicate is failed.
MAX_REDRAWS = 20

#: EM's relative tolerance in a replicate: the statistic is needed to about 1e-3, not to the
#: last digit (mclust's own EM stops at 1e-5), and runs towards a flat optimum are long.
TOL = 1e-7

#: Fresh EM starts for a replicate whose fit from the fitted estimate collapsed.
REFIT_INIT = 1

#: mclust's default level of each test in the sequence.
LEVEL = 0.05

#: The spawn key of the LRT's seeds (the grid and the posterior use their own).
SEED_KEY = 2


def lrts(log_likelihood_null: float, log_likelihood_alt: float) -> float:
    r"""The likelihood-ratio statistic :math:`2(\log L_{K+1} - \log L_K)`."""
    return float(2.0 * (log_likelihood_alt - log_likelihood_null))


def p_value(observed: float, replicates) -> float:
    """Mclust's bootstrap p-value ``(1 + #(replicates >= observed)) / (B + 1)``.

    Parameters
    ----------
    observed : float
    replicates : array-like of shape (B,)
        Finite bootstrap statistics.
    """
    replicates = np.asarray(replicates, dtype=float)
    return float((1 + np.sum(replicates >= observed)) / (replicates.size + 1))


def _fit_from(X, params, max_iter: int = 1000, sample_weight=None) -> float:
    """The log-likelihood of one EM run (MLE) on ``X`` started at ``params``.

    NaN cells of ``X`` are missing (EM on the observed cells); ``sample_weight`` (n,) weights
    each row's log-likelihood term.
    """
    from latentmix.estimator import EMGaussianMixture

    em = EMGaussianMixture(
        params.n_components,
        covariance_type=params.covariance_type,
        init=params,
        tol=TOL,
        max_iter=max_iter,
        missing="ignore",
    ).fit(X, sample_weight=sample_weight)
    return float(em.log_likelihood_)


def _refit(X, params, rng, sample_weight=None) -> float:
    """The log-likelihood of EM from :data:`REFIT_INIT` round(s) of fresh starts."""
    from latentmix.estimator import EMGaussianMixture

    em = EMGaussianMixture(
        params.n_components,
        covariance_type=params.covariance_type,
        n_init=REFIT_INIT,
        tol=TOL,
        random_state=rng,
        missing="ignore",
    ).fit(X, sample_weight=sample_weight)
    return float(em.log_likelihood_)


def _fit(X, params, rng, sample_weight=None) -> tuple[float, bool]:
    """The better of EM from the fitted estimate and from fresh starts.

    Returns (log-likelihood, whether the fresh starts did better). mclust starts only at the
    fitted estimate; the data's fit, though, searched from many starts, and a replicate fitted
    less thoroughly than the data gives too small a statistic under the null: started only at
    the fitted estimate, 4 of 16 null data sets (two components against three) had p = 0.05
    with B = 19, against 1 in 20 expected. Both maxima are searched here as the data's were.
    """
    best, fresh_better, errors = -np.inf, False, []
    for fresh, fit in (
        (False, lambda: _fit_from(X, params, sample_weight=sample_weight)),
        (True, lambda: _refit(X, params, rng, sample_weight)),
    ):
        try:
            value = fit()
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
            errors.append(err)
            continue
        if value > best:
            best, fresh_better = value, fresh
    if not np.isfinite(best):
        raise errors[-1]
    return best, fresh_better


def simulate_like(params, n_samples: int, rng: np.random.Generator, holes=None) -> np.ndarray:
    """``n_samples`` rows drawn from ``params``, with the cells ``holes`` marks deleted (NaN).

    The parametric bootstrap of data with missing cells, as in
    :func:`latentmix.em.intervals.bootstrap`: simulated row i is missing the cells row i of
    the data is missing, so a replicate is fitted on as many observed cells as the data.

    Parameters
    ----------
    params : MixtureParams
    n_samples : int
    rng : numpy.random.Generator
    holes : ndarray of bool of shape (n_samples, d), optional
        The data's missing cells (``np.isnan(X)``).

    Returns
    -------
    ndarray of shape (n_samples, d)
    """
    X, _ = sample_mixture(params, n_samples, rng)
    if holes is not None:
        X[holes] = np.nan
    return X


def bootstrap_replicate(
    null,
    alt,
    n_samples: int,
    rng: np.random.Generator,
    *,
    holes=None,
    sample_weight=None,
) -> dict:
    """One replicate: data from ``null``, EM for K and K + 1 from ``null`` and ``alt``.

    Each model is fitted by EM from the fitted estimate (as mclust does) and from
    :data:`REFIT_INIT` fresh starts, and the better is kept (see :func:`_fit`); when both
    fail the replicate is drawn again (mclust's only remedy).

    Parameters
    ----------
    null, alt : MixtureParams
        The fitted K- and (K + 1)-component MLEs of one structure.
    n_samples : int
    rng : numpy.random.Generator
    holes : ndarray of bool of shape (n_samples, d), optional
        The data's missing cells, deleted from every simulated data set
        (:func:`simulate_like`).
    sample_weight : ndarray of shape (n_samples,), optional
        The data's observation weights: simulated row i carries row i's weight in both fits, as
        the data's rows did (as the parametric bootstrap of
        :func:`latentmix.em.intervals.bootstrap` keeps them).

    Returns
    -------
    dict
        ``lrts``, ``log_likelihood_null``, ``log_likelihood_alt``, ``redraws`` (draws
        discarded because a fit failed) and ``refits`` (fits where the fresh starts did
        better than the fitted estimate).

    Raises
    ------
    RuntimeError
        If :data:`MAX_REDRAWS` draws in a row failed.
    """
    import warnings

    last = ""
    for redraws in range(MAX_REDRAWS + 1):
        X = simulate_like(null, n_samples, rng, holes)
        try:
            with warnings.catch_warnings():
                # A replicate is a number in a distribution: the warnings a user's fit gets
                # (convergence, small components) are not for it.
                warnings.simplefilter("ignore")
                ll0, refit0 = _fit(X, null, rng, sample_weight)
                ll1, refit1 = _fit(X, alt, rng, sample_weight)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
            last = f"{type(err).__name__}: {err}"
            continue
        return {
            "lrts": lrts(ll0, ll1),
            "log_likelihood_null": ll0,
            "log_likelihood_alt": ll1,
            "redraws": redraws,
            "refits": int(refit0) + int(refit1),
        }
    raise RuntimeError(
        f"{MAX_REDRAWS + 1} bootstrap draws in a row could not be fitted (last: {last})"
    )


def replicate_rng(seed: int, K: int, index: int) -> np.random.Generator:
    """The generator of replicate ``index`` of the test of K against K + 1."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(SEED_KEY, K, index)))


def lrt_result(observed: float, records: list[dict], level: float = LEVEL) -> dict:
    """The test of K against K + 1 from its stored replicates.

    Parameters
    ----------
    observed : float
        The LRTS of the data.
    records : list of dict
        The replicates' records (``status`` "ok" with ``lrts``, or "failed").
    level : float

    Returns
    -------
    dict
        ``lrts``, ``p_value`` (None without a replicate), ``n_boot`` (replicates with an
        LRTS), ``n_failed``, ``significant`` and ``boot_lrts`` (sorted).
    """
    boot = sorted(float(r["lrts"]) for r in records if r.get("status") == "ok")
    failed = sum(r.get("status") != "ok" for r in records)
    p = p_value(observed, boot) if boot else None
    return {
        "lrts": float(observed),
        "p_value": p,
        "n_boot": len(boot),
        "n_failed": int(failed),
        "significant": p is not None and p <= level,
        "boot_lrts": boot,
    }
