"""Starting points for EM: k-means++ (or uniformly random) seed rows, made into mixtures.

:func:`initial_params` is called by :func:`latentmix.em.fit.fit_em` for every candidate
start (and by the benchmarks and tests for one fixed start).

Two types of start are made from the seeds, and restarts alternate between them:

* ``"partition"``: each row is assigned to its nearest seed and one M-step (MLE or MAP) from
  these hard assignments gives the parameters. Under MLE a seed that captures fewer than
  d + 1 rows would start with a singular covariance; such components start with the pooled
  within-cluster covariance instead, so every start is a proper mixture.
* ``"scales"``: equal weights, the seeds as means, and covariances that are the data
  covariance times a factor drawn log-uniformly between :math:`K^{-2/d}/K^2` and 1 for each
  component (the shared types, which have one covariance, take the data covariance, its
  diagonal or its mean variance times :math:`K^{-2/d}`). Starts with components of very
  different spread reach the "narrow component inside a broad one" optima (galaxies with
  four components is the classic case) that partitions of the space almost never lead to.
"""

from __future__ import annotations

import numpy as np

from latentmix.em.mstep import m_step, sufficient_statistics
from latentmix.params import MixtureParams
from latentmix.priors import ConjugatePrior

INIT_METHODS = ("k-means++", "random")
#: The two starting points made from the seeds (see the module docstring).
START_TYPES = ("partition", "scales")


