r"""``latentmix study``: coverage, simulation-based calibration and choice of K.

Examples
--------
::

    latentmix study coverage --truth well_separated --n 50,200,1000 --replications 100 \\
        --out reports/study-coverage
    latentmix study sbc --simulations 100 --out sbc-run
    latentmix study select galaxies --k 1..6 --out select-galaxies
"""

from __future__ import annotations

import argparse


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


def _k_range(text: str) -> list[int]:
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            ks = list(range(lo, hi + 1))
        else:
            ks = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--k takes a range such as 1..6 or a list such as 1,2,3; got {text!r}"
        ) from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"--k needs component counts >= 1; got {text!r}")
    return ks


def _add_cluster(parser):
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="address of a running Dask scheduler (tcp://host:8786); default: a local cluster; "
        "'serial' runs in this process without Dask",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="workers of the local cluster (default 2)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def add_parser(subparsers) -> None:
    """Register ``study`` and its three sub-commands."""
    parser = subparsers.add_parser(
        "study",
        help="research studies: coverage, SBC, choice of K",
        description="Studies over many simulated data sets, run as Dask tasks and resumable.",
    )
    sub = parser.add_subparsers(dest="study", metavar="STUDY", required=True)

    cov = sub.add_parser(
        "coverage",
        help="coverage of MLE (Wald, bootstrap), MAP (Laplace) and posterior intervals",
        description="Simulate from a known mixture, fit every method, and measure how often "
        "its intervals cover the truth. Re-running the same command resumes.",
    )
    cov.add_argument(
        "--truth",
        required=True,
        metavar="SPEC",
        help="a named truth (well_separated, overlapping, unequal_weights) or a JSON/TOML "
        "file with weights, means, covariances, covariance_type",
    )
    cov.add_argument("--n", type=_sizes, default=[50, 200, 1000], help="sample sizes, e.g. 50,200")
    cov.add_argument("--replications", type=int, default=100, help="replicates per n")
    cov.add_argument("--out", required=True, help="output folder (replicates/, report.html)")
    cov.add_argument("--seed", type=int, default=0, help="study seed (default 0)")
    cov.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    cov.add_argument("--n-boot", type=int, default=100, help="bootstrap refits (default 100)")
    cov.add_argument(
        "--bootstrap",
        default="nonparametric,parametric",
        help="bootstrap kinds, comma-separated: nonparametric, parametric, or none",
    )
    cov.add_argument(
        "--draws", type=int, default=500, help="posterior draws per chain; 0 skips the posterior"
    )
    cov.add_argument("--tune", type=int, default=500, help="tuning steps per chain")
    cov.add_argument("--chains", type=int, default=2, help="chains per posterior fit")
    cov.add_argument(
        "--posterior-replications",
        type=int,
        default=None,
        metavar="R",
        help="sample the posterior on the first R replicates of each n only (default: all)",
    )
    _add_cluster(cov)
    cov.set_defaults(func=run)

    sbc = sub.add_parser(
        "sbc",
        help="simulation-based calibration of the PyMC model (Talts et al. 2018)",
        description="Draw parameters from the prior, data from the model, the posterior by "
        "NUTS, and test the ranks of the truth among the draws for uniformity.",
    )
    sbc.add_argument("--simulations", type=int, default=100, help="prior draws (default 100)")
    sbc.add_argument("--n", type=int, default=50, help="observations per data set")
    sbc.add_argument("--k", type=int, default=2, help="components (default 2)")
    sbc.add_argument("--out", required=True, help="output folder")
    sbc.add_argument("--seed", type=int, default=0, help="study seed")
    sbc.add_argument("--draws", type=int, default=400, help="posterior draws per chain")
    sbc.add_argument("--tune", type=int, default=400, help="tuning steps per chain")
    sbc.add_argument("--chains", type=int, default=2, help="chains")
    sbc.add_argument("--thin", type=int, default=4, help="keep every THIN-th draw for ranks")
    sbc.add_argument(
        "--wrong-prior",
        action="store_true",
        help="negative control: simulate with a wider prior on the means than the model uses",
    )
    _add_cluster(sbc)
    sbc.set_defaults(func=run)

    sel = sub.add_parser(
        "select",
        help="choose K: BIC and ICL from EM against PSIS-LOO from the posterior",
        description="Fit K = 1..6 by EM (BIC, ICL) and by NUTS (PSIS-LOO with its SE).",
    )
    sel.add_argument("data", metavar="DATA", help="a built-in data set name or a CSV path")
    sel.add_argument("--k", type=_k_range, default=list(range(1, 7)), help="e.g. 1..6")
    sel.add_argument("--covariance", default="full", help="covariance type (default full)")
    sel.add_argument("--columns", default=None, help="comma-separated CSV columns to use")
    sel.add_argument("--out", required=True, help="output folder")
    sel.add_argument("--seed", type=int, default=0)
    sel.add_argument("--draws", type=int, default=1000, help="posterior draws per chain")
    sel.add_argument("--tune", type=int, default=1000, help="tuning steps per chain")
    sel.add_argument("--chains", type=int, default=2)
    _add_cluster(sel)
    sel.set_defaults(func=run)


def run(args) -> int:
    """Dispatch to the study."""
    if args.study == "coverage":
        return _coverage(args)
    if args.study == "sbc":
        from latentmix.studies.sbc import run_sbc_command

        return run_sbc_command(args)
    from latentmix.studies.select import run_select_command

    return run_select_command(args)


def _coverage(args) -> int:
    from latentmix.studies import coverage as C

    name, truth = C.load_truth(args.truth)
    config = C.study_config(
        truth,
        name,
        args.n,
        args.replications,
        seed=args.seed,
        level=args.level,
        n_boot=args.n_boot,
        bootstrap=[b for b in args.bootstrap.split(",") if b and b != "none"],
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        posterior_replications=args.posterior_replications,
    )
    records = C.run_coverage(
        config, args.out, scheduler=args.scheduler, n_workers=args.workers, quiet=args.quiet
    )
    html, md = C.write_coverage_report(records, config, args.out)
    failed = sum(r.get("status") != "ok" for r in records)
    print(f"{len(records)} replicates ({failed} failed as a whole); report: {html} and {md}")
    return 0 if records else 1
