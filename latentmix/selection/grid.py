"""The grid of ``latentmix select``: every (K, covariance type) cell fitted by EM.

One cell is one task (:func:`fit_cell`): the MLE, and under a prior also the MAP, each with
its log-likelihood, number of parameters and the criteria of :mod:`.criteria` (mclust's
sign: larger is better). A cell whose MLE does not exist on the data (every EM start
collapsed a component onto too few points) is a result, stored with the reason, never
dropped. :func:`grid_table` turns the cells into the rows of the page and the best cell with
those within 2, 6 and 10 BIC units of it. The bootstrap LRT fits its replicates by the same
:func:`fit_estimate` (:func:`latentmix.selection.lrt.bootstrap_replicate`), so a replicate's
statistic is made exactly as the data's was.
"""

from __future__ import annotations

import warnings

import numpy as np

from latentmix.params import MixtureParams, mclust_name, n_parameters
from latentmix.selection import criteria

#: The two estimates of a cell: the maximum-likelihood and the maximum a posteriori estimate.
ESTIMATES = ("mle", "map")

#: EM restarts of every fit of ``latentmix select`` unless ``--n-init`` says otherwise (the
#: default of :class:`latentmix.EMGaussianMixture`): the grid's cells and, as they must be
#: fitted as the data were, the bootstrap LRT's replicates.
N_INIT = 10


def params_record(params: MixtureParams) -> dict:
    """A MixtureParams as JSON-ready lists (see :func:`params_from_record`)."""
    return {
        "weights": np.asarray(params.weights).tolist(),
        "means": np.asarray(params.means).tolist(),
        "covariances": np.asarray(params.covariances).tolist(),
        "covariance_type": params.covariance_type,
    }


def params_from_record(record: dict) -> MixtureParams:
    """The MixtureParams stored by :func:`params_record`."""
    return MixtureParams(
        np.asarray(record["weights"], dtype=float),
        np.asarray(record["means"], dtype=float),
        np.asarray(record["covariances"], dtype=float),
        record["covariance_type"],
    )


def restarts(K: int, n_init: int) -> int:
    """The EM restarts a cell with K components needs: ``n_init``, or 1 when K = 1.

    With one component every responsibility is 1, so the first M-step from any start is
    the sample mean and covariance (MLE) or their conjugate update (MAP): the unique
    optimum. Restarts could only find it again.
    """
    return 1 if K == 1 else n_init


def fit_estimate(
    X,
    K: int,
    covariance_type: str,
    prior,
    random_state,
    n_init: int,
    *,
    missing: str = "error",
    sample_weight=None,
) -> dict:
    """One EM fit of a cell and its criteria; a fit that fails is a record with the reason.

    With missing cells each row still adds one log-likelihood term (the marginal density of
    its observed cells), so the BIC's n is the number of rows. Weights are read as counts:
    the BIC's n is the total weight and the ICL's entropy sums each row's term times its
    weight, so integer weights give the criteria of the data with rows repeated.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        NaN cells are missing when ``missing="ignore"``.
    K : int
    covariance_type : str
    prior : None, "default" or ConjugatePrior
        None for the MLE.
    random_state : int
    n_init : int
        EM restarts (:class:`latentmix.EMGaussianMixture`); one for K = 1 (:func:`restarts`).
    missing : {"error", "ignore"}
        As :class:`latentmix.EMGaussianMixture`.
    sample_weight : ndarray of shape (n,), optional
        Observation weights of the fit.

    Returns
    -------
    dict
        ``status`` ("ok" or "failed"); when ok ``log_likelihood``, ``log_prior`` (None for
        the MLE), ``n_parameters``, ``bic``, ``icl``, ``aic`` (mclust's sign), ``entropy``,
        ``converged``, ``n_iter``, ``params`` (:func:`params_record`) and ``warnings``
        (the sentences EM warned, e.g. restarts that collapsed); when failed ``error``.
    """
    from latentmix.em import missing as M
    from latentmix.em.estep import e_step
    from latentmix.estimator import EMGaussianMixture

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            em = EMGaussianMixture(
                K,
                covariance_type=covariance_type,
                prior=prior,
                n_init=restarts(K, n_init),
                random_state=random_state,
                missing=missing,
            ).fit(X, sample_weight=sample_weight)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
        # DegenerateMixtureError (every start collapsed) is a ValueError: no MLE here.
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    n, d = X.shape
    p = n_parameters(K, d, covariance_type)
    log_resp = (M.e_step if np.isnan(X).any() else e_step)(X, em.params_)[0]
    top = log_resp.max(axis=1, keepdims=True)  # (n, 1): log t_{i z_i}, at least -log K
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=float)
        n, top = float(w.sum()), w[:, None] * top
    ll = float(em.log_likelihood_)
    entropy = criteria.classification_entropy(top)
    bic = criteria.bic(ll, p, n)
    return {
        "status": "ok",
        "log_likelihood": ll,
        "log_prior": em.log_prior_,
        "n_parameters": p,
        "bic": bic,
        "icl": bic - 2.0 * entropy,  # criteria.icl, with the BIC's n the total weight
        "aic": criteria.aic(ll, p),
        "entropy": entropy,
        "converged": bool(em.converged_),
        "n_iter": int(em.n_iter_),
        "params": params_record(em.params_),
        "warnings": sorted({str(w.message) for w in caught}),
    }


