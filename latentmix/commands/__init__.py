"""Sub-commands of the ``latentmix`` command line.

Every command spells a shared option the same way through the ``add_*`` helpers below
(``DATA``, ``--columns``, ``-k/--components``, ``--covariance``, ``--prior``, ``--seed``,
``--out``, ``--quiet``), so that one idea has one flag across ``fit``, ``report``, ``teach``
and ``study``.

Every command's parser uses :class:`HelpFormatter` (each option's default stated the same
way) and ends its ``--help`` with examples (:func:`examples`).
"""

from __future__ import annotations

import argparse

from latentmix.params import COVARIANCE_TYPES


def show_default(value) -> str:
    """A default as a person types it: ``1..6`` and ``50,200,1000`` for lists of counts."""
    if isinstance(value, list | tuple):
        items = list(value)
        counts = len(items) > 2 and all(isinstance(v, int) for v in items)
        if counts and items == list(range(items[0], items[-1] + 1)):
            return f"{items[0]}..{items[-1]}"
        return ",".join(str(v) for v in items)
    return str(value)


def has_default(action: argparse.Action) -> bool:
    """Whether ``--help`` states the option's default: an option with a value to state."""
    return (
        bool(action.option_strings)
        and action.help not in (None, argparse.SUPPRESS)
        and action.default is not None
        and action.default is not False  # a flag: off unless given
        and action.default is not argparse.SUPPRESS
    )


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` of every command: the default of each option, and examples kept as typed.

    An option's help ends in ``(default: X)`` unless it already says what its default is;
    a paragraph of the description or epilog whose lines are indented (an example) is
    printed line by line instead of being wrapped.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if not has_default(action) or "(default" in text:
            return text
        return f"{text} (default: {show_default(action.default).replace('%', '%%')})"

    def _fill_text(self, text, width, indent):
        paragraphs = text.split("\n\n")
        filled = []
        for paragraph in paragraphs:
            lines = paragraph.splitlines()
            if len(lines) > 1 and all(line.startswith("  ") for line in lines[1:]):
                filled.append("\n".join(indent + line for line in lines))  # an example
            else:
                filled.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(filled)


def examples(*lines: str) -> str:
    """The epilog of a command's ``--help``: command lines that work, one per line."""
    head = "Example:" if len(lines) == 1 else "Examples:"
    return "\n".join([head, *(f"  {line}" for line in lines)])


def parse_prior(text: str):
    """``--prior``: ``none`` (MLE, returned as None), ``default``, or a JSON/TOML file."""
    if text in ("none", "default"):
        return None if text == "none" else "default"
    from latentmix.priors import ConjugatePrior

    return ConjugatePrior.read(text)


def component_counts(text: str) -> list[int]:
    """``-k`` for commands that take several K: ``1..6`` (a range) or ``1,2,3`` (a list)."""
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            counts = list(range(lo, hi + 1))
        else:
            counts = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"-k takes a range such as 1..6 or a list such as 1,2,3; got {text!r}"
        ) from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"-k needs component counts >= 1; got {text!r}")
    return counts


def add_data(parser) -> None:
    """``DATA`` (a CSV path or a built-in data set) and ``--columns``."""
    parser.add_argument("data", metavar="DATA", help="CSV path or built-in data set name")
    parser.add_argument(
        "--columns",
        default=None,
        help="comma-separated columns to use (default: every numeric column)",
    )


def add_missing_and_weights(parser) -> None:
    """``--missing error|ignore`` and ``--weights COLUMN`` of the commands that read a CSV."""
    parser.add_argument(
        "--missing", choices=("error", "ignore"), default="error",
        help="what an empty, NA or NaN cell means: error (the message names the row and "
        "column) or ignore (a cell missing at random: EM uses every observed cell)",
    )  # fmt: skip
    parser.add_argument(
        "--weights", default=None, metavar="COLUMN",
        help="a column of observation weights (>= 0; taken out of the data): each row's "
        "log-likelihood term is multiplied by its weight, an integer weight counts the row "
        "that many times",
    )  # fmt: skip


def load_dataset(args):
    """The Dataset of ``DATA``, ``--columns``, ``--missing`` and ``--weights``.

    What the reading warns about (text columns left out, a column of row numbers) is
    printed on stderr as ``latentmix COMMAND: warning: ...``, beside the command's errors,
    so that stdout keeps only the command's output.
    """
    import sys
    import warnings

    from latentmix.datasets import DataWarning, load_data, split_columns

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        dataset = load_data(
            args.data,
            split_columns(args.columns),
            missing=getattr(args, "missing", "error"),
            weights=getattr(args, "weights", None),
        )
    command = f"latentmix {args.command}" if getattr(args, "command", None) else "latentmix"
    for w in caught:
        if issubclass(w.category, DataWarning):
            print(f"{command}: warning: {w.message}", file=sys.stderr)
        else:  # not about the data: pass it on
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return dataset


def add_components(parser, *, several: bool = False, default=None) -> None:
    """``-k/--components``: one K, or with ``several`` a range or list of K."""
    if several:
        parser.add_argument(
            "-k", "--components", type=component_counts, metavar="K",
            default=default, required=default is None,
            help="component counts: a range such as 1..6 or a list such as 1,2,3",
        )  # fmt: skip
    else:
        parser.add_argument(
            "-k", "--components", type=int, metavar="K",
            default=default, required=default is None, help="number of components",
        )  # fmt: skip


def add_covariance(parser, default: str = "full") -> None:
    """``--covariance`` (one of the covariance types)."""
    parser.add_argument(
        "--covariance", choices=COVARIANCE_TYPES, default=default,
        help="covariance type",
    )  # fmt: skip


def add_prior(parser, default: str, help: str) -> None:
    """``--prior none|default|FILE`` (parse it with :func:`parse_prior`)."""
    parser.add_argument("--prior", default=default, metavar="none|default|FILE", help=help)


def add_seed(parser, help: str = "seed of every random choice") -> None:
    """``--seed`` (an int, default 0)."""
    parser.add_argument("--seed", type=int, default=0, help=help)


def add_out(parser, *, required: bool, help: str) -> None:
    """``--out DIR`` (written by :mod:`latentmix.output`, which refuses foreign paths)."""
    parser.add_argument("--out", default=None, required=required, metavar="DIR", help=help)


def add_quiet(parser) -> None:
    """``--quiet`` (no progress lines on stderr)."""
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def add_cluster(parser) -> None:
    """``--scheduler``, ``--workers`` and ``--quiet`` of the commands that run Dask tasks."""
    parser.add_argument(
        "--scheduler",
        default="local",
        metavar="WHERE",
        help="where the tasks run, as for EM: 'local' starts a local Dask "
        "cluster of --workers processes; 'synchronous' runs them one by one in this process; "
        "'threads' or 'processes' are dask's local schedulers; an address such as "
        "tcp://host:8786 uses a running Dask scheduler",
    )
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    add_quiet(parser)


def add_sampling(parser, draws: int, tune: int) -> None:
    """``--draws``, ``--tune`` and ``--chains`` of the posterior's sampler."""
    parser.add_argument("--draws", type=int, default=draws, help="posterior draws per chain")
    parser.add_argument("--tune", type=int, default=tune, help="tuning steps per chain")
    parser.add_argument("--chains", type=int, default=2, help="chains per posterior fit")
