"""The walkthrough's frames: one picture per drawn EM iteration, and the GIF of them all.

A frame has three panels: the data coloured by responsibility with the components, the
objective so far, and on the right the bound (1-D data) or the split l = Q + H (2-D data).
"""

from __future__ import annotations

import io
from typing import NamedTuple

import numpy as np

from latentmix import pages
from latentmix.teach import draw

#: At most this many iterations are drawn as frames (all the early ones, then spaced out).
MAX_FRAMES = 16
#: 96 dpi: the page shows frames at their natural size, one image pixel per CSS pixel, so a
#: 9-point label is 12 px on screen (at 80 dpi and stretched to the page it was blurred).
FRAME_DPI = 96
#: The GIF's one shared palette (GIF allows 256; fewer keeps the file small).
GIF_COLOURS = 128


class Frame(NamedTuple):
    """One drawn iteration: its number (0 is the start) and the PNG."""

    iteration: int
    png: bytes


def frame_iterations(n_states: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """Which iterations 0..n_states-1 to draw: all early ones, then spaced out, and the last.

    Parameters
    ----------
    n_states : int
        Number of iterates (the start and one per iteration).
    max_frames : int
        At most about this many are chosen (rounding may merge a few of the later ones).

    Returns
    -------
    list of int
        Increasing, starting at 0 and ending at ``n_states - 1``.

    Examples
    --------
    >>> frame_iterations(5)
    [0, 1, 2, 3, 4]
    >>> frame_iterations(84)
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 16, 22, 30, 43, 59, 83]
    """
    if n_states <= max_frames:
        return list(range(n_states))
    early = list(range(max_frames // 2))
    later = np.unique(
        np.round(np.geomspace(early[-1] + 1, n_states - 1, max_frames - len(early))).astype(int)
    )
    return sorted(set(early) | set(later.tolist()) | {n_states - 1})


def objective_ylim(history) -> tuple[float, float]:
    """A y range for the objective; a start far below the rest is left off the axis."""
    if history.size > 2 and history[1] - history[0] > (history[-1] - history[1]):
        span = history[-1] - history[1]
        return history[1] - 0.6 * span - 1e-9, history[-1] + 0.1 * span + 1e-9
    return draw.limits(history, 0.06)


def draw_frames(
    X, names, run, path, bound_component: int, grid, max_frames: int = MAX_FRAMES
) -> list[Frame]:
    """Draw the chosen iterations of one EM run.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        d is 1 or 2.
    names : list of str
        The feature names (axis labels).
    run : latentmix.teach.examples.EMPath
        Every iterate and its responsibilities.
    path : latentmix.teach.bound.DecompositionPath
        The split along ``run``.
    bound_component : int
        0-based; the component whose bound the right panel shows (1-D data).
    grid : ndarray of shape (m,)
        Where the densities (and the widest bound window) are evaluated.
    max_frames : int

    Returns
    -------
    list of Frame
    """
    params_path, resp_path = run.params, run.resp
    d = X.shape[1]
    history = path.log_likelihood
    ylim_obj = objective_ylim(history)
    colours = draw.component_colours(params_path[0].n_components)
    if d == 1:
        ymax = 1.15 * max(
            draw.mixture_densities_1d(p, grid).sum(axis=0).max() for p in params_path
        )
        counts, _ = np.histogram(X[:, 0], bins=30, range=(grid[0], grid[-1]), density=True)
        ymax = max(ymax, 1.05 * counts.max())
    else:
        xlim, ylim = draw.limits(X[:, 0]), draw.limits(X[:, 1])
    frames = []
    T = len(params_path)
    for t in frame_iterations(T, max_frames):
        fig = draw.new_figure(10.5, 3.6)
        axes = fig.subplots(1, 3, width_ratios=[1.45, 1, 1])
        if d == 1:
            draw.draw_mixture_1d(axes[0], X, params_path[t], resp_path[t], grid=grid, ymax=ymax)
            axes[0].set_xlabel(draw.plain_text(names[0]))
            axes[0].legend(fontsize=8.5, loc="upper right", frameon=False)
        else:
            draw.draw_mixture_2d(axes[0], X, params_path[t], resp_path[t], xlim=xlim, ylim=ylim)
            axes[0].set_xlabel(draw.plain_text(names[0]))
            axes[0].set_ylabel(draw.plain_text(names[1]))
        axes[0].set_title(f"iteration {t}: points coloured by responsibility", fontsize=10)
        draw.draw_objective(axes[1], history, t, ylim=ylim_obj)
        axes[1].set_title(f"log-likelihood {history[t]:.2f}", fontsize=10)
        if d == 1:
            b = draw.zoomed_bound_slice(X, params_path[t], bound_component, grid)
            nxt = params_path[t + 1].means[bound_component, 0] if t + 1 < T else None
            draw.draw_bound(
                axes[2],
                b,
                nxt,
                colours[bound_component],
                ylim=draw.bound_ylim(b),
                show_legend=False,
            )
            axes[2].set_xlabel(f"mean of component {bound_component + 1}")
            axes[2].set_title("log-lik (black) and the bound (colour)", fontsize=10)
        else:
            draw.draw_decomposition(axes[2], path, t)
            axes[2].set_title(
                f"$\\ell$ = Q + H = {path.q[t]:.1f} + {path.entropy[t]:.1f}",
                fontsize=10,
            )
        frames.append(Frame(t, pages.figure_png(fig, dpi=FRAME_DPI)))
    return frames


def animation_gif(frames) -> bytes:
    """The frames as a looping GIF (the first and last shown longer), for slides.

    Every frame shares one palette of :data:`GIF_COLOURS` colours, so that colours do not
    flicker from one frame to the next: the colours that fill the most flat areas over all
    frames (:func:`latentmix.pages.common_palette`), so the components' own colours, the
    lines and the text are exact in every frame, and only antialiased edges and the rarest
    responsibility blends take the nearest palette colour.
    """
    from PIL import Image

    images = [Image.open(io.BytesIO(f.png)).convert("RGB") for f in frames]
    palette = pages.common_palette(images, GIF_COLOURS)
    quantised = [pages.to_palette(im, palette) for im in images]
    durations = [900] * len(quantised)
    durations[0] = durations[-1] = 2500
    buf = io.BytesIO()
    quantised[0].save(
        buf,
        format="gif",
        save_all=True,
        append_images=quantised[1:],
        duration=durations,
        loop=0,
        optimize=True,
    )
    return buf.getvalue()
