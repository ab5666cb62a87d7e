"""The runs behind the walkthrough: the poor start, k-means beside EM, the collapse, restarts.

Everything here computes; nothing draws. :mod:`latentmix.teach.frames` and
:mod:`latentmix.teach.figures` draw the results and :mod:`latentmix.teach.walkthrough` puts
them on the page. Components are 0-based in every array and index returned here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentmix.matching import match_components
from latentmix.params import MixtureParams
from latentmix.teach.bound import bound_along_step, bound_slice, responsibilities
from latentmix.teach.hard import HardEMResult, hard_em

#: The walkthrough's runs stop when an iteration raises the objective by less than this
#: (relative); tighter only adds frames nobody can tell apart.
TOL = 1e-8
MAX_ITER = 500
#: Where the bound along EM's whole step is drawn: s = 0 is the current point, 1 the next.
STEPS = np.round(np.linspace(-0.6, 1.8, 121), 12)  # holds 0 and 1 exactly
#: The restarts section: galaxies with this many components and random starts.
RESTART_COMPONENTS = 4
RESTART_STARTS = 10


def _fit(X, n_components: int, **kwargs):
    """:class:`latentmix.EMGaussianMixture` fitted with the walkthrough's settings."""
    from latentmix.estimator import EMGaussianMixture

    options = {"covariance_type": "full", "tol": TOL, "max_iter": MAX_ITER, "n_init": 1}
    options.update(kwargs)
    return EMGaussianMixture(n_components, **options).fit(X)


# --- the run from a poor start ----------------------------------------------------------


def poor_start(X, n_components: int) -> MixtureParams:
    """A deliberately poor starting point: every mean bunched at one end of the data.

    The means sit close together near the low end of the data's main axis (the first
    principal direction), spaced by a tenth of its standard deviation; every component gets
    equal weight and half the data's covariance. EM has to pull them apart.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int

    Returns
    -------
    MixtureParams
        ``covariance_type="full"``.
    """
    centre = X.mean(axis=0)
    cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True))
    _, _, vt = np.linalg.svd(X - centre, full_matrices=False)
    axis = vt[0] * np.sign(vt[0][np.argmax(np.abs(vt[0]))])
    proj = (X - centre) @ axis
    offsets = np.quantile(proj, 0.05) + 0.1 * proj.std() * np.arange(n_components)
    return MixtureParams(
        np.full(n_components, 1.0 / n_components),
        centre + offsets[:, None] * axis,
        np.repeat(0.5 * cov[None], n_components, axis=0),
        "full",
    )


class EMPath(NamedTuple):
    """Every iterate of one EM run.

    Attributes
    ----------
    params : list of MixtureParams
        The start (index 0) and the parameters after each iteration.
    resp : list of ndarray of shape (n, K)
        The responsibilities at each of ``params``.
    objective : ndarray of shape (len(params),)
        The log-likelihood at each of ``params``.
    converged : bool
        Whether the run stopped because the objective settled (else it hit ``MAX_ITER``).
    """

    params: list
    resp: list
    objective: np.ndarray
    converged: bool


def run_from(X, start: MixtureParams) -> EMPath:
    """Maximum-likelihood EM from ``start``, driven step by step, every iterate kept.

    This is the loop the page shows a teacher: :func:`latentmix.em.fit.em_init` is the
    E-step at the start, each :func:`latentmix.em.fit.em_step` an M-step followed by the
    E-step at its result.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Validated data.
    start : MixtureParams

    Returns
    -------
    EMPath

    Raises
    ------
    DegenerateMixtureError
        If a component collapses on the way (the maximum-likelihood run has no end point).
    """
    from latentmix.em.estep import DegenerateMixtureError
    from latentmix.em.fit import EMOptions, em_init, em_step

    options = EMOptions(tol=TOL, max_iter=MAX_ITER)
    state = em_init(X, start, options)
    states = [state]
    converged = False
    while state.n_iter < options.max_iter:
        state, info = em_step(X, state, options)
        if info.degenerate:
            raise DegenerateMixtureError(
                f"EM from the walkthrough's poor start collapsed: {info.message}; try "
                "another K or other columns."
            )
        states.append(state)
        if abs(info.change) < options.tol * abs(state.objective):
            converged = True
            break
    return EMPath(
        [s.params for s in states],
        [responsibilities(X, s.params) for s in states],
        np.array([s.objective for s in states]),
        converged,
    )


def best_log_likelihood(X, n_components: int, random_state=0) -> float:
    """The log-likelihood of the best of 10 k-means++ starts, for comparison with the run."""
    best = _fit(X, n_components, init="k-means++", n_init=10, random_state=random_state)
    return float(best.log_likelihood_)


