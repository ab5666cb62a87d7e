"""``latentmix teach``: a self-contained web page that walks through one EM run."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from latentmix.commands import (
    HelpFormatter,
    add_components,
    add_data,
    add_missing_and_weights,
    add_out,
    add_seed,
    examples,
)


def add_parser(subparsers) -> None:
    """Register ``latentmix teach``."""
    parser = subparsers.add_parser(
        "teach",
        help="write an HTML walkthrough of EM (frames, GIF, bound, Q + entropy, k-means, MAP)",
        description=(
            "Run EM from a deliberately poor start and write a self-contained HTML page that "
            "shows every step: responsibilities as colours, the components, the objective, "
            "the lower bound EM maximises, log-likelihood = Q + entropy, k-means next to "
            "soft EM, MLE against MAP where the MLE collapses, and restarts on galaxies. "
            "Frames are also written as PNG files and an animated GIF. DATA is a CSV file "
            "with a header row, a built-in data set (faithful, galaxies, acidity, iris), or "
            "house_prices (simulated, three neighbourhoods); it must have one or two columns "
            "(pick them with --columns)."
        ),
        formatter_class=HelpFormatter,
        epilog=examples(
            "latentmix teach faithful -k 2 --out teach-faithful",
            "latentmix teach iris -k 3 --columns Petal.Length,Petal.Width --out teach-iris",
        ),
    )
    add_data(parser)
    add_components(parser)
    add_out(
        parser,
        required=False,
        help="output directory: new, empty, or an earlier walkthrough (default: teach-DATA); "
        "files of yours inside it are kept",
    )
    add_seed(parser, help="seed of the restarts, the collapse example and k-means++")
    # Read as every command reads a CSV: --missing ignore reads empty cells (their rows are
    # left out of the pictures), --weights is refused by name.
    add_missing_and_weights(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build the walkthrough; returns the exit code."""
    import numpy as np

    from latentmix.commands import load_dataset
    from latentmix.output import check_output
    from latentmix.teach.walkthrough import COMMAND, build_walkthrough

    # The data set's name is a built-in's name or a CSV file's stem.
    out = check_output(args.out or f"teach-{Path(args.data).stem}", COMMAND)  # before any work
    dataset = load_dataset(args)
    # The pictures (points coloured one by one, the bound, Q + H) are of unweighted rows:
    # refuse weights rather than draw something else.
    if dataset.sample_weight is not None:
        raise ValueError(
            "the walkthrough draws every row once and cannot show observation weights; "
            "drop --weights here (latentmix fit and latentmix report take them)."
        )
    # Rows with missing cells (read only with --missing ignore) have no point to draw: the
    # walkthrough runs on the complete rows and says so on the page and here.
    complete = ~np.isnan(dataset.data).any(axis=1)
    if not complete.all():
        n_left = int((~complete).sum())
        if complete.sum() < 2 * args.components:
            raise ValueError(
                f"the walkthrough draws complete rows, but only {int(complete.sum())} of "
                f"{complete.size} rows are complete; latentmix fit --missing ignore fits them all."
            )
        note = (
            f"{n_left} of {complete.size} rows have missing cells and are left out: the "
            "walkthrough draws complete rows (latentmix fit and latentmix report --missing "
            "ignore use every observed cell)."
        )
        print(f"teach: {note}", file=sys.stderr)
        dataset = replace(
            dataset,
            data=dataset.data[complete],
            target=None if dataset.target is None else dataset.target[complete],
            description=f"{dataset.description} {note}".strip(),
        )
    build_walkthrough(dataset, args.components, out, random_state=args.seed)
    print(
        f"wrote {out / 'index.html'} (frames in {out / 'frames'}, "
        f"animation {out / 'walkthrough.gif'})"
    )
    return 0
