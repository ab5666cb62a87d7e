r"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

For s = 1..S: draw :math:`\tilde\theta \sim p(\theta)`, data :math:`\tilde X \sim p(X \mid
\tilde\theta)`, and L posterior draws :math:`\theta_1..\theta_L \sim p(\theta \mid \tilde X)`.
For any scalar quantity :math:`f`, the rank :math:`\#\{l : f(\theta_l) < f(\tilde\theta)\}` is
uniform on 0..L when the posterior computation is correct. Deviations show as a non-uniform
rank histogram: a U shape (posterior too narrow), a hump (too wide), a slope (biased).

Label switching
---------------
The ranks are taken on label-invariant quantities, so no relabelling against the truth (which
would bias the ranks) is needed: in one dimension, the components sorted by their means
(``sorted_means[k]``, and the weight and variance of the k-th component in that order), the
mixture mean :math:`\sum_k w_k\mu_k` and the mixture variance. Any function of the unordered
set of components is a legitimate SBC test quantity.

Uniformity test
---------------
Following Säilynoja, Bürkner & Vehtari (2022), the ECDF of the S fractional ranks is compared
with the uniform one at every rank value; the statistic is the smallest pointwise binomial
two-sided tail probability. Its null distribution is simulated from discrete-uniform ranks, which
gives a p-value and the *simultaneous* 95% band drawn in the ECDF-difference plots. A
quantity fails when its p-value is below 0.05 / (number of quantities) (Bonferroni).

Posterior computation
---------------------
``sampler="nuts"``: the PyMC model (:func:`latentmix.bayes.model.build_model`) sampled by nutpie,
one compiled sampler for the whole study across workers (:mod:`latentmix.studies.posterior`),
chains started at each data set's EM MAP. ``sampler="exact"``: only for K = 1, exact draws
from the conjugate normal-inverse-gamma posterior; it tests the SBC machinery itself cheaply
(a correct posterior passes, a wrong one fails) without a sampler.
``sampler="vb"``: mean-field variational Bayes under the same prior
(:class:`latentmix.vb.VBGaussianMixture`) and independent draws of its q. VB is not the
posterior: it is known to be too narrow, most of all when components overlap, so SBC is
expected to fail on it (a U-shaped histogram); that failure, by overlap and n, is what this
sampler is for.

Overlap
-------
``overlap="separated"`` (the default) puts the means a priori at N(0, variance / 0.1): two
components are usually several standard deviations apart. ``overlap="overlapping"`` uses
N(0, variance / 2): the means are usually within about one standard deviation of each
other. Both are the model's own prior (the data are simulated from it and the posterior uses
it), so SBC's guarantee holds for each; conditioning the ranks on the drawn separation
instead would not be.

The negative control (``wrong=True``) simulates the variances from a prior whose scale is four
times the one the model assumes: the model is then wrong on one side only, and SBC must fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import stats

from latentmix.jsonio import dumps, write_json
from latentmix.params import PARAMETER_NAMES, MixtureParams, sample_mixture
from latentmix.priors import ConjugatePrior
from latentmix.studies.page import number, write_study_page
from latentmix.studies.posterior import sample_swappable
from latentmix.studies.runner import (
    SUMMARY_FILE,
    check_count,
    finish_status,
    read_stored,
    replicate_rng,
    replicates,
    run_study,
    write_pages,
)

#: The command recorded in the output directory's manifest.
COMMAND = "study sbc"
WRONG_SCALE_FACTOR = 4.0
#: The samplers an SBC study can test.
SAMPLERS = ("nuts", "exact", "vb")
#: The prior's mean precision (kappa) of each overlap setting.
OVERLAP_MEAN_PRECISION = {"separated": 0.1, "overlapping": 2.0}


def sbc_prior(n_components: int, overlap: str = "separated") -> ConjugatePrior:
    """The fixed 1-D prior of the SBC model.

    Weights Dirichlet(5) (no near-empty components), means N(0, variance / kappa), variances
    InvGamma(5, 5) (mean 1.25). ``overlap="separated"``: kappa = 0.1, components overlap
    sometimes but rarely collapse, so NUTS explores the posterior without being the thing
    under test. ``overlap="overlapping"``: kappa = 2, the means mostly within a standard
    deviation of each other.
    """
    if overlap not in OVERLAP_MEAN_PRECISION:
        raise ValueError(
            f"overlap must be one of {sorted(OVERLAP_MEAN_PRECISION)}; got {overlap!r}."
        )
    return ConjugatePrior(
        5.0 if n_components > 1 else 1.0,
        np.zeros(1),
        OVERLAP_MEAN_PRECISION[overlap],
        10.0,
        np.ones(1) * 10.0,
    )


