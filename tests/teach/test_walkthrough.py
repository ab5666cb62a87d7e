"""The walkthrough directory: its files, the page's sections and numbers, and the manifest."""

import re

import pytest
from PIL import Image

from latentmix.datasets import load
from latentmix.output import MANIFEST, read_manifest
from latentmix.teach.walkthrough import build_walkthrough

FIGURES = ["bound", "decomposition", "hard_vs_soft", "mle_vs_map", "restarts_galaxies"]


@pytest.mark.walkthrough
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


@pytest.mark.walkthrough
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


@pytest.mark.walkthrough
def test_the_page_prints_the_split_and_the_bound_checks(shared_walkthrough):
    page = (shared_walkthrough / "index.html").read_text(encoding="utf-8")
    # The per-iteration split Q + H - l holds to round-off, in every drawn row.
    gaps = re.findall(r"<td>(-?[0-9.]+e[-+][0-9]+)</td>", page)
    assert len(gaps) == 4 and max(abs(float(g)) for g in gaps) < 1e-9
    assert page.count('<tr class="step">') == 4
    max_gap = float(re.search(r"over the grids of every frame is\s+(\S+)", page).group(1))
    assert max_gap <= 0


def test_build_walkthrough_refuses_a_foreign_directory_before_any_work(tmp_path, monkeypatch):
    from latentmix.teach import examples

    def no_run(*args, **kwargs):
        raise AssertionError("EM ran before the output was checked")

    monkeypatch.setattr(examples, "run_from", no_run)
    (tmp_path / "thesis.tex").write_text("x")
    with pytest.raises(ValueError, match="new or empty directory"):
        build_walkthrough(load("faithful"), 2, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


@pytest.fixture(scope="module")
def faithful_walkthrough(tmp_path_factory, small_settings):
    """Old Faithful (2-D, K = 2), rendered small once for this module."""
    out = tmp_path_factory.mktemp("walkthrough") / "faithful"
    return build_walkthrough(load("faithful"), 2, out, random_state=0, **small_settings)


@pytest.mark.walkthrough
def test_a_2d_page_draws_the_bound_along_the_whole_step(faithful_walkthrough, self_contained):
    page = (faithful_walkthrough / "index.html").read_text(encoding="utf-8")
    self_contained(page)
    section = page[page.index("2. The lower bound") : page.index("3. Log-likelihood")]
    assert "<img" in section and "straight line through the whole step" in section
    numbers = re.search(
        r"along the line at every drawn iteration is\s+(\S+) .*? at most\s+(\S+);"
        r".*?by at\s+most (\S+) \(round-off\)",
        section,
        re.S,
    )
    max_gap, touch, peak = (float(g) for g in numbers.groups())
    assert max_gap <= 1e-9 and touch < 1e-9 and peak < 1e-9
    with Image.open(faithful_walkthrough / "figures" / "bound.png") as image:
        assert image.width > 600


@pytest.mark.walkthrough
@pytest.mark.parametrize("which", ["faithful", "houses"])
def test_the_frames_are_explained_and_shown_at_their_natural_size(
    which, faithful_walkthrough, shared_walkthrough
):
    out = faithful_walkthrough if which == "faithful" else shared_walkthrough
    page = (out / "index.html").read_text(encoding="utf-8")
    assert ".frame img { width: auto; }" in page
    note = page[page.index('<p class="note">Left:') :].split("</p>")[0]
    if which == "faithful":
        assert "<b>solid</b> ellipse is one standard deviation" in note
        assert "<b>dotted</b>" in note and "two standard deviations" in note
        assert "2 features (" in page
    else:
        assert "dashed black: their sum" in note
        assert "1 feature (" in page
    # 96 dpi: one image pixel per CSS pixel; 10.5 x 3.6 inches.
    with Image.open(sorted((out / "frames").glob("*.png"))[0]) as frame:
        assert frame.size[0] == 1008 and abs(frame.size[1] - 346) <= 1