def fit_cell(
    X,
    K: int,
    covariance_type: str,
    prior,
    seed_sequence,
    n_init: int,
    *,
    missing: str = "error",
    sample_weight=None,
) -> dict:
    """The MLE and (with a prior) the MAP of one cell.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    K : int
    covariance_type : str
    prior : None, "default" or ConjugatePrior
        None: the MLE only.
    seed_sequence : numpy.random.SeedSequence
        The cell's seeds (one child per estimate).
    n_init : int
    missing, sample_weight
        As :func:`fit_estimate`.

    Returns
    -------
    dict
        ``K``, ``covariance_type``, ``model`` (mclust's name), ``mle`` and ``map`` (None
        without a prior), each as :func:`fit_estimate`.
    """
    seeds = [int(s.generate_state(1)[0]) for s in seed_sequence.spawn(2)]
    data = {"missing": missing, "sample_weight": sample_weight}
    record = {
        "K": int(K),
        "covariance_type": covariance_type,
        "model": mclust_name(covariance_type, X.shape[1]),
        "mle": fit_estimate(X, K, covariance_type, None, seeds[0], n_init, **data),
        "map": None,
    }
    if prior is not None:
        record["map"] = fit_estimate(X, K, covariance_type, prior, seeds[1], n_init, **data)
    return record


def cell_value(cell: dict, estimate: str, key: str):
    """``cell[estimate][key]`` when that estimate succeeded, else None."""
    fit = cell.get(estimate)
    if not fit or fit.get("status") != "ok":
        return None
    return fit[key]


def grid_table(cells: list[dict], estimate: str = "mle", criterion: str = "bic") -> dict:
    """The best cell by ``criterion`` and the cells within 2, 6 and 10 units of it.

    Parameters
    ----------
    cells : list of dict
        :func:`fit_cell` records.
    estimate : {"mle", "map"}
    criterion : {"bic", "icl", "aic"}

    Returns
    -------
    dict
        ``best`` ((K, covariance_type) or None), ``within`` ({2: [...], 6: [...],
        10: [...]} of (K, covariance_type), best first) and ``difference``
        ({(K, covariance_type): best minus this cell}).
    """
    values = {(c["K"], c["covariance_type"]): cell_value(c, estimate, criterion) for c in cells}
    ranked = criteria.within(values)
    best = ranked["best"]
    difference = {}
    if best is not None:
        top = values[best]
        difference = {key: top - v for key, v in values.items() if v is not None}
    return {"best": best, "within": ranked["within"], "difference": difference}


def failures(cells: list[dict]) -> list[dict]:
    """The failed estimates: ``K``, ``covariance_type``, ``model``, ``estimate``, ``error``."""
    rows = []
    for c in sorted(cells, key=lambda c: (c["covariance_type"], c["K"])):
        for estimate in ESTIMATES:
            fit = c.get(estimate)
            if fit and fit.get("status") != "ok":
                rows.append(
                    {
                        "K": c["K"],
                        "covariance_type": c["covariance_type"],
                        "model": c["model"],
                        "estimate": estimate,
                        "error": fit.get("error", ""),
                    }
                )
    return rows
