"""``latentmix report``: EM MLE and MAP against the posterior, written as a report."""

from __future__ import annotations

import shlex


def add_parser(subparsers) -> None:
    """Register ``latentmix report``."""
    from latentmix.commands import (
        HelpFormatter,
        add_components,
        add_covariance,
        add_data,
        add_missing_and_weights,
        add_out,
        add_prior,
        add_quiet,
        add_seed,
        examples,
    )

    parser = subparsers.add_parser(
        "report",
        help="fit MLE and MAP by EM, sample the posterior, write a comparison report",
        description=(
            "Fit the MLE and the MAP by EM, sample the posterior of the same mixture and prior "
            "with PyMC, and write OUT/index.html (one self-contained page), OUT/report.md, "
            "OUT/figures/*.png, OUT/estimates.json and OUT/posterior.nc. DATA is a CSV file "
            "with a header row or a built-in data set (faithful, galaxies, acidity, iris). "
            "OUT must be new, empty or an earlier report; the report's files in it are replaced "
            "only when the new report is complete, and nothing else in it is touched."
        ),
        formatter_class=HelpFormatter,
        epilog=examples(
            "latentmix report faithful -k 2 --out faithful-report",
            "latentmix report iris -k 3 --labels Species --test-fraction 0.2 --draws 500 "
            "--out iris-report",
        ),
    )
    add_data(parser)
    add_missing_and_weights(parser)
    add_components(parser)
    add_covariance(parser)
    add_prior(
        parser, "default",
        "the conjugate prior shared by MAP and posterior: the data-scaled default, or the "
        "hyperparameters in a JSON or TOML file (a report's estimates.json works); the "
        "posterior needs one, so 'none' is refused",
    )  # fmt: skip
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain")
    parser.add_argument("--tune", type=int, default=1000, help="tuning steps per chain")
    parser.add_argument("--chains", type=int, default=4, help="chains")
    parser.add_argument(
        "--level", type=float, default=0.95, metavar="P",
        help="probability of every interval: posterior, Wald, Laplace",
    )  # fmt: skip
    parser.add_argument(
        "--order", choices=("mean", "weight", "map"), default="mean",
        help="order of the components in every table, figure and file: by the MAP's first "
        "mean coordinate, by weight (largest first), or as EM found them (mean)",
    )  # fmt: skip
    add_seed(parser, help="seed for split, EM, sampler and Laplace draws")
    parser.add_argument("--n-init", type=int, default=10, help="EM restarts")
    add_out(
        parser, required=False,
        help="report directory (default: reports/DATANAME-kK-COVARIANCE)",
    )  # fmt: skip
    parser.add_argument(
        "--test-fraction", type=float, default=None, metavar="F",
        help="hold out this fraction of rows for a predictive comparison (default: none, "
        "every row is fitted)",
    )  # fmt: skip
    parser.add_argument(
        "--sampler", choices=("nutpie", "pymc"), default="nutpie", help="NUTS implementation"
    )
    parser.add_argument(
        "--chain-starts", choices=("optima", "map"), default="optima",
        help="where the chains start: at the distinct optima the MAP's EM restarts found, "
        "one each in turn, or all at the MAP (default: optima)",
    )  # fmt: skip
    parser.add_argument(
        "--sensitivity", action="store_true",
        help="also sample the posterior under a prior twice as weak and twice as strong (two "
        "more samplings; the MAP under both is always fitted)",
    )  # fmt: skip
    parser.add_argument(
        "--labels", default=None, metavar="COLUMN",
        help="a column of known group labels (iris: Species), left out of the data; the "
        "membership section gives each estimate's adjusted Rand index against it",
    )  # fmt: skip
    parser.add_argument(
        "--allow-long", action="store_true",
        help="sample even when the estimate says sampling takes over an hour (without it, "
        "the report stops before sampling and says what to change)",
    )  # fmt: skip
    parser.add_argument(
        "--posterior-rows", type=int, default=None, metavar="M",
        help="sample the posterior on a random subsample of M rows (seeded by --seed); EM, "
        "VB and the comparison use every row. For data too large to sample: the posterior's "
        "sds are then about sqrt(n / M) times those of all n rows (default: every row)",
    )  # fmt: skip
    parser.add_argument(
        "--no-cache", action="store_true",
        help="compile the posterior's model afresh instead of reusing one of the same structure",
    )  # fmt: skip
    add_quiet(parser)
    parser.set_defaults(func=run)


