"""The one writer of output directories: every command (report, teach, each study) uses it.

An output directory is recognised by the manifest this module writes into it
(``.latentmix-manifest.json``: the command, the package version and every file and
directory the command wrote). Only those entries are ever replaced or removed; anything
else found inside an earlier output (a user's ``notes.txt`` beside ``index.html``, a file
dropped into ``figures/``) is *foreign* and survives a rerun as the same file (same inode).

How a directory ``out`` is replaced, so that it holds the whole earlier output or the whole
new one at every moment, whatever signal arrives (SIGKILL included):

1. The new files are written into a staging directory beside ``out``
   (``.{name}.latentmix-staging-<token>``) whose manifest is written first, so that a
   leftover is recognisable.
2. The final manifest is written into the staging directory, then every foreign entry of
   ``out`` is hard-linked into it (foreign directories are recreated, their files linked). A
   new file whose path holds a foreign entry is an error, and nothing is written.
3. One ``renameat2(RENAME_EXCHANGE)`` swaps the staging directory and ``out``: the new
   output is in place and the old one sits at the hidden name.
4. The old tree is retired: its own files are removed; a foreign entry that is not the same
   file in the new ``out`` (added or replaced by rename during the run) is moved into ``out``
   if that path is free (or still holds the link this run made, which it then replaces),
   else the old tree is kept and a warning names it. (So a foreign file deleted from ``out``
   while a run is writing comes back: nothing the package did not write is lost.)

Where the file system cannot exchange two names (EINVAL or ENOSYS), ``out`` is renamed to
``.{name}.latentmix-old-<token>`` and the staging directory to ``out``: between those two
renames ``out`` is missing, and the next call (of any command on that ``out``) renames the
old tree back. Every call first cleans such leftovers beside ``out`` (directories named
``.{name}.latentmix-*`` holding this package's manifest, not in use by a live process);
hidden entries without the manifest are never touched.

Public functions: :func:`check_output` (refuse a bad ``out`` before any expensive work),
:func:`replace_output` (the context manager that writes a whole output) and
:func:`claim_output` (a directory that a long study fills file by file).

Examples
--------
>>> import pathlib, shutil, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with replace_output(root / "out", "report") as staging:
...     _ = (staging / "index.html").write_text("first")
>>> _ = (root / "out" / "notes.txt").write_text("a user's notes")
>>> with replace_output(root / "out", "report") as staging:
...     _ = (staging / "index.html").write_text("second")
>>> sorted(p.name for p in (root / "out").iterdir())
['.latentmix-manifest.json', 'index.html', 'notes.txt']
>>> read_manifest(root / "out")["files"]
['index.html']
>>> shutil.rmtree(root)
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import secrets
import stat
import warnings
from pathlib import Path

from latentmix.jsonio import write_json

try:
    import fcntl
except ImportError:  # not POSIX: no locks, and the two-rename fallback
    fcntl = None

__all__ = [
    "MANIFEST",
    "OutputWarning",
    "check_output",
    "claim_output",
    "clean_leftovers",
    "read_manifest",
    "replace_output",
]

MANIFEST = ".latentmix-manifest.json"
WRITTEN_BY = "latentmix"
_STAGING = "staging"
_OLD = "old"
# Test hook: a callable given the name of each step of the swap ("staged", "manifest",
# "linked", "exchanged", "moved-aside", "retiring", "retired"); tests set it in a child
# process that kills itself there.
_hook = None


class OutputWarning(UserWarning):
    """An earlier output could not be retired completely; the message names what is left."""


def _step(name: str) -> None:
    if _hook is not None:
        _hook(name)


def _version() -> str:
    import latentmix

    return latentmix.__version__


# --- the manifest ----------------------------------------------------------------------------


def read_manifest(directory) -> dict | None:
    """The manifest of a directory written by this module, or None.

    A manifest that is missing, unreadable or not written by latentmix counts as none.
    """
    try:
        data = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != WRITTEN_BY:
        return None
    for key in ("files", "directories", "owned"):
        if not isinstance(data.get(key, []), list):
            return None
    return data


def _write_manifest(directory: Path, data: dict) -> None:
    """Write the manifest so that a reader sees the old one or the new one, never half."""
    write_json(directory / MANIFEST, data)


def _manifest(command: str, token: str, state: str, files=(), directories=(), owned=()) -> dict:
    return {
        "written_by": WRITTEN_BY,
        "version": _version(),
        "command": command,
        "state": state,
        "token": token,
        "files": sorted(files),
        "directories": sorted(directories),
        "owned": sorted(owned),
    }


def _is_manifest_file(rel: str) -> bool:
    """The manifest or a temporary file of its atomic write (both at the top level only).

    :func:`latentmix.jsonio.write_json` names its temporary ``.{name}.<random>.tmp``.
    """
    return rel == MANIFEST or (rel.startswith(f".{MANIFEST}.") and rel.endswith(".tmp"))


class _Ownership:
    """Which paths (relative, posix) of a directory the package wrote, from its manifest."""

    def __init__(self, manifest: dict | None):
        manifest = manifest or {}
        self.files = set(manifest.get("files", []))
        self.directories = set(manifest.get("directories", []))
        self.owned = tuple(manifest.get("owned", []))
        self.everything = manifest.get("state") == _STAGING

    def _in_owned(self, rel: str) -> bool:
        return any(rel == o or rel.startswith(o + "/") for o in self.owned)

    def file(self, rel: str) -> bool:
        return self.everything or rel in self.files or self._in_owned(rel)

    def directory(self, rel: str) -> bool:
        return self.everything or rel in self.directories or self._in_owned(rel)


# --- checks ----------------------------------------------------------------------------------


def _absolute(out) -> Path:
    if not os.fspath(out).strip():
        # Path("") is the current directory: an empty --out would write into it.
        raise ValueError(
            "the output path is empty (--out ''); name a new or empty directory, "
            "e.g. --out results."
        )
    out = Path(out).absolute()
    # A symbolic link to a directory stands for that directory: write beside the target, so
    # that the link is not replaced by a directory.
    if out.is_symlink() and out.is_dir():
        out = out.resolve()
    if out.name in ("", ".", ".."):
        raise ValueError(f"{out} cannot be an output directory; choose a new or empty directory.")
    return out


def _describe(out: Path) -> str:
    names = sorted(p.name for p in out.iterdir())
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"{len(names)} entr{'y' if len(names) == 1 else 'ies'} ({shown})"


def _check(out: Path, command: str) -> dict | None:
    """Refuse ``out`` unless it is missing, empty or an output of ``command``; its manifest."""
    if os.path.lexists(out) and not out.is_dir():
        what = "a symbolic link" if out.is_symlink() else "a file"
        raise ValueError(
            f"{out} is {what}, not a directory: a latentmix output is a directory and would "
            "hide it; choose a new or empty directory."
        )
    if not out.exists():
        parent = next((p for p in out.parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK | os.X_OK):
            raise ValueError(
                f"cannot create {out}: {parent} is not writable; choose another path."
            )
        return None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise ValueError(
            f"cannot replace {out}: its parent {out.parent} is not writable; choose another path."
        )
    if os.stat(out).st_dev != os.stat(out.parent).st_dev:
        # The new output is written beside ``out`` and swapped in by a rename, which cannot
        # cross file systems.
        raise ValueError(
            f"{out} is a mount point (another file system than {out.parent}); choose a new or "
            "empty directory inside it."
        )
    manifest = read_manifest(out)
    if manifest is None:
        if any(out.iterdir()):
            raise ValueError(
                f"{out} is a directory that latentmix did not write: it holds {_describe(out)} "
                f"and no {MANIFEST}; nothing there is replaced: choose a new or empty directory."
            )
        return None
    if manifest.get("command") != command:
        # Refused rather than replaced: the other command's output shares names (index.html,
        # figures/) and a study's replicates may be hours of work; writing here would either
        # delete that output or mix two outputs in one directory.
        raise ValueError(
            f"{out} holds the output of `latentmix {manifest.get('command')}`, not of "
            f"`latentmix {command}`; choose a new or empty directory (or delete that output)."
        )
    return manifest


def check_output(out, command: str) -> Path:
    """Check that ``command`` may write its output to ``out``; returns ``out`` as absolute.

    Call it before any expensive work. Accepted: a path that does not exist (it is created
    when the output is complete), an empty directory, or a directory holding the manifest of
    an earlier output of the same ``command``. Leftovers of an interrupted earlier run beside
    ``out`` are cleaned first.

    Parameters
    ----------
    out : str or Path
    command : str
        The command's name as recorded in the manifest, e.g. ``"report"``, ``"teach"``,
        ``"study coverage"``.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        ``out`` is a file, a directory that latentmix did not write (one without the
        manifest, whatever else it holds), the output of another command, or not writable.
        The message names the path, what is there, and the fix.
    """
    out = _absolute(out)
    clean_leftovers(out)
    _check(out, command)
    return out


# --- walking and linking ---------------------------------------------------------------------


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _scan(root: Path) -> tuple[list[str], list[str]]:
    """Files (any non-directory) and directories under ``root``, without the manifest."""
    files, directories = [], []

    def walk(rel: str) -> None:
        with os.scandir(root / rel if rel else root) as entries:
            for entry in entries:
                r = _join(rel, entry.name)
                if not rel and _is_manifest_file(r):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    directories.append(r)
                    walk(r)
                else:
                    files.append(r)

    walk("")
    return sorted(files), sorted(directories)


def _make_dirs(dst_root: Path, rel: str, src_root: Path) -> None:
    """Create ``dst_root/rel`` and its missing parents with the modes of ``src_root/rel``."""
    if not rel:
        return
    path = dst_root
    for i, part in enumerate(rel.split("/")):
        path = path / part
        if not path.is_dir():
            path.mkdir()
            source = src_root.joinpath(*rel.split("/")[: i + 1])
            with contextlib.suppress(OSError):
                os.chmod(path, stat.S_IMODE(os.lstat(source).st_mode))


def _link(src: Path, dst: Path, rel: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as err:
        if err.errno == errno.EXDEV:
            raise ValueError(
                f"{src} is on another file system than the output directory (a mount point "
                "inside it?), so it cannot be kept by a hard link; move it out of the output "
                "directory or choose a new or empty directory."
            ) from None
        raise ValueError(
            f"cannot keep {rel} of the earlier output by a hard link ({err.strerror}); move it "
            "out of the output directory or choose a new or empty directory."
        ) from None


def _collision(out: Path, rel: str, what: str) -> ValueError:
    return ValueError(
        f"the new output would replace {out / rel}, {what} that latentmix did not write; "
        "nothing was written. Move it away or choose a new or empty directory."
    )


def _link_foreign(out: Path, staging: Path, own: _Ownership) -> dict[str, tuple[int, int]]:
    """Hard-link every foreign entry of ``out`` into ``staging``; a clash is a ValueError.

    Returns
    -------
    dict
        (device, inode) of each linked file, by relative path.
    """
    linked = {}

    def walk(rel: str, foreign: bool) -> None:
        with os.scandir(out / rel if rel else out) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                r = _join(rel, entry.name)
                if not rel and _is_manifest_file(r):
                    continue
                target = staging / r
                is_dir = entry.is_dir(follow_symlinks=False)
                what = "a directory" if is_dir else "a file"
                if is_dir:
                    theirs = foreign or not own.directory(r)
                    if not theirs:
                        walk(r, False)
                        continue
                    if os.path.lexists(target) and not target.is_dir():
                        raise _collision(out, r, what)
                elif not foreign and own.file(r):
                    continue
                elif os.path.lexists(target):
                    raise _collision(out, r, what)
                try:
                    # A file of the new output where a directory on the way must be.
                    _make_dirs(staging, r if is_dir else rel, out)
                except (FileExistsError, NotADirectoryError):
                    raise _collision(out, r, what) from None
                if is_dir:
                    walk(r, True)
                else:
                    _link(Path(entry.path), target, r)
                    info = os.lstat(target)
                    linked[r] = (info.st_dev, info.st_ino)

    walk("", False)
    return linked


def _link_kept(out: Path, staging: Path, own: _Ownership, keep) -> set[str]:
    """Hard-link the package's own entries ``keep`` of ``out`` into ``staging``.

    Returns the kept entries declared owned in the earlier manifest (see :func:`claim_output`);
    they stay owned in the result.
    """
    kept_owned = set()
    for rel in keep:
        rel = Path(rel).as_posix().strip("/")
        source = out / rel
        if not os.path.lexists(source):
            continue
        if source.is_dir() and not source.is_symlink():
            if not own.directory(rel):
                raise ValueError(f"cannot keep {source}: latentmix did not write it.")
            if rel in own.owned:
                kept_owned.add(rel)
            files, directories = _scan(source)
            _make_dirs(staging, rel, out)
            for d in directories:
                if own.directory(f"{rel}/{d}"):
                    _make_dirs(staging, f"{rel}/{d}", out)
            for f in files:
                if own.file(f"{rel}/{f}"):
                    parent = f"{rel}/{f}".rpartition("/")[0]
                    _make_dirs(staging, parent, out)
                    _link(source / f, staging / rel / f, f"{rel}/{f}")
        else:
            if not own.file(rel):
                raise ValueError(f"cannot keep {source}: latentmix did not write it.")
            if rel in own.owned:
                kept_owned.add(rel)
            if "/" in rel:
                _make_dirs(staging, rel.rpartition("/")[0], out)
            _link(source, staging / rel, rel)
    return kept_owned


# --- retiring a tree -------------------------------------------------------------------------


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _same_file(a: Path, b: Path) -> bool:
    return _inode(a) is not None and _inode(a) == _inode(b)


def _retire(tree: Path, out: Path | None, linked=None) -> bool:
    """Remove ``tree`` (a directory holding a manifest), keeping every foreign entry.

    The package's own entries are removed. A foreign entry that is the same file at the same
    path in ``out`` is a spare hard link and removed too; one whose path in ``out`` is free is
    moved there. If a foreign entry's path in ``out`` holds another file, ``tree`` is kept
    (with its manifest, so that a later run tries again) and a warning names both, unless
    ``out`` still holds the very file linked there from ``tree`` (``linked``, by the same
    run): then the file in ``tree`` replaced it by rename during the run and is the newer
    one, so it takes that path.

    Returns
    -------
    bool
        True if ``tree`` is gone.
    """
    own = _Ownership(read_manifest(tree))
    linked = linked or {}
    kept: list[str] = []
    first = [True]

    def move(path: Path, rel: str, r: str) -> bool:
        """Move ``path`` to ``out / r``; False if a file of ``out`` is in the way."""
        try:
            _make_dirs(out, rel, tree)
            os.rename(path, out / r)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            return False
        return True

    def walk(rel: str, foreign: bool) -> None:
        with os.scandir(tree / rel if rel else tree) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                r = _join(rel, entry.name)
                if not rel and _is_manifest_file(r):
                    if r != MANIFEST:
                        os.unlink(entry.path)
                    continue
                path = Path(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    theirs = foreign or not own.directory(r)
                    free = out is not None and not os.path.lexists(out / r)
                    # A whole foreign directory the new output lacks: move it as one.
                    if theirs and free and move(path, rel, r):
                        continue
                    walk(r, theirs)
                    with contextlib.suppress(OSError):
                        path.rmdir()  # fails when something is kept inside
                elif (not foreign and own.file(r)) or (
                    out is not None and _same_file(path, out / r)
                ):
                    # Own, or a spare hard link of the same file in ``out``.
                    path.unlink()
                elif out is not None and not os.path.lexists(out / r) and move(path, rel, r):
                    pass
                elif out is not None and r in linked and _inode(out / r) == linked[r]:
                    os.replace(path, out / r)
                else:
                    kept.append(r)
                if first[0]:
                    first[0] = False
                    _step("retiring")

    walk("", False)
    if kept:
        listed = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
        warnings.warn(
            f"kept {tree}: it holds files that are not in {out} and whose paths there hold "
            f"other files ({listed}); look through it and delete it when done.",
            OutputWarning,
            stacklevel=3,
        )
        return False
    (tree / MANIFEST).unlink(missing_ok=True)
    tree.rmdir()
    _step("retired")
    return True


# --- leftovers and locks ---------------------------------------------------------------------


def _lock(path: Path) -> int | None:
    """An exclusive lock on a directory, held until the descriptor is closed; None if taken.

    Held by a writer on its staging directory and on the earlier output it replaces, so that
    another run's cleaning never touches a tree in use; the kernel drops it when the process
    dies, whatever the signal. Where there are no such locks, -1 (taken at once).
    """
    if fcntl is None or not hasattr(os, "O_DIRECTORY"):
        return -1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _leftovers(out: Path) -> list[Path]:
    prefix = f".{out.name}.latentmix-"
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return []
    return sorted(
        p
        for p in entries
        if p.name.startswith(prefix)
        and p.is_dir()
        and not p.is_symlink()
        and read_manifest(p) is not None
    )


def clean_leftovers(out) -> None:
    """Restore or remove what an interrupted run left beside ``out``.

    Directories named ``.{name}.latentmix-*`` that hold the package's manifest and are not
    locked by a live run: if ``out`` is missing, the most recent earlier output among them
    (one kept by the two-rename fallback or swapped out by an exchange) is renamed back to
    ``out``; every other one is retired (foreign files moved into ``out``, the rest removed).
    """
    out = _absolute(out)
    locks = {}
    try:
        for tree in _leftovers(out):
            fd = _lock(tree)
            if fd is not None:
                locks[tree] = fd
        trees = list(locks)
        if not os.path.lexists(out):
            earlier = [
                t for t in trees if read_manifest(t).get("state") != _STAGING and _is_old(t)
            ]
            if earlier:
                newest = max(earlier, key=lambda t: (t / MANIFEST).stat().st_mtime)
                os.rename(newest, out)
                trees.remove(newest)
        for tree in trees:
            _retire(tree, out if out.is_dir() else None)
    finally:
        for fd in locks.values():
            if fd >= 0:
                os.close(fd)


def _is_old(tree: Path) -> bool:
    """True for an earlier output at a hidden name (not the staging tree of the same run)."""
    manifest = read_manifest(tree) or {}
    return not tree.name.endswith(f"-{manifest.get('token')}") or f"-{_OLD}-" in tree.name


# --- renames ---------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); OSError if not."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))


def _new_tree(out: Path, role: str) -> tuple[Path, str]:
    """A new directory ``.{name}.latentmix-{role}-<token>`` beside ``out`` (umask modes)."""
    while True:
        token = secrets.token_hex(6)
        path = out.parent / f".{out.name}.latentmix-{role}-{token}"
        try:
            path.mkdir()  # mode 0o777 minus the umask, unlike mkdtemp's private 0o700
        except FileExistsError:
            continue
        return path, token


# --- writing ---------------------------------------------------------------------------------


@contextlib.contextmanager
def replace_output(out, command: str, keep=()):
    """Write a whole output of ``command`` to ``out``, replacing only the earlier one's files.

    The block writes every file of the new output into the yielded staging directory. On
    normal exit the staging directory becomes ``out`` (see the module docstring for the
    steps); on an exception (KeyboardInterrupt and SystemExit included) it is removed and
    ``out`` is left as it was. A kill at any moment leaves ``out`` holding the whole earlier
    output or the whole new one, and the next call cleans up.

    Parameters
    ----------
    out : str or Path
        Checked as by :func:`check_output`.
    command : str
        Recorded in the manifest; an output of another command is refused.
    keep : iterable of str
        Relative paths of the earlier output's own entries to carry over unchanged (by hard
        link, before the block runs, so the block can read them in the staging directory):
        a study keeps ``("replicates", "study.json")`` when it renders its pages again. Do
        not write into a kept file in place (that would change the earlier output too):
        replace it. Missing entries are skipped.

    Yields
    ------
    Path
        The staging directory; the manifest of the result lists every file in it when the
        block ends (kept ones included).

    Raises
    ------
    ValueError
        As :func:`check_output`; also, when the block is done, if a new file's path holds a
        file or directory that latentmix did not write in the earlier output (nothing is
        written then), or if a foreign entry cannot be hard-linked (another file system).
    """
    out = _absolute(out)
    clean_leftovers(out)
    manifest = _check(out, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging, token = _new_tree(out, _STAGING)
    locks = [_lock(staging)]
    swapped = False  # True once ``out`` holds the new output
    aside = None  # the earlier output, renamed aside by the two-rename fallback
    try:
        _write_manifest(staging, _manifest(command, token, _STAGING))
        owned = set()
        if manifest is not None and keep:
            owned = _link_kept(out, staging, _Ownership(manifest), keep)
        yield staging
        _step("staged")
        # The earlier output may have changed during the block: check it again.
        manifest = _check(out, command)
        files, directories = _scan(staging)
        _write_manifest(staging, _manifest(command, token, "complete", files, directories, owned))
        _step("manifest")
        if not out.exists():
            os.rename(staging, out)
            swapped = True
            _step("exchanged")
            return
        linked = _link_foreign(out, staging, _Ownership(manifest))
        _step("linked")
        with contextlib.suppress(OSError):
            os.chmod(staging, stat.S_IMODE(os.stat(out).st_mode))
        locks.append(_lock(out))
        try:
            _exchange(staging, out)
            swapped = True
            old = staging  # the hidden name now holds the earlier output
        except OSError as err:
            if err.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
                raise
            # Two renames: between them ``out`` is missing; an exception puts the earlier
            # output back, and after a kill the next call renames it back.
            old, _ = _new_tree(out, _OLD)
            os.rename(out, old)
            aside = old
            _step("moved-aside")
            os.rename(staging, out)
            swapped = True
        _step("exchanged")
        _retire(old, out, linked)
    except BaseException:
        if not swapped:
            if aside is not None and not os.path.lexists(out):
                os.rename(aside, out)
            if staging.exists():
                _retire(staging, out if out.is_dir() else None)
        raise
    finally:
        for fd in locks:
            if fd is not None and fd >= 0:
                os.close(fd)


def claim_output(out, command: str, owned=()) -> Path:
    """Make ``out`` an output directory of ``command`` that is filled file by file.

    For a study that writes its replicate files into ``out`` over hours (each one atomically)
    and renders its pages at the end with :func:`replace_output` and ``keep``. A new or empty
    ``out`` is created with a manifest; an earlier output of the same command is accepted and
    its manifest extended by ``owned``.

    Parameters
    ----------
    out : str or Path
        Checked as by :func:`check_output`.
    command : str
    owned : iterable of str
        Relative paths (files or directories) that the command writes itself, e.g.
        ``("replicates", "study.json")``: everything at or under them counts as the
        package's own (the command creates them).

    Returns
    -------
    Path
        ``out``, absolute.
    """
    out = check_output(out, command)
    manifest = _check(out, command)
    owned = {Path(o).as_posix().strip("/") for o in owned}
    out.mkdir(parents=True, exist_ok=True)
    if manifest is None:
        manifest = _manifest(command, secrets.token_hex(6), "complete")
    new_owned = set(manifest.get("owned", [])) | owned
    if manifest.get("owned") != sorted(new_owned) or not (out / MANIFEST).exists():
        manifest["owned"] = sorted(new_owned)
        manifest["version"] = _version()
        _write_manifest(out, manifest)
    return out