def kmeans_plusplus(X, n_components: int, rng: np.random.Generator, n_local_trials=None):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007).

    Each new seed is drawn with probability proportional to the squared distance to the
    nearest seed so far; of ``n_local_trials`` such draws the one that lowers the total
    squared distance most is kept (2 + log K draws by default, as is usual).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int
    rng : numpy.random.Generator
    n_local_trials : int, optional

    Returns
    -------
    ndarray of shape (K,)
        Row indices of the seeds.
    """
    n = X.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_components))
    sq_norms = np.einsum("ij,ij->i", X, X)

    def sq_dist(rows):
        d2 = sq_norms[None, :] - 2 * X[rows] @ X.T + sq_norms[rows][:, None]
        return np.maximum(d2, 0.0)

    seeds = [int(rng.integers(n))]
    closest = sq_dist([seeds[0]])[0]
    for _ in range(1, n_components):
        total = closest.sum()
        if total <= 0:  # fewer distinct rows than components: take any unused row
            unused = np.setdiff1d(np.arange(n), seeds)
            seeds.append(int(rng.choice(unused)))
            continue
        cumulative = np.cumsum(closest)
        draws = rng.random(n_local_trials) * total
        candidates = np.minimum(np.searchsorted(cumulative, draws), n - 1)
        cand_closest = np.minimum(closest[None, :], sq_dist(candidates))
        best = int(np.argmin(cand_closest.sum(axis=1)))
        seeds.append(int(candidates[best]))
        closest = cand_closest[best]
    return np.array(seeds)


def random_seeds(X, n_components: int, rng: np.random.Generator):
    """K distinct rows chosen uniformly at random, shape (K,)."""
    return rng.choice(X.shape[0], size=n_components, replace=False)


def hard_assignments(X, seeds):
    """Index of the nearest seed row for every row, shape (n,)."""
    centres = X[seeds]
    d2 = (
        np.einsum("ij,ij->i", X, X)[:, None]
        - 2 * X @ centres.T
        + np.einsum("ij,ij->i", centres, centres)[None, :]
    )
    labels = np.argmin(d2, axis=1)
    # Each seed keeps at least its own row (matters only with duplicated rows).
    labels[seeds] = np.arange(len(seeds))
    return labels


def params_from_labels(
    X,
    labels,
    n_components: int,
    covariance_type: str,
    prior: ConjugatePrior | None = None,
    reg_covar: float = 0.0,
) -> MixtureParams:
    """One M-step from hard assignments, with singular MLE starts repaired.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    labels : ndarray of shape (n,)
        Values in 0..K-1.
    n_components : int
    covariance_type : str
    prior : ConjugatePrior or None
    reg_covar : float

    Returns
    -------
    MixtureParams
    """
    n, d = X.shape
    resp = np.zeros((n, n_components))
    resp[np.arange(n), labels] = 1.0
    center = X.mean(axis=0)
    stats = sufficient_statistics(X, resp, covariance_type, center)
    params = m_step(stats, prior, reg_covar)
    if prior is not None:
        return params
    # MLE: components with too few rows for a proper covariance take the pooled one.
    pooled = m_step(stats._replace(covariance_type="tied", sum_xx=(X - center).T @ (X - center)))
    pooled_cov = pooled.covariances + reg_covar * np.eye(d)
    if not _is_positive_definite(pooled_cov[None]):
        # Fewer distinct rows than needed even when pooled: fall back to the data covariance.
        pooled_cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True)) + reg_covar * np.eye(d)
    small = stats.nk < d + 1
    covariances = params.covariances.copy()
    if covariance_type == "full":
        bad = small | ~_is_positive_definite(covariances, each=True)
        covariances[bad] = pooled_cov
    elif covariance_type == "tied":
        if not _is_positive_definite(covariances[None]):
            covariances = pooled_cov
    elif covariance_type == "diag":
        bad = small | np.any(covariances <= 0, axis=1)
        covariances[bad] = np.diag(pooled_cov)
    elif covariance_type == "spherical":
        bad = small | (covariances <= 0)
        covariances[bad] = np.trace(pooled_cov) / d
    elif covariance_type in ("tied_diag", "tied_spherical"):
        # The MLE is the pooled within-cluster variance itself, so the pooled fallback is no
        # help: (next to) zero means a feature is constant within every cluster (round-off
        # leaves ~1e-16, hence the relative test), and the start takes the data's variances.
        spread = np.var(X, axis=0)
        spread = spread if covariance_type == "tied_diag" else np.asarray(spread.mean())
        if np.any(covariances <= _SINGULAR_RTOL * spread):
            covariances = spread + reg_covar
    return params._replace(covariances=covariances)


#: A shared variance below this fraction of the data's is taken as singular in a start.
_SINGULAR_RTOL = 1e-10

#: Seeding and the scale of "scales" starts use at most this many rows.
SUBSAMPLE_ROWS = 20_000


def _subsample_rows(n, rng):
    if n <= SUBSAMPLE_ROWS:
        return None
    return np.sort(rng.choice(n, size=SUBSAMPLE_ROWS, replace=False))


def _subsample(X, rng):
    rows = _subsample_rows(X.shape[0], rng)
    return X if rows is None else X[rows]


def _is_positive_definite(stack, each=False):
    # One batched call: the same LAPACK routine on each matrix, without a loop in Python.
    out = np.linalg.eigvalsh(stack).min(axis=-1) > 0
    return out if each else bool(out.all())


def scaled_covariance_start(
    X, seeds, covariance_type: str, rng: np.random.Generator
) -> MixtureParams | None:
    """Equal weights, seed rows as means, data covariance times a random factor each.

    Returns None when the data covariance is singular (no such start exists).
    """
    d = X.shape[1]
    K = len(seeds)
    cov = np.atleast_2d(np.cov(_subsample(X, rng), rowvar=False, bias=True))
    if not _is_positive_definite(cov[None]):
        return None
    smallest = K ** (-2.0 / d) / K**2
    factors = np.exp(rng.uniform(np.log(smallest), 0.0, size=K))
    covariances = {
        "full": factors[:, None, None] * cov,
        "tied": cov * K ** (-2.0 / d),
        "diag": factors[:, None] * np.diag(cov),
        "spherical": factors * np.trace(cov) / d,
        "tied_diag": np.diag(cov) * K ** (-2.0 / d),
        "tied_spherical": np.asarray(np.trace(cov) / d * K ** (-2.0 / d)),
    }[covariance_type]
    return MixtureParams(np.full(K, 1.0 / K), X[seeds].astype(float), covariances, covariance_type)


def initial_params(
    X,
    n_components: int,
    covariance_type: str,
    rng: np.random.Generator,
    init: str = "k-means++",
    prior: ConjugatePrior | None = None,
    reg_covar: float = 0.0,
    start: str = "partition",
) -> MixtureParams:
    """A random starting point for one EM run.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int
    covariance_type : str
    rng : numpy.random.Generator
    init : {"k-means++", "random"}
        How the seed rows are chosen.
    prior : ConjugatePrior or None
        The M-step of a ``"partition"`` start is MAP when a prior is given.
    reg_covar : float
    start : {"partition", "scales"}
        Which type of start to build from the seeds (see the module docstring).

    Returns
    -------
    MixtureParams
    """
    if init == "k-means++":
        # Seeding looks at every row K times: on big data seed from a random subsample.
        rows = _subsample_rows(X.shape[0], rng)
        seeds = kmeans_plusplus(X if rows is None else X[rows], n_components, rng)
        seeds = seeds if rows is None else rows[seeds]
    elif init == "random":
        seeds = random_seeds(X, n_components, rng)
    else:
        raise ValueError(
            f"init must be one of {', '.join(INIT_METHODS)} or a MixtureParams; got {init!r}."
        )
    if start == "scales":
        params = scaled_covariance_start(X, seeds, covariance_type, rng)
        if params is not None:
            return params
    elif start != "partition":
        raise ValueError(f"start must be one of {', '.join(START_TYPES)}; got {start!r}.")
    labels = hard_assignments(X, seeds)
    return params_from_labels(X, labels, n_components, covariance_type, prior, reg_covar)