def draw_prior(prior: ConjugatePrior, n_components: int, rng, scale_factor: float = 1.0):
    """One draw of 1-D diag mixture parameters from the prior (scale multiplied on request)."""
    K = n_components
    weights = rng.dirichlet(prior.concentration(K)) if K > 1 else np.ones(1)
    shape = 0.5 * prior.degrees_of_freedom
    scale = 0.5 * float(prior.scale[0]) * scale_factor
    variances = scale / rng.gamma(shape, 1.0, size=K)
    means = prior.mean[0] + np.sqrt(variances / prior.mean_precision) * rng.standard_normal(K)
    return MixtureParams(weights, means[:, None], variances[:, None], "diag")


def quantity_names(n_components: int, first: int = 0) -> list[str]:
    """The label-invariant quantities ranked, for K components.

    Positions in the sorted order are numbered from ``first``: 0 in data (records,
    summary.json), 1 on the page.
    """
    K = n_components
    names = [f"sorted_means[{k + first}]" for k in range(K)]
    names += [f"sorted_variances[{k + first}]" for k in range(K)]
    if K > 1:
        names += [f"sorted_weights[{k + first}]" for k in range(K)]
        names += ["mixture_mean", "mixture_variance"]
    return names


def quantities(weights, means, variances) -> np.ndarray:
    """Label-invariant quantities of 1-D mixtures.

    Parameters
    ----------
    weights, means, variances : ndarray of shape (S, K)

    Returns
    -------
    ndarray of shape (S, Q)
        In the order of :func:`quantity_names`.
    """
    weights, means, variances = (np.atleast_2d(a) for a in (weights, means, variances))
    K = means.shape[1]
    order = np.argsort(means, axis=1)
    take = np.take_along_axis
    cols = [take(means, order, 1), take(variances, order, 1)]
    if K > 1:
        mix_mean = (weights * means).sum(1)
        mix_var = (weights * (variances + means**2)).sum(1) - mix_mean**2
        cols += [take(weights, order, 1), mix_mean[:, None], mix_var[:, None]]
    return np.concatenate(cols, axis=1)


def exact_posterior_draws(X, prior: ConjugatePrior, n_draws: int, rng):
    """Exact draws from the normal-inverse-gamma posterior of one 1-D Gaussian.

    Returns
    -------
    means, variances : ndarray of shape (n_draws, 1)
    """
    x = np.asarray(X, dtype=float).ravel()
    n, xbar = x.size, x.mean()
    kappa, m0 = prior.mean_precision, prior.mean[0]
    kappa_n = kappa + n
    m_n = (kappa * m0 + n * xbar) / kappa_n
    nu_n = prior.degrees_of_freedom + n
    psi_n = (
        float(prior.scale[0]) + ((x - xbar) ** 2).sum() + kappa * n / kappa_n * (xbar - m0) ** 2
    )
    variances = 0.5 * psi_n / rng.gamma(0.5 * nu_n, 1.0, size=n_draws)
    means = m_n + np.sqrt(variances / kappa_n) * rng.standard_normal(n_draws)
    return means[:, None], variances[:, None]


# --- NUTS posterior, one compiled sampler for the study ---------------------------------------


def _nuts_draws(X, K, prior, config, random_state):
    trace, compile_seconds, _ = sample_swappable(X, K, "diag", prior, config, random_state)
    post = trace.posterior
    thin = config["thin"]

    def flat(name):
        a = np.asarray(post[name].transpose("chain", "draw", ...).values, float)
        a = a[:, ::thin]
        return a.reshape(-1, *a.shape[2:])

    weights, means, variances = (flat(name) for name in PARAMETER_NAMES)
    means, variances = means[..., 0], variances[..., 0]
    stats_ = {
        "divergences": int(np.asarray(trace.sample_stats["diverging"]).sum()),
        "compile_seconds": compile_seconds,
        "compile_source": post.attrs["compile_source"],
    }
    return weights, means, variances, stats_


