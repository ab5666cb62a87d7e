"""``latentmix teach``: the files it writes, self-containment, escaping, atomic replacement."""

import re

import numpy as np
import pytest
from PIL import Image

from latentmix import cli
from latentmix.teach import walkthrough


@pytest.fixture(autouse=True)
def small_walkthrough(monkeypatch):
    # Fewer frames and restarts keep the test fast; the code paths are the same.
    monkeypatch.setattr(walkthrough, "MAX_FRAMES", 4)
    monkeypatch.setattr(walkthrough, "RESTART_STARTS", 2)


def _assert_self_contained(page: str):
    assert "data:image/png;base64," in page
    srcs = re.findall(r'src="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in page
    assert "http://" not in page and "https://" not in page


def test_teach_house_prices_writes_page_frames_and_gif(tmp_path, capsys):
    out = tmp_path / "hp"
    assert cli.main(["teach", "house_prices", "-k", "3", "--out", str(out)]) == 0
    assert "index.html" in capsys.readouterr().out
    frames = sorted((out / "frames").glob("frame_*.png"))
    assert len(frames) == 4
    assert frames[0].name == "frame_000.png"
    with Image.open(out / "walkthrough.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == 4
    for name in ["bound", "decomposition", "hard_vs_soft", "mle_vs_map", "restarts_galaxies"]:
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    page = (out / "index.html").read_text(encoding="utf-8")
    _assert_self_contained(page)
    for heading in ["poor start", "lower bound", "Q + entropy", "k-means", "MAP", "Restarts"]:
        assert heading in page
    # The per-iteration split is printed and holds to round-off.
    gaps = re.findall(r"<td>(-?[0-9.]+e[-+][0-9]+)</td>", page)
    assert gaps and max(abs(float(g)) for g in gaps) < 1e-9
    # Nothing left behind next to the output.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hp"]


def test_teach_escapes_column_names_and_replaces_the_old_output(tmp_path):
    csv = tmp_path / "evil.csv"
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(5, 1, (40, 2))])
    header = '"<b>price $</b>","x&y<script>alert(1)</script>"'
    csv.write_text(header + "\n" + "\n".join(f"{a},{b}" for a, b in X), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    assert cli.main(["teach", str(csv), "-k", "2", "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    _assert_self_contained(page)
    assert "&lt;b&gt;price $&lt;/b&gt;" in page
    assert "x&amp;y&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>price" not in page and "<script>alert" not in page
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.csv", "out"]


def test_teach_refuses_more_than_two_columns(tmp_path, capsys):
    out = tmp_path / "iris"
    assert cli.main(["teach", "iris", "-k", "3", "--out", str(out)]) == 2
    assert "--columns" in capsys.readouterr().err
    assert not out.exists()