def moving_component(params_path) -> int:
    """The component whose first mean coordinate travels furthest (its bound is the liveliest)."""
    travel = np.abs(params_path[-1].means[:, 0] - params_path[0].means[:, 0])
    return int(np.argmax(travel))


class BoundChecks(NamedTuple):
    """What the page quotes about the bound along one mean (1-D data).

    Attributes
    ----------
    max_gap : float
        The largest B - l over the grid at every checked iteration; at most 0.
    touch : float
        The largest |B - l| at the current mean: round-off.
    peak_error : float
        The largest distance between the bound's peak and EM's next mean.
    """

    max_gap: float
    touch: float
    peak_error: float


def bound_checks(X, params_path, component: int, grid, iterations) -> BoundChecks:
    """Check the bound of ``component``'s mean at each of ``iterations`` of a run.

    Parameters
    ----------
    X : ndarray of shape (n, 1)
    params_path : list of MixtureParams
    component : int
        0-based.
    grid : ndarray of shape (m,)
        Values of the mean where the bound is compared with the log-likelihood.
    iterations : iterable of int

    Returns
    -------
    BoundChecks
    """
    gaps, touch, peak = [], [], []
    for t in iterations:
        b = bound_slice(X, params_path[t], component, grid)
        gaps.append(np.max(b.lower_bound - b.log_likelihood))
        at = bound_slice(X, params_path[t], component, [b.current])
        touch.append(abs(at.lower_bound[0] - at.log_likelihood[0]))
        if t + 1 < len(params_path):
            peak.append(abs(b.maximiser - params_path[t + 1].means[component, 0]))
    return BoundChecks(float(max(gaps)), float(max(touch)), float(max(peak)) if peak else 0.0)


def step_bound_checks(X, params_path, iterations, steps=STEPS) -> BoundChecks:
    """Check the bound along EM's whole step (any dimension) at each of ``iterations``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params_path : list of MixtureParams
    iterations : iterable of int
        Those with a next iterate are checked.
    steps : ndarray of shape (m,)
        Must hold 0 and 1.

    Returns
    -------
    BoundChecks
        ``max_gap`` as for :func:`bound_checks`, ``touch`` the largest |B - l| at s = 0,
        ``peak_error`` the largest excess of the bound anywhere on the line over its value at
        s = 1 (EM's next point), at most round-off since that point maximises the bound.
    """
    i0, i1 = int(np.flatnonzero(steps == 0.0)[0]), int(np.flatnonzero(steps == 1.0)[0])
    gaps, touch, peak = [], [], []
    for t in iterations:
        if t + 1 >= len(params_path):
            continue
        line = bound_along_step(X, params_path[t], params_path[t + 1], steps)
        gaps.append(np.nanmax(line.lower_bound - line.log_likelihood))
        touch.append(abs(line.lower_bound[i0] - line.log_likelihood[i0]))
        peak.append(max(np.nanmax(line.lower_bound) - line.lower_bound[i1], 0.0))
    return BoundChecks(float(max(gaps)), float(max(touch)), float(max(peak)))


# --- k-means beside soft EM -------------------------------------------------------------


class HardSoft(NamedTuple):
    """k-means (hard EM) and soft EM from the same start, clusters in EM's component order.

    Attributes
    ----------
    kmeans : HardEMResult
        Cluster k is matched to EM's component k.
    params : MixtureParams
        Soft EM's end point.
    resp : ndarray of shape (n, K)
        Soft EM's responsibilities at ``params``.
    n_disagree : int
        Points whose k-means cluster is not EM's most responsible component.
    n_shared : int
        Points no EM component takes more than 90 % of.
    """

    kmeans: HardEMResult
    params: MixtureParams
    resp: np.ndarray
    n_disagree: int
    n_shared: int


def hard_vs_soft(X, params: MixtureParams, resp, start: MixtureParams) -> HardSoft:
    """Run k-means from ``start``'s means and line its clusters up with soft EM's components.

    The clusters are matched by the package's one rule
    (:func:`latentmix.matching.match_components`, KL divergence) applied to the mixture that
    k-means fits (:meth:`HardEMResult.as_mixture`: equal weights, one shared round variance),
    so k-means is compared with EM as one mixture with another.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : MixtureParams
        Soft EM's end point.
    resp : ndarray of shape (n, K)
        Its responsibilities.
    start : MixtureParams
        The start both runs share (k-means uses its means).

    Returns
    -------
    HardSoft
    """
    kmeans = hard_em(X, start.means)
    fitted = kmeans.as_mixture()
    # The matcher compares mixtures of one covariance type: k-means' round variance as full.
    as_full = fitted._replace(covariances=fitted.full_covariances(), covariance_type="full")
    kmeans = kmeans.permute(match_components(as_full, params))
    resp = np.asarray(resp)
    return HardSoft(
        kmeans,
        params,
        resp,
        int(np.sum(kmeans.labels != resp.argmax(axis=1))),
        int(np.sum(resp.max(axis=1) < 0.9)),
    )