def command_line(args, out) -> str:
    """The full command that reproduces this report, every setting spelled out."""
    parts = ["latentmix", "report", args.data, "-k", str(args.components)]
    parts += ["--covariance", args.covariance, "--prior", args.prior]
    parts += ["--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains)]
    parts += ["--level", str(args.level), "--order", getattr(args, "order", "mean")]
    parts += ["--seed", str(args.seed), "--n-init", str(args.n_init), "--sampler", args.sampler]
    if args.test_fraction is not None:
        parts += ["--test-fraction", str(args.test_fraction)]
    if args.columns:
        parts += ["--columns", args.columns]
    if getattr(args, "missing", "error") != "error":
        parts += ["--missing", args.missing]
    if getattr(args, "weights", None) is not None:
        parts += ["--weights", args.weights]
    if getattr(args, "sensitivity", False):
        parts += ["--sensitivity"]
    if getattr(args, "labels", None) is not None:
        parts += ["--labels", args.labels]
    if getattr(args, "allow_long", False):
        parts += ["--allow-long"]
    if getattr(args, "posterior_rows", None) is not None:
        parts += ["--posterior-rows", str(args.posterior_rows)]
    if getattr(args, "chain_starts", "optima") != "optima":
        parts += ["--chain-starts", args.chain_starts]
    if getattr(args, "no_cache", False):
        parts += ["--no-cache"]
    parts += ["--out", str(out)]
    return shlex.join(parts)


def run(args) -> int:
    """Build the report and print the path of its index.html; returns the exit code."""
    import signal
    import sys
    from pathlib import Path

    from latentmix.commands import parse_prior
    from latentmix.datasets import split_columns
    from latentmix.report import ReportSettings, make_report

    # A terminated run cleans up its staging directory like an interrupted one.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    columns = split_columns(args.columns)
    prior = parse_prior(args.prior)
    if prior is None:
        raise ValueError(
            "the posterior needs a proper prior: --prior default, or --prior FILE with the "
            "hyperparameters."
        )
    if args.out is None:
        name = Path(args.data).stem if Path(args.data).suffix else args.data
        out = Path("reports") / f"{name}-k{args.components}-{args.covariance}"
    else:
        out = Path(args.out)
    settings = ReportSettings(
        n_components=args.components,
        covariance_type=args.covariance,
        prior=prior,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        test_fraction=args.test_fraction,
        columns=columns,
        n_init=args.n_init,
        sampler=args.sampler,
        level=args.level,
        order=getattr(args, "order", "mean"),
        missing=args.missing,
        weights=args.weights,
        cache=not getattr(args, "no_cache", False),
        allow_long=getattr(args, "allow_long", False),
        posterior_rows=getattr(args, "posterior_rows", None),
        chain_starts=getattr(args, "chain_starts", "optima"),
        sensitivity=getattr(args, "sensitivity", False),
        labels=getattr(args, "labels", None),
    ).check()
    earlier = out.is_dir() and any(out.iterdir())
    try:
        index = make_report(
            args.data, out, settings, command=command_line(args, out), quiet=args.quiet
        )
    except KeyboardInterrupt as err:
        # The report is written whole or not at all (output.replace_output).
        kept = f"the earlier report in {out} is untouched" if earlier else f"{out} was not written"
        raise KeyboardInterrupt("; ".join(filter(None, [str(err), kept]))) from None
    print(index)
    return 0
