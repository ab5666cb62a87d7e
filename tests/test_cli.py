"""The ``latentmix`` entry point: how it ends when its reader goes away, and its ``--help``."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

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


# --- --help of every command -------------------------------------------------------------------

COMMAND_PATHS = [
    (),
    ("fit",),
    ("report",),
    ("teach",),
    ("select",),
    ("study",),
    ("study", "coverage"),
    ("study", "sbc"),
    ("study", "select"),
]
#: The commands that take options (``latentmix`` and ``latentmix study`` only dispatch).
LEAVES = [path for path in COMMAND_PATHS if path not in ((), ("study",))]


def _parser_of(path):
    import argparse

    from latentmix import cli

    parser = cli.build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _help(path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: nothing wraps
    return _parser_of(path).format_help()


def _examples(help_text):
    _, _, epilog = help_text.partition("\nExample")
    lines = epilog.splitlines()[1:]
    return [line.strip() for line in lines if line.startswith("  latentmix ")]


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "latentmix")
def test_every_help_ends_with_examples_that_parse(path, monkeypatch):
    import shlex

    from latentmix import cli

    text = _help(path, monkeypatch)
    assert re.search(r"^Examples?:$", text, re.MULTILINE), text
    lines = _examples(text)
    assert lines, text
    for line in lines:
        argv = shlex.split(line)
        assert argv[: 1 + len(path)] == ["latentmix", *path], line
        args = cli.build_parser().parse_args(argv[1:])  # exits (fails the test) if wrong
        assert callable(args.func)


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_option_with_a_default_says_it_in_help(path, monkeypatch):
    from latentmix.commands import has_default, show_default

    parser = _parser_of(path)
    lines = _help(path, monkeypatch).splitlines()
    stated = [a for a in parser._actions if has_default(a)]
    assert stated
    for action in stated:
        pattern = re.compile(rf"^\s+{re.escape(action.option_strings[0])}[ ,]")
        at = next(i for i, line in enumerate(lines) if pattern.match(line))
        entry = " ".join(lines[at : at + 2])  # a long option's help starts on the next line
        assert f"(default: {show_default(action.default)})" in entry, entry


def test_defaults_read_as_they_are_typed(monkeypatch):
    coverage = _help(("study", "coverage"), monkeypatch)
    assert re.search(r"--n N .*\(default: 50,200,1000\)", coverage)
    assert re.search(r"--seed SEED .*\(default: 0\)", coverage)
    assert re.search(r"--workers WORKERS .*\(default: 2\)", coverage)
    assert re.search(
        r"-k K, --components K .*\(default: 1\.\.9\)", _help(("select",), monkeypatch)
    )
    # A flag says nothing of a default; an option without one says what leaving it out means.
    report = _help(("report",), monkeypatch)
    assert "(default: False)" not in report and "(default: None)" not in report
    assert re.search(r"--test-fraction F .*\(default: none, every row is fitted\)", report)


def test_the_fit_examples_run(capsys):
    import shlex

    from latentmix import cli

    for line in _examples(_parser_of(("fit",)).format_help()):
        assert cli.main(shlex.split(line)[1:]) == 0, line
    assert "MLE of a 2-component full Gaussian mixture on faithful" in capsys.readouterr().out
