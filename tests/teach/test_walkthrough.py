"""The walkthrough directory: its files, the page's sections and numbers, and the manifest."""

import re

import pytest
from PIL import Image

from latentmix.output import MANIFEST, read_manifest

pytestmark = pytest.mark.walkthrough

FIGURES = ["bound", "decomposition", "hard_vs_soft", "mle_vs_map", "restarts_galaxies"]


def test_the_walkthrough_writes_page_frames_gif_and_figures(shared_walkthrough, small_settings):
    out = shared_walkthrough
    frames = sorted((out / "frames").glob("frame_*.png"))
    assert len(frames) == small_settings["max_frames"]
    assert frames[0].name == "frame_000.png"
    with Image.open(out / "walkthrough.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == len(frames)
    for name in FIGURES:
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    # The manifest lists exactly what the command wrote.
    manifest = read_manifest(out)
    assert manifest["command"] == "teach"
    written = {
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != MANIFEST
    }
    assert written == set(manifest["files"])


def test_the_page_is_self_contained_with_every_section(shared_walkthrough, self_contained):
    page = (shared_walkthrough / "index.html").read_text(encoding="utf-8")
    self_contained(page)
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert len(headings) == 6
    for words in ["poor start", "lower bound", "Q + entropy", "k-means", "MAP", "Restarts"]:
        assert any(words in h for h in headings), words
    # One image per frame and per figure; the frames are the player's.
    assert page.count('class="frame"') == 4
    assert page.count("<img") == 4 + len(FIGURES)
    # The page says once how components are numbered, and its tables number them from 1.
    assert page.count("numbered from 1") == 1
    kmeans_table = page[page.index("k-means centre") :].split("</table>")[0]
    assert re.findall(r"<tr><td>(\d+)</td>", kmeans_table) == ["1", "2", "3"]
    # The loop a teacher would write is on the page.
    assert "state, info = em_step(X, state, options)" in page


def test_the_page_prints_the_split_and_the_bound_checks(shared_walkthrough):
    page = (shared_walkthrough / "index.html").read_text(encoding="utf-8")
    # The per-iteration split Q + H - l holds to round-off, in every drawn row.
    gaps = re.findall(r"<td>(-?[0-9.]+e[-+][0-9]+)</td>", page)
    assert len(gaps) == 4 and max(abs(float(g)) for g in gaps) < 1e-9
    assert page.count('<tr class="step">') == 4
    max_gap = float(re.search(r"over the grids of every frame is\s+(\S+)", page).group(1))
    assert max_gap <= 0
