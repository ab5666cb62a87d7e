"""The ``latentmix`` entry point: how it ends when its reader goes away."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A command that prints far more than a pipe buffer holds, run through cli.main.
_SCRIPT = textwrap.dedent(
    """
    import argparse, sys
    from latentmix import cli

    def build_parser():
        parser = argparse.ArgumentParser(prog="latentmix")
        sub = parser.add_subparsers(dest="command", required=True)
        chatty = sub.add_parser("chatty")
        chatty.set_defaults(func=lambda args: [print("row", i) for i in range(10**6)] and 0)
        return parser

    cli.build_parser = build_parser
    sys.exit(cli.main(["chatty"]))
    """
)


def test_a_closed_pipe_ends_quietly_with_the_sigpipe_status():
    # As `latentmix fit ... | head -1`: the reader takes one line and leaves.
    with subprocess.Popen(
        [sys.executable, "-c", _SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout.readline() == b"row 0\n"
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141
    assert stderr == "", stderr


def test_a_command_that_finishes_returns_its_own_code(capsys):
    from latentmix import cli

    # --version exits through argparse before any command runs: the parser is intact.
    try:
        cli.main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.startswith("latentmix ")