def vb_draws(X, K: int, prior: ConjugatePrior, n_draws: int, random_state: int):
    """Fit mean-field VB to 1-D data and draw from its q.

    Parameters
    ----------
    X : ndarray of shape (n, 1)
    K : int
    prior : ConjugatePrior
    n_draws : int
    random_state : int
        Seeds the fit's starts and, spawned from it, the draws.

    Returns
    -------
    weights, means, variances : ndarray of shape (n_draws, K)
    stats : dict
        ``n_iter``, ``elbo`` and ``converged`` of the fit (five restarts, tol 1e-8).
    """
    from latentmix.vb import VBGaussianMixture
    from latentmix.vb.predictive import sample_posterior_arrays

    fit_seed, draw_seed = np.random.SeedSequence(random_state).spawn(2)
    vb = VBGaussianMixture(
        K,
        covariance_type="diag",
        prior=prior,
        n_init=5,
        # Overlapping components converge slowly; 1e-8 of the ELBO moves no draw's rank.
        tol=1e-8,
        max_iter=5000,
        random_state=int(fit_seed.generate_state(1)[0]),
    ).fit(X)
    weights, means, variances = sample_posterior_arrays(
        vb.posterior_, n_draws, np.random.default_rng(draw_seed)
    )
    stats_ = {"n_iter": int(vb.n_iter_), "elbo": float(vb.elbo_), "converged": vb.converged_}
    return weights, means[..., 0], variances[..., 0], stats_


def n_ranked_draws(config: dict) -> int:
    """L, the number of draws each rank is taken among.

    NUTS: the thinned draws of every chain; ``"exact"`` and ``"vb"``: ``draws // thin``
    independent draws.
    """
    if config["sampler"] == "nuts":
        return config["draws"] * config["chains"] // config["thin"]
    return config["draws"] // config["thin"]


def sbc_replicate(config: dict, n: int, index: int) -> dict:
    """The study task: one prior draw, one data set, one posterior, ranks of every quantity."""
    K = config["n_components"]
    prior = sbc_prior(K, config.get("overlap", "separated"))
    rng = replicate_rng(config["seed"], n, index)
    factor = WRONG_SCALE_FACTOR if config["wrong"] else 1.0
    truth = draw_prior(prior, K, rng, scale_factor=factor)
    X, _ = sample_mixture(truth, n, rng)
    seed = int(rng.integers(0, 2**31 - 1))
    extra = {}
    if config["sampler"] == "exact":
        if K != 1:
            raise ValueError("sampler='exact' is the conjugate case and needs n_components=1.")
        L = n_ranked_draws(config)
        means, variances = exact_posterior_draws(X, prior, L, np.random.default_rng(seed))
        weights = np.ones_like(means)
    elif config["sampler"] == "vb":
        weights, means, variances, extra = vb_draws(X, K, prior, n_ranked_draws(config), seed)
    else:
        weights, means, variances, extra = _nuts_draws(X, K, prior, config, seed)
    q_true = quantities(
        truth.weights[None], truth.means[:, 0][None], truth.covariances[:, 0][None]
    )[0]
    q_draws = quantities(weights, means, variances)
    ranks = (q_draws < q_true).sum(axis=0)
    names = quantity_names(K)
    return {
        "ranks": dict(zip(names, ranks.tolist(), strict=True)),
        "n_draws": int(q_draws.shape[0]),
        **extra,
    }


# --- uniformity ------------------------------------------------------------------------------


def _min_tail_probability(ranks, L: int) -> np.ndarray:
    """Smallest pointwise two-sided binomial tail probability of the rank ECDF.

    Parameters
    ----------
    ranks : ndarray of shape (..., S)
        Integer ranks in 0..L.

    Returns
    -------
    ndarray of shape (...)
    """
    ranks = np.asarray(ranks)
    S = ranks.shape[-1]
    z = np.arange(1, L + 1) / (L + 1)  # the ECDF at rank values 0..L-1 (the last is always 1)
    counts = (ranks[..., None, :] < np.arange(1, L + 1)[:, None]).sum(-1)  # (..., L)
    lower = stats.binom.cdf(counts, S, z)
    upper = stats.binom.sf(counts - 1, S, z)
    return np.minimum(1.0, 2 * np.minimum(lower, upper)).min(-1)


def uniformity_test(ranks, L: int, n_sim: int = 2000, alpha: float = 0.05, random_state=0):
    """P-value of the ECDF test and the simultaneous (1 - alpha) band.

    Parameters
    ----------
    ranks : array-like of shape (S,)
        Ranks in 0..L.
    L : int
        Number of posterior draws each rank was taken among.
    n_sim : int
        Simulated uniform rank sets for the null distribution.
    alpha : float

    Returns
    -------
    p_value : float
    band : tuple of ndarray (z, lower, upper)
        The simultaneous band for the ECDF at z = (1..L)/(L+1), as a fraction.
    """
    ranks = np.asarray(ranks, dtype=int)
    S = ranks.size
    rng = np.random.default_rng(random_state)
    null = np.concatenate(
        [
            _min_tail_probability(rng.integers(0, L + 1, size=(min(500, n_sim - i), S)), L)
            for i in range(0, n_sim, 500)
        ]
    )
    observed = _min_tail_probability(ranks, L)
    p_value = float((null <= observed).mean())
    gamma = float(np.quantile(null, alpha))
    z = np.arange(1, L + 1) / (L + 1)
    lower = stats.binom.ppf(gamma / 2, S, z) / S
    upper = stats.binom.ppf(1 - gamma / 2, S, z) / S
    return p_value, (z, lower, upper)