# --- MLE collapse against MAP -----------------------------------------------------------


def collapse_example(random_state=0) -> np.ndarray:
    """Small 1-D data on which the two-component MLE collapses: one sale far from the rest.

    Thirty prices (thousands) from one neighbourhood, N(300, 40^2), and a single sale at 560.
    A component that sits on the lone sale can shrink its variance towards zero and send the
    likelihood to infinity; k-means++ or a random start put a mean there often.

    Returns
    -------
    ndarray of shape (31, 1)
    """
    rng = np.random.default_rng(random_state)
    return np.concatenate([rng.normal(300.0, 40.0, 30), [560.0]])[:, None]


def collapse_start(X) -> MixtureParams:
    """The start shared by MLE and MAP in the collapse example: one mean on the lone sale.

    The second component (index 1) starts on the lone sale, the first at the median.
    """
    return MixtureParams(
        np.array([0.5, 0.5]),
        np.array([[float(np.median(X))], [float(X.max())]]),
        np.array([[[40.0**2]], [[80.0**2]]]),
        "full",
    )


class CollapseResult(NamedTuple):
    """The MLE and MAP runs of the collapse example.

    Attributes
    ----------
    X : ndarray of shape (31, 1)
    mle : latentmix.em.fit.EMRun
        Degenerate; its trajectory runs up to the last proper iterate.
    map_fit : EMGaussianMixture
        Fitted under ``prior`` from the same start.
    prior : ConjugatePrior
    """

    X: np.ndarray
    mle: object
    map_fit: object
    prior: object

    @property
    def lone(self) -> int:
        """The MAP component on the lone sale (the one with the larger mean), 0-based."""
        return int(np.argmax(self.map_fit.params_.means[:, 0]))


def run_collapse_example(random_state=0) -> CollapseResult:
    """Run MLE (which collapses) and MAP (which does not) from the same start."""
    from latentmix.em.fit import EMOptions, run_em
    from latentmix.priors import ConjugatePrior

    X = collapse_example(random_state)
    start = collapse_start(X)
    # The estimator raises when every MLE run collapses; the engine's single run keeps the
    # iterates up to the collapse, which is what the picture needs.
    mle = run_em(X, start, EMOptions(tol=TOL, max_iter=MAX_ITER, keep_trajectory=True))
    prior = ConjugatePrior.default(X, 2, "full")
    map_fit = _fit(X, 2, init=start, prior=prior)
    return CollapseResult(X, mle, map_fit, prior)


# --- restarts on galaxies ---------------------------------------------------------------


class Restart(NamedTuple):
    """One EM run on galaxies from one random start.

    Attributes
    ----------
    random_state : int
        The start's seed.
    objective_history : ndarray or None
        None when the run collapsed.
    objective : float
        NaN when the run collapsed.
    n_iter : int
    params : MixtureParams or None
    message : str
        Why the run collapsed, else empty.
    """

    random_state: int
    objective_history: np.ndarray | None
    objective: float
    n_iter: int
    params: MixtureParams | None
    message: str = ""


def run_restarts(random_state=0, n_starts: int = RESTART_STARTS):
    """EM on galaxies from ``n_starts`` random starts, one estimator per start.

    Each start is its own fit (``n_init=1``) so that every local optimum's parameters can be
    drawn. A start whose MLE collapses is kept with ``params=None`` and the reason.

    Returns
    -------
    X : ndarray of shape (82, 1)
    restarts : list of Restart
    """
    from latentmix.datasets import load
    from latentmix.em.estep import DegenerateMixtureError

    X = load("galaxies").data
    out = []
    for i in range(n_starts):
        seed = 1000 * int(random_state) + i
        try:
            est = _fit(X, RESTART_COMPONENTS, init="random", random_state=seed, max_iter=5000)
        except DegenerateMixtureError as err:
            out.append(Restart(seed, None, float("nan"), 0, None, str(err).split(" (")[0]))
            continue
        out.append(Restart(seed, est.objective_history_, est.objective_, est.n_iter_, est.params_))
    return X, out
