r"""``latentmix study``: coverage, simulation-based calibration and choice of K.

Each study writes one file per replicate into ``--out DIR`` as it finishes (re-running the
same command resumes) and then its page (``report.html``, ``report.md``, ``summary.json``,
``figures/``). ``DIR`` must be new, empty, or an earlier output of the same study: a
directory that latentmix did not write, or a file, is refused (:mod:`latentmix.output`).
Every option is checked before ``DIR`` is claimed. A stored replicate made under other
settings, or malformed, is redone; Ctrl-C stores nothing for the replicate it interrupts
(exit 130). A study in which every replicate failed writes its page and exits 1, saying
where the errors are stored.

Examples
--------
::

    latentmix study coverage --truth well_separated --n 50,200,1000 --replications 100 \\
        --out reports/study-coverage
    latentmix study sbc --simulations 100 -k 2 --out sbc-run
    latentmix study select galaxies -k 1..6 --out select-galaxies
"""

from __future__ import annotations

import argparse

from latentmix.commands import (
    HelpFormatter,
    add_cluster,
    add_components,
    add_out,
    add_sampling,
    add_seed,
    examples,
)
from latentmix.commands.select import add_select_options

COVERAGE_EXAMPLE = (
    "latentmix study coverage --truth well_separated --n 50,200 --replications 20 "
    "--out coverage-run"
)
SBC_EXAMPLE = "latentmix study sbc --simulations 100 -k 2 --out sbc-run"
SELECT_EXAMPLE = "latentmix study select galaxies -k 1..4 --out select-galaxies"


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--n takes comma-separated whole numbers such as 50,200,1000; got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--n needs positive sample sizes; got {text!r}")
    return sizes


def add_parser(subparsers) -> None:
    """Register ``study`` and its three sub-commands."""
    parser = subparsers.add_parser(
        "study",
        help="research studies: coverage, SBC, choice of K",
        description="Studies over many simulated data sets, run as Dask tasks and resumable.",
        formatter_class=HelpFormatter,
        epilog=examples(COVERAGE_EXAMPLE, SBC_EXAMPLE, SELECT_EXAMPLE),
    )
    sub = parser.add_subparsers(dest="study", metavar="STUDY", required=True)
    out_help = "output directory: new, empty, or an earlier output of this study (resumed)"

    cov = sub.add_parser(
        "coverage",
        help="coverage of MLE (Wald, bootstrap), MAP (Laplace) and posterior intervals",
        description="Simulate from a known mixture, compute every interval source, and "
        "measure how often its intervals cover the truth. Re-running the same command resumes.",
        formatter_class=HelpFormatter,
        epilog=examples(COVERAGE_EXAMPLE),
    )
    cov.add_argument(
        "--truth",
        required=True,
        metavar="SPEC",
        help="a named truth (well_separated, overlapping, unequal_weights) or a JSON/TOML "
        "file with weights, means, covariances, covariance_type",
    )
    cov.add_argument(
        "--n", type=_sizes, default=[50, 200, 1000], help="sample sizes, comma-separated"
    )
    cov.add_argument("--replications", type=int, default=100, help="replicates per n")
    add_out(cov, required=True, help=out_help)
    add_seed(cov, help="study seed")
    cov.add_argument("--level", type=float, default=0.95, help="interval level")
    cov.add_argument("--n-boot", type=int, default=100, help="bootstrap refits")
    cov.add_argument(
        "--bootstrap",
        default="nonparametric,parametric",
        help="bootstrap resampling, comma-separated: nonparametric, parametric, weighted, or none",
    )
    cov.add_argument(
        "--no-vb",
        action="store_true",
        help="skip the variational Bayes arm (source vb; on by default)",
    )
    add_sampling(cov, 500, 500)
    cov.add_argument(
        "--posterior-replications",
        type=int,
        default=None,
        metavar="R",
        help="sample the posterior on the first R replicates of each n only (default: all); "
        "--draws 0 skips the posterior",
    )
    add_cluster(cov)
    cov.set_defaults(func=run)

    sbc = sub.add_parser(
        "sbc",
        help="simulation-based calibration of the PyMC model (Talts et al. 2018)",
        description="Draw parameters from the prior, data from the model, the posterior by "
        "NUTS, and test the ranks of the truth among the draws for uniformity.",
        formatter_class=HelpFormatter,
        epilog=examples(SBC_EXAMPLE),
    )
    sbc.add_argument("--simulations", type=int, default=100, help="prior draws")
    sbc.add_argument("--n", type=int, default=50, help="observations per data set")
    add_components(sbc, default=2)
    add_out(sbc, required=True, help=out_help)
    add_seed(sbc, help="study seed")
    add_sampling(sbc, 400, 400)
    sbc.add_argument("--thin", type=int, default=4, help="keep every THIN-th draw for ranks")
    sbc.add_argument(
        "--wrong-prior",
        action="store_true",
        help="negative control: simulate with a wider prior on the variances than the model uses",
    )
    sbc.add_argument(
        "--sampler",
        choices=["nuts", "vb"],
        default="nuts",
        help="posterior by NUTS or by mean-field variational Bayes (VB: L = --draws // --thin "
        "independent draws of q)",
    )
    sbc.add_argument(
        "--overlap",
        choices=["separated", "overlapping"],
        default="separated",
        help="prior on the means: spread 1/0.1 of a variance (separated: components mostly "
        "apart) or 1/2 (overlapping)",
    )
    add_cluster(sbc)
    sbc.set_defaults(func=run)

    sel = sub.add_parser(
        "select",
        help="choose K: latentmix select with the posterior (BIC, ICL, AIC, PSIS-LOO)",
        description="The same run as `latentmix select` with --posterior always on, and the "
        "older defaults: -k 1..6, --covariance full, no bootstrap LRT (--bootstrap B adds it).",
        formatter_class=HelpFormatter,
        epilog=examples(SELECT_EXAMPLE),
    )
    add_select_options(sel, ks=range(1, 7), covariance="full", bootstrap=0, posterior=True)
    sel.set_defaults(func=run, posterior=True)


def run(args) -> int:
    """Dispatch to the study."""
    if args.study == "coverage":
        return _coverage(args)
    if args.study == "sbc":
        from latentmix.studies.sbc import run_sbc_command

        return run_sbc_command(args)
    from latentmix.commands.select import run as run_select

    return run_select(args, command="study select")


def _coverage(args) -> int:
    from latentmix.studies import coverage as C
    from latentmix.studies.coverage.study import replicate_failed
    from latentmix.studies.runner import finish_status

    name, truth = C.load_truth(args.truth)
    config = C.study_config(
        truth,
        name,
        args.n,
        args.replications,
        random_state=args.seed,
        level=args.level,
        n_boot=args.n_boot,
        bootstrap=[b for b in args.bootstrap.split(",") if b and b != "none"],
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        posterior_replications=args.posterior_replications,
        vb=not args.no_vb,
    )
    records = C.run_coverage(
        config, args.out, scheduler=args.scheduler, n_workers=args.workers, quiet=args.quiet
    )
    html, md = C.write_coverage_page(records, config, args.out)
    failed = sum(replicate_failed(r) for r in records)
    print(f"{len(records)} replicates ({failed} failed as a whole); report: {html} and {md}")
    return finish_status(records, args.out, replicate_failed)
