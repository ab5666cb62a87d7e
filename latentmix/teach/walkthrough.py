"""The EM walkthrough: one run from a poor start, drawn iteration by iteration, as a web page.

:func:`build_walkthrough` computes (:mod:`latentmix.teach.examples`), draws
(:mod:`latentmix.teach.frames`, :mod:`latentmix.teach.figures`), renders the page
(``latentmix/pages/templates/walkthrough.html.j2``) and writes a directory through the one
guarded writer, :mod:`latentmix.output`::

    index.html            self-contained page (every image embedded as a data URI)
    walkthrough.gif       the iterations as an animation, for slides
    frames/frame_NNN.png  one picture per drawn iteration
    figures/*.png         the static figures of the page
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentmix import pages
from latentmix.datasets import Dataset
from latentmix.output import check_output, replace_output
from latentmix.teach import examples, figures
from latentmix.teach.bound import decomposition_path
from latentmix.teach.draw import limits
from latentmix.teach.frames import MAX_FRAMES, animation_gif, draw_frames
from latentmix.validation import check_data, check_n_components

#: The command name recorded in the output's manifest.
COMMAND = "teach"
#: Resolution of the static figures: below the package's default, since the page embeds them.
FIGURE_DPI = 90


def _png(fig) -> bytes:
    return pages.figure_png(fig, dpi=FIGURE_DPI)


def _decomposition_rows(path, iterations) -> list[dict]:
    """The table of section 3: one row per drawn iteration (the rise to t+1 is None at the end)."""
    T = path.log_likelihood.size
    rows = []
    for t in iterations:
        rows.append(
            {
                "t": t,
                "log_likelihood": path.log_likelihood[t],
                "q": path.q[t],
                "entropy": path.entropy[t],
                "gap": path.q[t] + path.entropy[t] - path.log_likelihood[t],
                "q_gain": path.q_gain[t],
                "kl_gain": path.kl_gain[t],
                "rise": path.log_likelihood[t + 1] - path.log_likelihood[t] if t + 1 < T else None,
            }
        )
    return rows


def _hard_soft_context(hard_soft) -> dict:
    kmeans, params = hard_soft.kmeans, hard_soft.params
    sd = np.sqrt(params.full_covariances()[:, 0, 0])
    rows = [
        {
            "component": k + 1,  # text a person reads: 1-based
            "centre": np.array2string(kmeans.means[k], precision=3),
            "mean": np.array2string(params.means[k], precision=3),
            "share": float(np.mean(kmeans.labels == k)),
            "weight": float(params.weights[k]),
            "sd": float(sd[k]),
        }
        for k in range(params.n_components)
    ]
    return {
        "kmeans_iter": kmeans.n_iter,
        "inertia": kmeans.inertia,
        "n_disagree": hard_soft.n_disagree,
        "n_shared": hard_soft.n_shared,
        "rows": rows,
    }


def _collapse_context(collapse) -> dict:
    mle, map_fit = collapse.mle, collapse.map_fit
    return {
        "mle_iter": mle.n_iter,
        "mle_first": float(mle.objective_history[0]),
        "mle_last": float(mle.objective_history[-1]),
        # The MLE's component on the lone sale is the one the start put there (index 1).
        "mle_sd": float(np.sqrt(mle.params.full_covariances()[1, 0, 0])),
        "map_iter": int(map_fit.n_iter_),
        "map_sd": float(np.sqrt(map_fit.params_.full_covariances()[collapse.lone, 0, 0])),
        "map_objective": float(map_fit.objective_history_[-1]),
    }


def _restart_rows(restarts) -> list[dict]:
    return [
        {
            "random_state": r.random_state,
            "n_iter": r.n_iter,
            "objective": r.objective,
            "means": None
            if r.params is None
            else np.array2string(np.sort(r.params.means[:, 0]), precision=2),
            "message": r.message,
        }
        for r in restarts
    ]


def build_walkthrough(
    data: Dataset,
    n_components: int,
    out_dir,
    *,
    random_state=0,
    max_frames: int = MAX_FRAMES,
    n_restarts: int = examples.RESTART_STARTS,
) -> Path:
    """Write the walkthrough of one EM run on ``data`` to ``out_dir``.

    Parameters
    ----------
    data : Dataset
        One or two features (the pictures are 1-D or 2-D).
    n_components : int
    out_dir : str or Path
        A new or empty directory, or an earlier walkthrough (checked before any work by
        :func:`latentmix.output.check_output`). Only the walkthrough's own files are
        replaced, all at once when everything is written; other files in it are kept.
    random_state : int
        Seeds the restarts on galaxies, the collapse example's data and the k-means++
        comparison.
    max_frames : int
        About this many iterations are drawn.
    n_restarts : int
        Random starts on galaxies.

    Returns
    -------
    Path
        ``out_dir``, absolute.

    Raises
    ------
    ValueError
        ``out_dir`` is a file or a directory the package did not write, the data have more
        than two features, or EM from the poor start collapses.
    """
    out_dir = check_output(out_dir, COMMAND)
    K = check_n_components(n_components)
    X = check_data(data.data, n_components=K)
    n, d = X.shape
    if d > 2:
        raise ValueError(
            f"the walkthrough draws 1-D or 2-D data, but {data.name!r} has {d} features; "
            "pick one or two with --columns."
        )
    names = list(data.feature_names)
    start = examples.poor_start(X, K)
    run = examples.run_from(X, start)
    path = decomposition_path(X, run.params)
    grid = np.linspace(*limits(X[:, 0], 0.12), 300)
    component = examples.moving_component(run.params)
    frames = draw_frames(X, names, run, path, component, grid, max_frames)
    drawn = [f.iteration for f in frames]

    pngs = {"decomposition": _png(figures.decomposition_figure(path))}
    if d == 1:
        pngs["bound"] = _png(figures.bound_figure(X, names[0], run.params, component, grid))
        checks = examples.bound_checks(X, run.params, component, grid, drawn)
        bound = {"component": component + 1, "png": pngs["bound"], **checks._asdict()}
    else:
        # EM moves every parameter at once in 2-D, so the bound is drawn along the whole step.
        pngs["bound"] = _png(figures.step_bound_figure(X, run.params, examples.STEPS))
        checks = examples.step_bound_checks(X, run.params, drawn)
        bound = {"component": None, "png": pngs["bound"], **checks._asdict()}
    hard_soft = examples.hard_vs_soft(X, run.params[-1], run.resp[-1], start)
    pngs["hard_vs_soft"] = _png(figures.hard_soft_figure(X, names, hard_soft))
    collapse = examples.run_collapse_example(random_state)
    pngs["mle_vs_map"] = _png(figures.collapse_figure(collapse))
    galaxies, restarts = examples.run_restarts(random_state, n_restarts)
    pngs["restarts_galaxies"] = _png(figures.restarts_figure(galaxies, restarts))

    best = examples.best_log_likelihood(X, K, random_state)
    ll = path.log_likelihood
    page = pages.render_html(
        "walkthrough.html.j2",
        title=f"EM step by step: {data.name}",
        description=data.description,
        names=names,
        n=n,
        d=d,
        K=K,
        n_iter=len(run.params) - 1,
        converged=run.converged,
        tol=examples.TOL,
        max_iter=examples.MAX_ITER,
        first_log_likelihood=ll[0],
        last_log_likelihood=ll[-1],
        best_log_likelihood=best,
        stopped_lower=best - ll[-1] > 1e-6 * abs(best),
        frames=frames,
        bound=bound,
        decomposition_png=pngs["decomposition"],
        decomposition_rows=_decomposition_rows(path, drawn),
        n_states=ll.size,
        split_error=float(np.max(np.abs(path.q + path.entropy - ll))),
        hard_soft={"png": pngs["hard_vs_soft"], **_hard_soft_context(hard_soft)},
        collapse={"png": pngs["mle_vs_map"], **_collapse_context(collapse)},
        restarts={
            "png": pngs["restarts_galaxies"],
            "n_components": examples.RESTART_COMPONENTS,
            "n_starts": len(restarts),
            "rows": _restart_rows(restarts),
        },
    )

    with replace_output(out_dir, COMMAND) as staging:
        (staging / "frames").mkdir()
        (staging / "figures").mkdir()
        for f in frames:
            (staging / "frames" / f"frame_{f.iteration:03d}.png").write_bytes(f.png)
        (staging / "walkthrough.gif").write_bytes(animation_gif(frames))
        for name, png in pngs.items():
            (staging / "figures" / f"{name}.png").write_bytes(png)
        (staging / "index.html").write_text(page, encoding="utf-8")
    return out_dir
