"""The guarded output writer: what it accepts, what it keeps, and what a kill leaves."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from latentmix import output
from latentmix.output import (
    MANIFEST,
    OutputWarning,
    check_output,
    claim_output,
    read_manifest,
    replace_output,
)

OLD = {"index.html": b"old page", "figures/a.png": b"A old", "only_old.txt": b"own, old"}
NEW = {"index.html": b"new page", "figures/a.png": b"A new", "figures/b.png": b"B new"}
FOREIGN = {"notes.txt": b"my notes", "figures/mine.png": b"mine", "site/x/page.html": b"x"}


def write(out, files, command="report", keep=()):
    with replace_output(out, command, keep=keep) as staging:
        for rel, data in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def contents(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (the manifest left out), by relative path."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def put(out: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


def earlier_output(tmp_path) -> Path:
    """An output written by the writer with foreign files added by a user."""
    out = tmp_path / "report"
    write(out, OLD)
    put(out, FOREIGN)
    return out


# --- what is accepted ------------------------------------------------------------------------


def test_new_path_is_created_with_a_manifest(tmp_path):
    out = tmp_path / "a" / "b"
    assert check_output(out, "report") == out
    assert not out.exists()
    write(out, NEW)
    assert contents(out) == NEW
    manifest = read_manifest(out)
    assert manifest["command"] == "report"
    assert manifest["files"] == sorted(NEW)
    assert manifest["directories"] == ["figures"]
    assert manifest["version"]
    assert siblings(out) == []


def test_modes_follow_the_umask(tmp_path):
    umask = os.umask(0o022)
    try:
        out = tmp_path / "out"
        write(out, NEW)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "figures").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "index.html").stat().st_mode) == 0o644


def test_empty_directory_is_accepted(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    check_output(out, "teach")
    write(out, NEW, command="teach")
    assert contents(out) == NEW


@pytest.mark.parametrize(
    "files",
    [
        {"thesis.tex": b"years of work"},
        {"index.html": b"<p>my site</p>", "estimates.json": b"{}"},
        {".hidden": b""},
    ],
)
def test_foreign_directory_is_refused(tmp_path, files):
    out = tmp_path / "out"
    out.mkdir()
    put(out, files)
    with pytest.raises(ValueError, match="choose a new or empty directory") as err:
        check_output(out, "report")
    assert str(out) in str(err.value)
    assert "did not write" in str(err.value)
    with pytest.raises(ValueError, match="did not write"):
        write(out, NEW)
    assert contents(out) == files
    assert siblings(out) == []


def test_a_file_is_refused(tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("keep me")
    with pytest.raises(ValueError, match=r"is a file.*choose a new or empty directory"):
        check_output(out, "teach")
    with pytest.raises(ValueError, match="is a file"):
        write(out, NEW)
    assert out.read_text() == "keep me"
    assert siblings(out) == []


def test_output_of_another_command_is_refused(tmp_path):
    out = tmp_path / "out"
    write(out, OLD, command="report")
    with pytest.raises(ValueError, match=r"`latentmix report`, not of `latentmix teach`"):
        check_output(out, "teach")
    assert contents(out) == OLD


def test_a_manifest_not_written_by_latentmix_is_foreign(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"written_by": "someone", "files": []}))
    with pytest.raises(ValueError, match="did not write"):
        check_output(out, "report")


def test_symlink_to_an_output_writes_the_target(tmp_path):
    target = tmp_path / "real"
    write(target, OLD)
    link = tmp_path / "link"
    link.symlink_to(target)
    write(link, NEW)
    assert link.is_symlink()
    assert contents(target) == NEW


# --- what a rerun keeps and removes ----------------------------------------------------------


def test_foreign_files_survive_a_rerun_as_the_same_files(tmp_path):
    out = earlier_output(tmp_path)
    inodes = {rel: (out / rel).stat().st_ino for rel in FOREIGN}
    write(out, NEW)
    assert contents(out) == NEW | FOREIGN
    assert {rel: (out / rel).stat().st_ino for rel in FOREIGN} == inodes
    # Removed by the new output: the old output's own file that the new one lacks.
    assert not (out / "only_old.txt").exists()
    manifest = read_manifest(out)
    assert manifest["files"] == sorted(NEW)
    assert siblings(out) == []


def test_foreign_file_inside_a_directory_the_new_output_lacks(tmp_path):
    out = tmp_path / "out"
    write(out, {"index.html": b"1", "frames/f0.png": b"f0"}, command="teach")
    put(out, {"frames/keep.txt": b"user"})
    write(out, {"index.html": b"2"}, command="teach")
    assert contents(out) == {"index.html": b"2", "frames/keep.txt": b"user"}


def test_new_output_colliding_with_a_foreign_file_is_refused(tmp_path):
    out = earlier_output(tmp_path)
    before = contents(out)
    with pytest.raises(ValueError, match=r"notes\.txt") as err:
        write(out, NEW | {"notes.txt": b"generated"})
    assert "nothing was written" in str(err.value)
    assert contents(out) == before
    assert read_manifest(out)["files"] == sorted(OLD)
    assert siblings(out) == []


@pytest.mark.parametrize(
    ("new", "name"),
    [({"site": b"a file where a foreign directory is"}, "site"), ({"notes.txt/x": b"1"}, "notes")],
)
def test_file_against_directory_collisions_are_refused(tmp_path, new, name):
    out = earlier_output(tmp_path)
    before = contents(out)
    with pytest.raises(ValueError, match=name):
        write(out, new)
    assert contents(out) == before
    assert siblings(out) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt, SystemExit])
def test_an_exception_in_the_block_leaves_the_old_output(tmp_path, error):
    out = earlier_output(tmp_path)
    before, manifest = contents(out), (out / MANIFEST).read_bytes()
    with pytest.raises(error), replace_output(out, "report") as staging:
        (staging / "index.html").write_bytes(b"half")
        raise error()
    assert contents(out) == before
    assert (out / MANIFEST).read_bytes() == manifest
    assert siblings(out) == []


def test_file_added_by_the_user_during_the_run_survives(tmp_path, monkeypatch):
    out = earlier_output(tmp_path)

    def hook(step):
        if step == "linked":  # after the links, before the swap
            (out / "late.txt").write_bytes(b"late")

    monkeypatch.setattr(output, "_hook", hook)
    write(out, NEW)
    assert contents(out) == NEW | FOREIGN | {"late.txt": b"late"}
    assert siblings(out) == []


def test_file_replaced_by_rename_during_the_run_keeps_the_newer(tmp_path, monkeypatch):
    out = earlier_output(tmp_path)

    def hook(step):
        if step == "linked":
            (out / "notes.new").write_bytes(b"newer notes")
            os.replace(out / "notes.new", out / "notes.txt")

    monkeypatch.setattr(output, "_hook", hook)
    write(out, NEW)
    assert contents(out) == NEW | FOREIGN | {"notes.txt": b"newer notes"}
    assert siblings(out) == []


def test_conflicting_leftover_is_kept_with_a_warning(tmp_path):
    out = earlier_output(tmp_path)
    # An earlier output left at a hidden name by a kill, holding a user's file whose path in
    # ``out`` now holds another file: neither may be lost.
    tree = tmp_path / ".report.latentmix-old-abc"
    write(tree, OLD)
    put(tree, {"notes.txt": b"other notes"})
    with pytest.warns(OutputWarning, match="notes.txt"):
        check_output(out, "report")
    assert (tree / "notes.txt").read_bytes() == b"other notes"
    assert (out / "notes.txt").read_bytes() == FOREIGN["notes.txt"]
    assert not (tree / "index.html").exists()  # its own files went


def test_leftover_blocked_by_a_file_of_the_output_is_kept(tmp_path):
    out = tmp_path / "report"
    write(out, {"a": b"now a file"})
    tree = tmp_path / ".report.latentmix-old-abc"
    write(tree, {"a/own.txt": b"own"})
    put(tree, {"a/x/user.txt": b"user", "b/user.txt": b"free path"})
    with pytest.warns(OutputWarning, match="user.txt"):
        check_output(out, "report")
    assert (tree / "a" / "x" / "user.txt").read_bytes() == b"user"
    assert not (tree / "a" / "own.txt").exists()
    assert contents(out) == {"a": b"now a file", "b/user.txt": b"free path"}


def test_hidden_entries_without_the_manifest_are_not_touched(tmp_path):
    out = earlier_output(tmp_path)
    stranger = tmp_path / ".report.latentmix-staging-mine"
    stranger.mkdir()
    (stranger / "x").write_bytes(b"x")
    write(out, NEW)
    assert (stranger / "x").read_bytes() == b"x"


def test_hard_link_failure_is_a_clear_error(tmp_path, monkeypatch):
    out = earlier_output(tmp_path)
    before = contents(out)

    def no_link(*args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(output.os, "link", no_link)
    with pytest.raises(ValueError, match="another file system"):
        write(out, NEW)
    monkeypatch.undo()
    assert contents(out) == before
    assert siblings(out) == []


def test_two_rename_fallback(tmp_path, monkeypatch):
    out = earlier_output(tmp_path)
    inode = (out / "notes.txt").stat().st_ino

    def no_exchange(a, b):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(output, "_exchange", no_exchange)
    write(out, NEW)
    assert contents(out) == NEW | FOREIGN
    assert (out / "notes.txt").stat().st_ino == inode
    assert siblings(out) == []


# --- studies: a directory filled file by file, then pages rendered ---------------------------


def test_claim_then_render_keeps_the_replicates(tmp_path):
    out = claim_output(tmp_path / "study", "study coverage", owned=("replicates", "study.json"))
    (out / "replicates").mkdir()
    for i in range(3):
        (out / "replicates" / f"r{i}.json").write_text(str(i))
    (out / "study.json").write_text("{}")
    put(out, {"notes.txt": b"mine"})
    # A resumed run claims the same directory again.
    assert claim_output(out, "study coverage", owned=("replicates",)) == out
    inode = (out / "replicates" / "r0.json").stat().st_ino
    keep = ("replicates", "study.json")
    with replace_output(out, "study coverage", keep=keep) as staging:
        assert (staging / "replicates" / "r2.json").read_text() == "2"
        (staging / "coverage.html").write_text("page")
    assert (out / "replicates" / "r0.json").stat().st_ino == inode
    assert (out / "notes.txt").read_bytes() == b"mine"
    manifest = read_manifest(out)
    assert "replicates/r1.json" in manifest["files"]
    assert "study.json" in manifest["files"]
    assert "coverage.html" in manifest["files"]
    assert manifest["owned"] == ["replicates", "study.json"]
    # Rendering again without keeping them removes them: they were the package's own.
    write(out, {"coverage.html": b"page 2"}, command="study coverage")
    assert contents(out) == {"coverage.html": b"page 2", "notes.txt": b"mine"}


def test_claim_refuses_a_foreign_directory(tmp_path):
    out = tmp_path / "study"
    put(out, {"data.csv": b"1,2"})
    with pytest.raises(ValueError, match="did not write"):
        claim_output(out, "study sbc")
    assert not (out / MANIFEST).exists()


# --- a kill at each step ---------------------------------------------------------------------

STEPS = ["staged", "manifest", "linked", "exchanged", "retiring", "retired"]


def _killed_write(out: str, step: str, fallback: bool) -> None:
    def hook(name):
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    if fallback:

        def no_exchange(a, b):
            raise OSError(errno.EINVAL, "Invalid argument")

        output._exchange = no_exchange
    output._hook = hook
    write(out, NEW)
    os._exit(3)  # the step was never reached


@pytest.mark.parametrize(
    ("step", "fallback"),
    [(s, False) for s in STEPS] + [(s, True) for s in [*STEPS, "moved-aside"]],
)
def test_a_kill_at_each_step_leaves_a_whole_output(tmp_path, step, fallback):
    out = earlier_output(tmp_path)
    child = multiprocessing.get_context("fork").Process(
        target=_killed_write, args=(str(out), step, fallback)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    old, new = OLD | FOREIGN, NEW | FOREIGN
    if fallback and step == "moved-aside":
        assert not out.exists()  # the documented window: the next call restores it
    else:
        assert contents(out) in (old, new)
    # The next call cleans the leftovers and finds a whole output.
    check_output(out, "report")
    assert siblings(out) == []
    assert contents(out) in (old, new)
    swapped = step in ("exchanged", "retiring", "retired")
    assert contents(out) == (new if swapped else old)
    assert read_manifest(out)["files"] == sorted(NEW if swapped else OLD)
    write(out, NEW | {"c.txt": b"3"})
    assert contents(out) == NEW | FOREIGN | {"c.txt": b"3"}
    assert siblings(out) == []


def test_a_kill_of_a_first_output_leaves_nothing(tmp_path):
    out = tmp_path / "first"
    child = multiprocessing.get_context("fork").Process(
        target=_killed_write, args=(str(out), "manifest", False)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    assert not out.exists()
    assert len(siblings(out)) == 1
    check_output(out, "report")
    assert siblings(out) == []


def test_a_running_writer_is_not_cleaned_by_another(tmp_path):
    out = earlier_output(tmp_path)
    with replace_output(out, "report") as staging:
        (staging / "index.html").write_bytes(b"in progress")
        check_output(out, "report")  # another run's check: must leave this staging alone
        assert (staging / "index.html").exists()
    assert (out / "index.html").read_bytes() == b"in progress"


# --- any layout ------------------------------------------------------------------------------

_PATHS = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3).map("/".join)
_FILES = st.dictionaries(_PATHS, st.binary(max_size=3), max_size=5)


def _clash(paths_a, paths_b) -> bool:
    """True if a path of one set is the other's path or a directory on the way to it."""
    return any(
        a == b or a.startswith(b + "/") or b.startswith(a + "/") for a in paths_a for b in paths_b
    )


