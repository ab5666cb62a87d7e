r"""The sequential bootstrap likelihood-ratio test for the number of components.

As R mclust's ``mclustBootstrapLRT`` (McLachlan 1987; McLachlan & Rathnayake 2014): within
one covariance structure, test K components against K + 1 for K = 1, 2, ... by the statistic

.. math::

    \text{LRTS} = 2 \{\log L(\hat\theta_{K+1}) - \log L(\hat\theta_K)\},

whose null distribution is not the textbook chi-square (the null sits on the boundary of the
alternative and the alternative is not identifiable there), so it is bootstrapped: each
replicate draws n rows from the fitted K-component MLE, fits K and K + 1 components to them
and keeps their LRTS. The p-value is
:math:`(1 + \#\{\text{LRTS}^*_b \ge \text{LRTS}\}) / (B + 1)` over the B replicates that
gave an LRTS.

The replicate's statistic must be made exactly as the data's was, or its distribution is not
the null distribution of the data's statistic: each model of a replicate is fitted by the
function that fitted the data's grid cell (:func:`latentmix.selection.grid.fit_estimate`),
with the same restarts (``n_init``; one for K = 1), the same starting points (fresh
k-means++ starts), the same tolerance and iteration cap, and the same rule for a fit that
fails (every start collapsed a component: no MLE). For one Gaussian against two, the
statistic and this search (its starts, its collapse rule) do not change under a shift and
scaling of the data, so the replicates' statistics have the data's null distribution whatever
the fitted mean and variance (up to EM's stopping rule, relative to the log-likelihood), and
the p-value is uniform on ``{1/(B+1), ..., 1}`` however often the search misses the best
maximum. mclust instead starts each replicate's EM at the fitted estimates only. Under the
null the likelihood of K + 1 components has many local maxima (a component on a few close
points), and how thoroughly EM searches decides the statistic: on 200 data sets of n = 100
from one Gaussian, EM with 3, 10 and 30 restarts missed the best two-component maximum found
by any search by more than 0.1 in log-likelihood on 61, 45 and 21 of them, and EM started
at the estimates of another such data set on 83 (and collapsed on 24). A replicate searched
otherwise than the data (started at the estimates, fewer restarts, a looser tolerance) has a
statistic of another distribution.

A replicate whose fit fails is drawn again, at most :data:`MAX_REDRAWS` times: a data set
whose fit fails is not tested (``latentmix select`` stops the sequence there), so the null
distribution is that of the statistic given that both fits exist, on the data and on the
replicates alike. The test goes on to K + 1 while the p-value is at most the level and stops
at the first that is not: the number of components it picks is that K. Data with missing
cells or observation weights are bootstrapped as the parametric bootstrap of
:func:`latentmix.em.intervals.bootstrap` does: simulated row i loses the cells row i of the
data lacks and carries row i's weight, and both models are fitted on the observed cells with
the weights, as the data's were.

Each replicate is one task of :func:`latentmix.studies.runner.run_study`
(:func:`lrt_task`), so the test runs on Dask and resumes.
"""

from __future__ import annotations

import numpy as np

from latentmix.params import sample_mixture

#: Times a replicate is drawn again when a fit on it fails, before the replicate is failed.
MAX_REDRAWS = 20

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


def fit_replicate(
    X, K: int, covariance_type: str, random_state: int, n_init: int, sample_weight=None
) -> float:
    """The MLE log-likelihood of K components on a replicate, fitted as the data's cell was.

    :func:`latentmix.selection.grid.fit_estimate` with the data's restarts ``n_init``: the
    same starts, tolerance and iteration cap as the grid. NaN cells of ``X`` are missing;
    ``sample_weight`` weights each row's term.

    Raises
    ------
    ValueError
        If the fit fails (every EM start collapsed a component), with the grid's reason.
    """
    from latentmix.selection.grid import fit_estimate

    missing = "ignore" if np.isnan(X).any() else "error"
    fit = fit_estimate(
        X,
        K,
        covariance_type,
        None,
        random_state,
        n_init,
        missing=missing,
        sample_weight=sample_weight,
    )
    if fit["status"] != "ok":
        raise ValueError(fit["error"])
    return float(fit["log_likelihood"])


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
    n_init: int | None = None,
    holes=None,
    sample_weight=None,
) -> dict:
    """One replicate: data from ``null``, the MLEs of K and K + 1 components fitted to them.

    Both models are fitted as the data's grid cells were (:func:`fit_replicate`: fresh
    starts, ``n_init`` restarts, the grid's tolerance); when a fit fails the replicate is
    drawn again, as the data's test needs both fits.

    Parameters
    ----------
    null, alt : MixtureParams
        The fitted K- and (K + 1)-component MLEs of one structure; rows are drawn from
        ``null``, and ``alt`` gives only K + 1 and the structure.
    n_samples : int
    rng : numpy.random.Generator
        Draws the rows and the seeds of the fits.
    n_init : int, optional
        The EM restarts the data's fits had (default
        :data:`latentmix.selection.grid.N_INIT`, ``latentmix select``'s).
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
        ``lrts``, ``log_likelihood_null``, ``log_likelihood_alt`` and ``redraws`` (draws
        discarded because a fit failed).

    Raises
    ------
    RuntimeError
        If :data:`MAX_REDRAWS` draws in a row failed.
    """
    from latentmix.selection.grid import N_INIT

    n_init = N_INIT if n_init is None else int(n_init)
    K, covariance_type = null.n_components, null.covariance_type
    if alt.n_components != K + 1 or alt.covariance_type != covariance_type:
        raise ValueError(
            f"the alternative must have K + 1 = {K + 1} components of the null's structure "
            f"({covariance_type}); got {alt.n_components} ({alt.covariance_type})."
        )
    last = ""
    for redraws in range(MAX_REDRAWS + 1):
        X = simulate_like(null, n_samples, rng, holes)
        seeds = [int(s) for s in rng.integers(0, 2**32, size=2)]
        try:
            ll0, ll1 = (
                fit_replicate(X, k, covariance_type, seed, n_init, sample_weight)
                for k, seed in zip((K, K + 1), seeds, strict=True)
            )
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
            last = str(err)
            continue
        return {
            "lrts": lrts(ll0, ll1),
            "log_likelihood_null": ll0,
            "log_likelihood_alt": ll1,
            "redraws": redraws,
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