# --- the study -------------------------------------------------------------------------------


def sbc_config(
    n_simulations: int,
    n: int,
    n_components: int = 2,
    *,
    random_state: int = 0,
    draws: int = 400,
    tune: int = 400,
    chains: int = 2,
    thin: int = 4,
    wrong: bool = False,
    sampler: str = "nuts",
    overlap: str = "separated",
) -> dict:
    """The settings that define an SBC study.

    Parameters
    ----------
    n_simulations, n, n_components : int
    random_state : int
    draws, tune, chains, thin : int
        NUTS: ``chains`` x ``draws`` after ``tune``, every ``thin``-th kept. ``"exact"`` and
        ``"vb"``: ``draws // thin`` independent draws (``tune`` and ``chains`` unused).
    wrong : bool
        The negative control (see the module docstring).
    sampler : {"nuts", "exact", "vb"}
    overlap : {"separated", "overlapping"}
        The prior on the means (:func:`sbc_prior`). Stored only when not ``"separated"``, so
        a study made before the setting existed resumes.

    Returns
    -------
    dict
    """
    if sampler not in SAMPLERS:
        raise ValueError(
            f"sampler must be one of {', '.join(map(repr, SAMPLERS))}; got {sampler!r}."
        )
    if overlap not in OVERLAP_MEAN_PRECISION:
        raise ValueError(
            f"--overlap must be one of {', '.join(OVERLAP_MEAN_PRECISION)}; got {overlap!r}."
        )
    check_count("--simulations", n_simulations, 2)
    check_count("-k", n_components, 1)
    check_count("--n", n, max(2, int(n_components)))
    check_count("--draws", draws, 1)
    check_count("--tune", tune, 0)
    check_count("--chains", chains, 1)
    check_count("--thin", thin, 1)
    if n_simulations < 2 or n < max(2, n_components):
        raise ValueError(f"need at least 2 simulations and n >= K; got {n_simulations} and n={n}.")
    L = draws * chains // thin if sampler == "nuts" else draws // thin
    if thin < 1 or L < 9:
        raise ValueError(
            "keep at least 9 thinned draws per simulation: raise --draws or lower --thin."
        )
    config = {
        "study": "sbc",
        "n_simulations": int(n_simulations),
        "n": int(n),
        "n_components": int(n_components),
        "seed": int(random_state),
        "draws": int(draws),
        "tune": int(tune),
        "chains": int(chains),
        "thin": int(thin),
        "wrong": bool(wrong),
        "sampler": sampler,
    }
    if overlap != "separated":
        config["overlap"] = overlap
    return config


def run_sbc(config: dict, out, *, scheduler=None, n_workers=2, processes=True, quiet=False):
    """Run (or resume) an SBC study; returns every record."""
    reps = replicates([config["n"]], config["n_simulations"])
    return run_study(
        sbc_replicate,
        config,
        reps,
        out,
        command=COMMAND,
        scheduler=scheduler,
        n_workers=n_workers,
        processes=processes,
        quiet=quiet,
        required=("ranks", "n_draws"),
    )


def summarise_sbc(records: list[dict], config: dict, alpha: float = 0.05) -> dict:
    """The study's summary, JSON-ready: everything the page shows.

    Returns
    -------
    dict
        ``quantities``: per label-invariant quantity its ``ranks`` (one per successful
        simulation), ``p_value`` and ``passed`` (Bonferroni over quantities); ``band``: the
        simultaneous ECDF band ``{z, lower, upper}`` (the same for every quantity: it depends
        only on the number of simulations and of draws); ``L``, ``n_ok``, ``n_failed``,
        ``threshold``, ``passed``; ``divergent_simulations`` (NUTS runs with a divergent
        transition), ``vb_not_converged`` (VB fits that reached max_iter); ``failures``:
        ``{key, error}`` per failed simulation.
    """
    ok = [r for r in records if r.get("status") == "ok"]
    names = quantity_names(config["n_components"])
    threshold = alpha / len(names)
    rows, band = [], None
    L = min((r["n_draws"] for r in ok), default=0)
    if any(r["n_draws"] != L for r in ok):
        raise ValueError("SBC records with different draw counts; re-run into a new --out.")
    for name in names:
        if not ok:
            break
        ranks = np.array([r["ranks"][name] for r in ok])
        p, (z, lower, upper) = uniformity_test(ranks, L, random_state=1)
        band = {"z": z, "lower": lower, "upper": upper}
        rows.append({"quantity": name, "p_value": p, "passed": p >= threshold, "ranks": ranks})
    summary = {
        "quantities": rows,
        "band": band,
        "L": L,
        "n_ok": len(ok),
        "n_failed": len(records) - len(ok),
        "threshold": threshold,
        "passed": bool(rows) and all(r["passed"] for r in rows),
        "divergent_simulations": sum(r.get("divergences", 0) > 0 for r in ok),
        "vb_not_converged": sum(r.get("converged") is False for r in ok),
        "failures": [
            {"key": r.get("key"), "error": r.get("error")}
            for r in records
            if r.get("status") != "ok"
        ],
    }
    return json.loads(dumps(summary))


