"""``latentmix teach``: where it writes, what it refuses, what it keeps, and escaping.

The page's content is tested once per session in tests/teach/; here the command line.
"""

import functools

import numpy as np
import pytest

from latentmix import cli
from latentmix.output import MANIFEST
from latentmix.teach import walkthrough


@pytest.fixture
def small_walkthrough(monkeypatch):
    """The command with few frames and restarts: the same code paths, a shorter render."""
    monkeypatch.setattr(
        walkthrough,
        "build_walkthrough",
        functools.partial(walkthrough.build_walkthrough, max_frames=3, n_restarts=2),
    )


def _markup_csv(path):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(5, 1, (40, 2))])
    header = '"<b>price $</b>","x&y<script>alert(1)</script>"'
    path.write_text(header + "\n" + "\n".join(f"{a},{b}" for a, b in X), encoding="utf-8")
    return path


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.walkthrough
def test_teach_escapes_names_and_a_rerun_keeps_the_users_files(
    tmp_path, monkeypatch, capsys, small_walkthrough
):
    monkeypatch.chdir(tmp_path)
    _markup_csv(tmp_path / "evil.csv")
    # Without --out the walkthrough goes to teach-<data set name>.
    assert cli.main(["teach", "evil.csv", "-k", "2"]) == 0
    out = tmp_path / "teach-evil"
    assert str(out / "index.html") in capsys.readouterr().out
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;price $&lt;/b&gt;" in page
    assert "x&amp;y&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>price" not in page and "<script>alert" not in page
    own = _tree(out)

    # A user's notes beside the page and inside figures/ survive a rerun, as they were.
    (out / "notes.txt").write_text("my notes")
    (out / "figures" / "mine.png").write_bytes(b"not really a png")
    inode = (out / "notes.txt").stat().st_ino
    (out / "index.html").write_text("stale")
    assert cli.main(["teach", "evil.csv", "-k", "2", "--out", "teach-evil"]) == 0
    assert (out / "notes.txt").read_text() == "my notes"
    assert (out / "notes.txt").stat().st_ino == inode
    assert (out / "figures" / "mine.png").read_bytes() == b"not really a png"
    assert "alert" in (out / "index.html").read_text(encoding="utf-8")  # rewritten
    assert _tree(out) == sorted([*own, "notes.txt", "figures/mine.png"])
    # Nothing is left beside the output.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.csv", "teach-evil"]


def test_teach_refuses_a_directory_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "p"
    out.mkdir()
    (out / "thesis.tex").write_text("x")
    assert cli.main(["teach", "faithful", "-k", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "new or empty directory" in err
    assert _tree(tmp_path) == ["p", "p/thesis.tex"]
    assert (out / "thesis.tex").read_text() == "x"


def test_teach_refuses_another_commands_output(tmp_path, capsys):
    from latentmix.output import replace_output

    out = tmp_path / "report"
    with replace_output(out, "report") as staging:
        (staging / "index.html").write_text("a report")
    assert cli.main(["teach", "faithful", "-k", "2", "--out", str(out)]) == 2
    assert "report" in capsys.readouterr().err
    assert (out / "index.html").read_text() == "a report"
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "index.html"]


def test_teach_refuses_a_file_and_leaves_it_where_it_was(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    assert cli.main(["teach", "faithful", "-k", "2", "--out", str(notes)]) == 2
    assert str(notes) in capsys.readouterr().err
    assert notes.read_text() == "keep me"
    assert _tree(tmp_path) == ["notes.txt"]  # no hidden copy beside it


def test_teach_refuses_more_than_two_columns(tmp_path, capsys):
    out = tmp_path / "iris"
    assert cli.main(["teach", "iris", "-k", "3", "--out", str(out)]) == 2
    assert "--columns" in capsys.readouterr().err
    assert not out.exists()


def test_teach_takes_the_shared_options():
    args = cli.build_parser().parse_args(
        ["teach", "faithful", "--components", "2", "--seed", "3", "--columns", "waiting"]
    )
    assert (args.components, args.seed, args.columns, args.out) == (2, 3, "waiting", None)