def _consistent(files) -> bool:
    return not any(a.startswith(b + "/") for a in files for b in files)


@settings(max_examples=40)
@given(old=_FILES, new=_FILES, foreign=_FILES)
def test_any_layout_keeps_foreign_files_and_replaces_own(old, new, foreign):
    assume(_consistent(old) and _consistent(new) and _consistent(foreign))
    assume(not _clash(old, foreign))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        write(out, old)
        put(out, foreign)
        if _clash(new, foreign):
            before = contents(out)
            with pytest.raises(ValueError, match="did not write"):
                write(out, new)
            assert contents(out) == before
        else:
            write(out, new)
            assert contents(out) == new | foreign
            assert read_manifest(out)["files"] == sorted(new)
        assert siblings(out) == []


@pytest.mark.parametrize(
    ("step", "fallback"),
    [(s, False) for s in STEPS] + [(s, True) for s in [*STEPS, "moved-aside"]],
)
def test_an_interrupt_at_each_step_leaves_a_whole_output(tmp_path, monkeypatch, step, fallback):
    out = earlier_output(tmp_path)

    def hook(name):
        if name == step:
            raise KeyboardInterrupt

    if fallback:

        def no_exchange(a, b):
            raise OSError(errno.EINVAL, "Invalid argument")

        monkeypatch.setattr(output, "_exchange", no_exchange)
    monkeypatch.setattr(output, "_hook", hook)
    with pytest.raises(KeyboardInterrupt):
        write(out, NEW)
    monkeypatch.setattr(output, "_hook", None)
    swapped = step in ("exchanged", "retiring", "retired")
    expected = NEW | FOREIGN if swapped else OLD | FOREIGN
    assert contents(out) == expected
    assert read_manifest(out)["files"] == sorted(NEW if swapped else OLD)
    if not swapped:
        assert siblings(out) == []  # the staging directory went at once
    check_output(out, "report")
    assert siblings(out) == []
    assert contents(out) == expected


@pytest.mark.parametrize("empty", ["", "  "], ids=["empty", "blank"])
def test_an_empty_path_is_refused_everywhere(tmp_path, monkeypatch, empty):
    # Path("") is the current directory: an empty --out would write into it.
    monkeypatch.chdir(tmp_path)
    for call in (
        lambda: check_output(empty, "report"),
        lambda: claim_output(empty, "study test"),
        lambda: replace_output(empty, "report").__enter__(),
    ):
        with pytest.raises(ValueError, match=r"the output path is empty \(--out ''\)"):
            call()
    assert list(tmp_path.iterdir()) == []