def _labels(config: dict) -> dict:
    """Quantity name (0-based, as in the data) -> its 1-based text for the page."""
    K = config["n_components"]
    return dict(zip(quantity_names(K), quantity_names(K, first=1), strict=True))


def _figure(summary: dict, labels: dict, directory: Path) -> Path:
    """Rank histograms and ECDF-difference plots with the simultaneous band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentmix.pages import save_figure

    rows = summary["quantities"]
    L, S = summary["L"], summary["n_ok"]
    z, band_lo, band_hi = (np.asarray(summary["band"][k]) for k in ("z", "lower", "upper"))
    ncol = min(4, len(rows))
    nrow = int(np.ceil(len(rows) / ncol))
    fig, axes = plt.subplots(2 * nrow, ncol, figsize=(3.2 * ncol, 4.6 * nrow), squeeze=False)
    bins = min(20, L + 1)
    for i, r in enumerate(rows):
        ranks = np.asarray(r["ranks"])
        ax_h = axes[2 * (i // ncol), i % ncol]
        ax_e = axes[2 * (i // ncol) + 1, i % ncol]
        colour = "C0" if r["passed"] else "C3"
        counts, _, _ = ax_h.hist(ranks, bins=np.linspace(-0.5, L + 0.5, bins + 1), color=colour)
        lo, hi = stats.binom.ppf([0.005, 0.995], S, 1 / bins)
        ax_h.axhspan(lo, hi, color="0.85", zorder=0)
        ax_h.axhline(S / bins, color="k", lw=0.8)
        ax_h.set_ylim(0, 1.15 * max(hi, counts.max()))
        ax_h.set_title(f"{labels[r['quantity']]}  p={r['p_value']:.3f}", fontsize=8)
        ax_h.set_yticks([])
        ecdf = (ranks[None, :] < np.arange(1, L + 1)[:, None]).mean(1)
        ax_e.fill_between(z, band_lo - z, band_hi - z, color="0.85", step="mid")
        ax_e.plot(z, ecdf - z, color=colour, drawstyle="steps-mid")
        ax_e.axhline(0, color="k", lw=0.8)
        ax_e.set_xlabel("fractional rank", fontsize=8)
        ax_e.tick_params(labelsize=7)
    for j in range(len(rows), nrow * ncol):
        axes[2 * (j // ncol), j % ncol].axis("off")
        axes[2 * (j // ncol) + 1, j % ncol].axis("off")
    fig.suptitle(
        "Rank histograms (grey: 99% pointwise range per bin) and ECDF - uniform "
        "(grey: simultaneous 95% band)",
        fontsize=9,
    )
    fig.tight_layout()
    return save_figure(fig, directory / "figures" / "sbc.png")


def command_line(config: dict) -> str:
    """The ``latentmix study sbc`` command that makes this study."""
    return (
        f"latentmix study sbc --simulations {config['n_simulations']} --n {config['n']} "
        f"-k {config['n_components']} --seed {config['seed']} --draws {config['draws']} "
        f"--tune {config['tune']} --chains {config['chains']} --thin {config['thin']}"
        + ("" if config["sampler"] == "nuts" else f" --sampler {config['sampler']}")
        + (f" --overlap {config['overlap']}" if "overlap" in config else "")
        + (" --wrong-prior" if config["wrong"] else "")
        + " --out DIR"
    )


def _fit_notes(summary: dict, config: dict) -> str:
    """Sampler trouble the ranks could hide: divergent NUTS runs, VB fits that stopped early."""
    if config["sampler"] == "nuts" and "divergent_simulations" in summary:
        return f" Simulations with divergent transitions: {summary['divergent_simulations']}."
    if config["sampler"] == "vb" and "vb_not_converged" in summary:
        return f" VB fits that reached max_iter: {summary['vb_not_converged']}."
    return ""


def page_sections(summary: dict, config: dict, figure: Path | None) -> list[dict]:
    """The SBC page as sections (see :mod:`latentmix.studies.page`)."""
    labels = _labels(config)
    sampler = {
        "nuts": f"nutpie NUTS ({config['chains']} chains x {config['draws']} draws after "
        f"{config['tune']} tuning, thinned by {config['thin']})",
        "exact": "exact conjugate draws",
        "vb": "mean-field variational Bayes under the same prior (independent draws of q; "
        "VB is not the posterior and is expected to fail: a U shape means q is too narrow)",
    }[config["sampler"]]
    overlap = config.get("overlap", "separated")
    kappa = OVERLAP_MEAN_PRECISION[overlap]
    prior_text = (
        f"Prior: weights Dirichlet(5), means N(0, variance / {kappa:g}) ({overlap}), "
        "variances InvGamma(5, 5). "
    )
    control = (
        f"NEGATIVE CONTROL: data simulated with the variance prior scale x"
        f"{WRONG_SCALE_FACTOR:g}, the model unchanged, so this run should fail. "
        if config["wrong"]
        else ""
    )
    sections = [
        {
            "heading": None,
            "paragraphs": [
                f"{config['n_simulations']} simulations of n = {config['n']} from a "
                f"{config['n_components']}-component 1-D mixture drawn from the prior; "
                f"posterior by {sampler}; L = {summary['L']} draws per rank. {prior_text}"
                f"{control}"
                f"{summary['n_ok']} simulations ok, {summary['n_failed']} failed."
                + _fit_notes(summary, config),
                "A quantity fails when its ECDF uniformity p-value is below "
                f"{summary['threshold']:.4f} (0.05 / number of quantities). Quantities are "
                "label-invariant: the components sorted by their means, numbered from 1 on "
                "this page (from 0 in summary.json and the replicate files).",
            ],
            "tables": [
                {
                    "headers": ["quantity", "p-value", "verdict"],
                    "rows": [
                        [
                            labels[r["quantity"]],
                            number(r["p_value"]),
                            "pass" if r["passed"] else "FAIL",
                        ]
                        for r in summary["quantities"]
                    ],
                }
            ],
            "figures": [{"path": figure, "caption": "Ranks of the label-invariant quantities."}]
            if figure is not None
            else [],
        }
    ]
    if summary["failures"]:
        sections.append(
            {
                "heading": "Failed simulations",
                "tables": [
                    {
                        "headers": ["simulation", "error"],
                        "rows": [[f["key"], f["error"]] for f in summary["failures"]],
                        "wrap": [1],
                    }
                ],
            }
        )
    sections.append(
        {
            "heading": "How this page is made",
            "paragraphs": [
                "The command below makes this study. It stores one file per simulation in "
                "DIR/replicates/ and resumes an interrupted run. The page and summary.json are "
                "made from summary.json and study.json alone "
                "(latentmix.studies.sbc.rewrite_pages(DIR))."
            ],
            "code": command_line(config),
        }
    )
    return sections


def render(summary: dict, config: dict, directory) -> tuple[Path, Path]:
    """Write summary.json, the figure, report.html and report.md into ``directory``."""
    directory = Path(directory)
    write_json(directory / SUMMARY_FILE, summary)
    figure = _figure(summary, _labels(config), directory) if summary["quantities"] else None
    verdict = "PASSED" if summary["passed"] else "FAILED"
    return write_study_page(
        page_sections(summary, config, figure),
        directory,
        "report",
        f"Simulation-based calibration: {verdict}",
    )


def write_sbc_page(records: list[dict], config: dict, out) -> tuple[Path, Path]:
    """Summarise the stored simulations into OUT/summary.json and the page."""
    summary = summarise_sbc(records, config)
    return write_pages(out, COMMAND, lambda directory: render(summary, config, directory))


def rewrite_pages(out) -> tuple[Path, Path]:
    """Make the pages of a finished SBC study again from its summary.json and study.json."""
    config, summary = read_stored(out)
    return write_pages(out, COMMAND, lambda directory: render(summary, config, directory))


def run_sbc_command(args) -> int:
    """``latentmix study sbc``."""
    config = sbc_config(
        args.simulations,
        args.n,
        args.components,
        random_state=args.seed,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        thin=args.thin,
        wrong=args.wrong_prior,
        sampler=getattr(args, "sampler", "nuts"),
        overlap=getattr(args, "overlap", "separated"),
    )
    records = run_sbc(
        config, args.out, scheduler=args.scheduler, n_workers=args.workers, quiet=args.quiet
    )
    html, md = write_sbc_page(records, config, args.out)
    summary = json.loads((Path(args.out) / SUMMARY_FILE).read_text())
    print(
        f"SBC {'passed' if summary['passed'] else 'FAILED'} ({summary['n_ok']} simulations ok, "
        f"{summary['n_failed']} failed); report: {html} and {md}"
    )
    return finish_status(records, args.out)


# --- several SBC studies side by side ----------------------------------------------------------

#: The quantities the comparison figure shows (0-based names, as in summary.json).
COMPARED_QUANTITIES = (
    "sorted_means[0]",
    "sorted_variances[0]",
    "sorted_weights[0]",
    "mixture_variance",
)


def outside_central(ranks, L: int, mass: float = 0.9) -> float:
    """Fraction of truths outside the central ``mass`` of their draws (1 - mass if calibrated).

    Parameters
    ----------
    ranks : array-like of shape (S,)
        Ranks in 0..L.
    L : int
    mass : float

    Returns
    -------
    float
        Computed on the fractional ranks ``(rank + 0.5) / (L + 1)``.
    """
    u = (np.asarray(ranks, float) + 0.5) / (L + 1)
    tail = (1 - mass) / 2
    return float(np.mean((u < tail) | (u > 1 - tail)))


def compare_studies(directories) -> list[dict]:
    """One row per finished SBC study, from its study.json and summary.json alone.

    Returns
    -------
    list of dict
        ``directory``, ``sampler``, ``overlap``, ``n``, ``n_simulations`` (ok), ``L``,
        ``failed`` (quantities failing), ``n_quantities``, ``min_p``, ``outside90`` (per
        quantity, see :func:`outside_central`), ``ranks`` (per quantity) and ``command``.
    """
    rows = []
    for directory in directories:
        config, summary = read_stored(directory)
        quantities_ = summary["quantities"]
        rows.append(
            {
                "directory": Path(directory).name,
                "sampler": config["sampler"],
                "overlap": config.get("overlap", "separated"),
                "n": config["n"],
                "n_simulations": summary["n_ok"],
                "L": summary["L"],
                "failed": sum(not q["passed"] for q in quantities_),
                "n_quantities": len(quantities_),
                "min_p": min(q["p_value"] for q in quantities_),
                "outside90": {
                    q["quantity"]: outside_central(q["ranks"], summary["L"]) for q in quantities_
                },
                "ranks": {q["quantity"]: q["ranks"] for q in quantities_},
                "command": command_line(config).replace("DIR", Path(directory).name),
            }
        )
    return rows


def _comparison_figure(rows: list[dict], directory: Path) -> Path:
    """Rank histograms per (overlap, n) cell and quantity, every sampler overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentmix.pages import save_figure

    cells = sorted({(r["overlap"], r["n"]) for r in rows}, key=lambda c: (c[0] != "separated", c))
    names = [q for q in COMPARED_QUANTITIES if all(q in r["ranks"] for r in rows)]
    labels = dict(
        zip(quantity_names(2), quantity_names(2, first=1), strict=True)
    )  # the page is 1-based
    style = {"vb": ("C3", "VB (mean field)", True), "nuts": ("C0", "NUTS", False)}
    fig, axes = plt.subplots(
        len(cells), len(names), figsize=(3.0 * len(names), 2.3 * len(cells)), squeeze=False
    )
    bins = 20
    for i, cell in enumerate(cells):
        for j, name in enumerate(names):
            ax = axes[i, j]
            for r in sorted(rows, key=lambda r: r["sampler"] != "vb"):
                if (r["overlap"], r["n"]) != cell:
                    continue
                colour, label, filled = style.get(r["sampler"], ("C2", r["sampler"], False))
                u = (np.asarray(r["ranks"][name], float) + 0.5) / (r["L"] + 1)
                ax.hist(
                    u,
                    bins=np.linspace(0, 1, bins + 1),
                    density=True,
                    histtype="stepfilled" if filled else "step",
                    alpha=0.55 if filled else 1.0,
                    lw=1.6,
                    color=colour,
                    label=f"{label} ({100 * r['outside90'][name]:.0f}% outside 90%)",
                )
            ax.axhline(1.0, color="k", lw=0.8)
            ax.set_yticks([])
            ax.set_xticks([0, 0.5, 1])
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=6, loc="upper center")
            ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
            if i == 0:
                ax.set_title(labels[name], fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{cell[0]}\nn = {cell[1]}", fontsize=9)
            if i == len(cells) - 1:
                ax.set_xlabel("fractional rank of the truth", fontsize=8)
    fig.suptitle(
        "Rank of the prior draw among the draws (density; black: uniform). U shape: too narrow",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, directory / "figures" / "sbc_compared.png")


def _reading(rows: list[dict]) -> str:
    """What the table says, in numbers: per sampler, the component and the mixture quantities."""
    parts = []
    for sampler, label in (("vb", "VB"), ("nuts", "NUTS"), ("exact", "exact draws")):
        mine = [r for r in rows if r["sampler"] == sampler]
        if not mine:
            continue
        component = [v for r in mine for q, v in r["outside90"].items() if q.startswith("sorted_")]
        mixture = [v for r in mine for q, v in r["outside90"].items() if q.startswith("mixture")]
        failing = sum(r["failed"] for r in mine)
        text = (
            f"{label}: {failing} of {sum(r['n_quantities'] for r in mine)} quantities fail over "
            f"{len(mine)} studies; {_percent(min(component))} to {_percent(max(component))} "
            "of truths outside the central 90% for the components' means, variances and weights"
        )
        if mixture:
            text += (
                f", {_percent(min(mixture))} to {_percent(max(mixture))} for the mixture's "
                "mean and variance (which do not depend on the labels)"
            )
        parts.append(text + ".")
    return " ".join(parts)


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def write_comparison_page(directories, out) -> tuple[Path, Path]:
    """A page putting finished SBC studies side by side (by sampler, overlap and n).

    Parameters
    ----------
    directories : iterable of path
        Finished ``latentmix study sbc`` outputs (their study.json and summary.json are read).
    out : path
        Where ``report.html``, ``report.md``, ``comparison.json`` and ``figures/`` go (the
        studies may be inside it).

    Returns
    -------
    tuple of Path
        The HTML and Markdown pages.
    """
    out = Path(out)
    rows = compare_studies(directories)
    write_json(
        out / "comparison.json", [{k: v for k, v in r.items() if k != "ranks"} for r in rows]
    )
    figure = _comparison_figure(rows, out)
    order = sorted(rows, key=lambda r: (r["overlap"] != "separated", r["n"], r["sampler"]))
    sampler_text = {"vb": "VB (mean field)", "nuts": "NUTS", "exact": "exact"}
    component_q = [q for q in COMPARED_QUANTITIES if q != "mixture_variance"]
    table = {
        "headers": [
            "components",
            "n",
            "posterior by",
            "simulations",
            "L",
            "quantities failing",
            "smallest p",
            "truth outside central 90% (means, variances, weights of component 1)",
            "same, mixture variance",
            "study",
        ],
        "rows": [
            [
                r["overlap"],
                r["n"],
                sampler_text.get(r["sampler"], r["sampler"]),
                r["n_simulations"],
                r["L"],
                f"{r['failed']} of {r['n_quantities']}",
                number(r["min_p"]),
                ", ".join(_percent(r["outside90"].get(q)) for q in component_q),
                _percent(r["outside90"].get("mixture_variance")),
                f"{r['directory']}/",
            ]
            for r in order
        ],
    }
    sections = [
        {
            "heading": None,
            "paragraphs": [
                "Simulation-based calibration (Talts et al. 2018) of two posterior "
                "computations for the same 1-D two-component model and prior: NUTS (the "
                "posterior) and mean-field variational Bayes (latentmix.vb.VBGaussianMixture). "
                "Each study draws parameters from the prior, data from the model, and ranks "
                "the drawn value of label-invariant quantities among the posterior draws; a "
                "correct posterior gives uniform ranks. Two priors on the means: separated "
                "(means N(0, variance / 0.1), usually several standard deviations apart) and "
                "overlapping (N(0, variance / 2), usually within one); two sample sizes.",
                "If the draws were calibrated, 10% of truths would fall outside the central "
                "90% of their draws; more means the draws are too narrow (a U-shaped "
                "histogram). " + _reading(order),
            ],
            "tables": [table],
            "figures": [
                {
                    "path": figure,
                    "caption": "Rank histograms of four quantities (components sorted by their "
                    "means, numbered from 1), per prior and n; each study's own page has all "
                    "eight with the ECDF test.",
                }
            ],
        },
        {
            "heading": "How this page is made",
            "paragraphs": [
                "Each study is one `latentmix study sbc` run into its folder (its page, "
                "study.json and summary.json are there; the replicate files are not "
                "committed). This page is made from their study.json and summary.json by "
                "latentmix.studies.sbc.write_comparison_page; run.sh here makes everything."
            ],
            "code": "\n".join(r["command"] for r in order),
        },
    ]
    return write_study_page(sections, out, "report", "SBC: variational Bayes against NUTS")
