"""``latentmix teach``: a self-contained web page that walks through one EM run."""

from __future__ import annotations

from pathlib import Path


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
    )
    parser.add_argument("data", metavar="DATA", help="CSV path, built-in name or house_prices")
    parser.add_argument(
        "-k", "--components", type=int, required=True, metavar="K", help="number of components"
    )
    parser.add_argument(
        "--out", default=None, metavar="DIR", help="output directory (default: teach-DATA)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--columns", default=None, help="comma-separated columns to use (default: all numeric)"
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build the walkthrough; returns the exit code."""
    from latentmix.datasets import load_data, split_columns
    from latentmix.teach.walkthrough import build_walkthrough

    dataset = load_data(args.data, split_columns(args.columns))
    out = Path(args.out) if args.out else Path(f"teach-{Path(dataset.name).name}")
    build_walkthrough(dataset, args.components, out, random_state=args.seed)
    print(
        f"wrote {out / 'index.html'} (frames in {out / 'frames'}, "
        f"animation {out / 'walkthrough.gif'})"
    )
    return 0
