r"""``latentmix select``: choose K and the covariance structure, by every criterion at once.

Fits every (K, covariance type) cell by EM (MLE and, under a prior, MAP) and tabulates
log-likelihood, parameters, BIC, ICL and AIC on mclust's scale (larger is better), the best
cell and those within 2, 6 and 10 BIC units of it, and every cell that failed; runs mclust's
sequential bootstrap likelihood-ratio test for K within the best cell's structure and the VB
route (the largest K with a small Dirichlet concentration: the components that keep weight);
with ``--posterior``, PSIS-LOO of the posterior for each K of that structure with ArviZ's stacking
and pseudo-BMA weights. Each fit, replicate and posterior is one Dask task, stored as it
finishes under ``--out DIR/replicates`` (re-running the same command resumes). ``DIR`` must
be new, empty, or an earlier output of this command (:mod:`latentmix.output`). Exit status 1
when every fit failed, or when EM succeeded but every posterior failed.

Examples
--------
::

    latentmix select iris --out select-iris
    latentmix select galaxies -k 1..6 --covariance full,tied --bootstrap 199 --out sel
    latentmix select faithful -k 1..4 --posterior --draws 500 --out sel-faithful
    latentmix select survey.csv --missing ignore --weights count --out sel-survey
"""

from __future__ import annotations

from latentmix.commands import (
    HelpFormatter,
    add_cluster,
    add_components,
    add_data,
    add_missing_and_weights,
    add_out,
    add_prior,
    add_sampling,
    add_seed,
    examples,
    parse_prior,
)
from latentmix.params import COVARIANCE_TYPES


def add_select_options(parser, *, ks, covariance: str, bootstrap: int, posterior: bool) -> None:
    """The options of ``select`` (and of ``study select``, with its older defaults)."""
    add_data(parser)
    add_missing_and_weights(parser)
    add_components(parser, several=True, default=list(ks))
    parser.add_argument(
        "--covariance",
        default=covariance,
        metavar="all|TYPE,...",
        help=f"covariance types: all, or a comma-separated list of {', '.join(COVARIANCE_TYPES)}",
    )
    add_prior(
        parser,
        "default",
        "prior of the MAP column: none (MLE only), default (mclust's defaultPrior), or a "
        "JSON/TOML file",
    )
    from latentmix.selection.grid import N_INIT

    parser.add_argument("--n-init", type=int, default=N_INIT, help="EM restarts per fit")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=bootstrap,
        metavar="B",
        help="bootstrap replicates of each LRT, 0 for none (mclust uses 999)",
    )
    parser.add_argument(
        "--level",
        type=float,
        default=0.05,
        help="level of each test of the sequential LRT (as mclust)",
    )
    if not posterior:
        parser.add_argument(
            "--posterior",
            action="store_true",
            help="also PSIS-LOO of the posterior for each K of the chosen structure",
        )
    add_sampling(parser, 1000, 1000)
    add_out(
        parser,
        required=True,
        help="output directory: new, empty, or an earlier output of this command (resumed)",
    )
    add_seed(parser, help="seed of every fit, replicate and chain")
    add_cluster(parser)


def add_parser(subparsers) -> None:
    """Register ``select``."""
    from latentmix.selection.run import DEFAULT_KS

    parser = subparsers.add_parser(
        "select",
        help="choose K and the covariance structure: BIC, ICL, AIC, bootstrap LRT, PSIS-LOO",
        description="Fit every (K, covariance type) cell by EM and compare them by BIC, ICL "
        "and AIC (mclust's sign: larger is better), the bootstrap LRT, VB with a small "
        "Dirichlet concentration and, with --posterior, PSIS-LOO. Re-running the same command "
        "resumes.",
        formatter_class=HelpFormatter,
        epilog=examples(
            "latentmix select iris --out select-iris",
            "latentmix select faithful -k 1..4 --covariance full,tied --posterior --draws 500 "
            "--out select-faithful",
        ),
    )
    add_select_options(parser, ks=DEFAULT_KS, covariance="all", bootstrap=99, posterior=False)
    parser.set_defaults(func=run)


def run(args, command: str = "select") -> int:
    """Run ``latentmix select`` (or ``study select``) from parsed arguments."""
    from latentmix.selection.run import exit_status, run_select, select_config, write_select_pages

    config = select_config(
        args.data,
        args.components,
        covariance=args.covariance,
        columns=args.columns,
        prior=parse_prior(args.prior),
        random_state=args.seed,
        n_init=args.n_init,
        bootstrap=args.bootstrap,
        level=args.level,
        posterior=args.posterior,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        missing=args.missing,
        weights=args.weights,
    )
    from latentmix.output import check_output

    check_output(args.out, command)
    result = run_select(
        config,
        args.out,
        command=command,
        scheduler=args.scheduler,
        n_workers=args.workers,
        quiet=args.quiet,
    )
    html, md, summary = write_select_pages(result, config, args.out, command)
    print(summary["paragraph"])
    print(f"report: {html} and {md}")
    return exit_status(summary, args.out, command)
