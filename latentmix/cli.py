"""The ``latentmix`` command: one sub-command per module in :mod:`latentmix.commands`.

Each command module defines ``add_parser(subparsers)``, which registers its arguments and sets
``func`` to a ``run(args) -> int`` function. Heavy imports (PyMC, matplotlib) happen inside
``run`` so that ``latentmix --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from latentmix import __version__

COMMANDS = ("fit", "teach", "report", "select", "study")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    from latentmix.commands import HelpFormatter, examples

    parser = argparse.ArgumentParser(
        prog="latentmix",
        description="Gaussian mixtures by EM (MLE, MAP) next to the full posterior. "
        "`latentmix COMMAND --help` gives each command's options, defaults and examples.",
        formatter_class=HelpFormatter,
        epilog=examples(
            "latentmix fit faithful -k 2",
            "latentmix report faithful -k 2 --out faithful-report",
            "latentmix select iris --out select-iris",
        ),
    )
    parser.add_argument("--version", action="version", version=f"latentmix {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"latentmix.commands.{name}").add_parser(subparsers)
    return parser


def _say_data_warnings(command: str):
    """A ``warnings.showwarning`` for the run of one command.

    latentmix's DataWarning (what the reader did with the data set's columns) prints as one
    line, like the command's errors; anything else prints as Python prints it.
    """
    show = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if category.__name__ == "DataWarning" and category.__module__ == "latentmix.datasets":
            print(f"latentmix {command}: warning: {message}", file=file or sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    saved = warnings.showwarning
    warnings.showwarning = _say_data_warnings(args.command)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader went away (`latentmix fit ... | head`): stop quietly, as Unix tools do.
        # Python's docs on SIGPIPE: point stdout at devnull so the final flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # what a shell reports for a process ended by SIGPIPE
    except (ValueError, OSError) as err:
        print(f"latentmix {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        # One line; a command may say in the interrupt what it kept or discarded.
        detail = " ".join(str(err).split())
        line = f"latentmix {args.command}: interrupted" + (f": {detail}" if detail else "")
        print(line, file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = saved


if __name__ == "__main__":
    sys.exit(main())
