"""The one page system: escaping, the shared skeleton and stylesheet, the figure saver."""

from __future__ import annotations

import base64
import io
import re

import jinja2
import matplotlib
import numpy as np
import pytest
from markupsafe import Markup

from latentmix import pages

matplotlib.use("Agg")

HOSTILE = "<script>alert(\"x\")</script> & 'quoted' | *star* _under_ `tick` [link](u) #h"


def _environment_with(templates: dict[str, str], which: int) -> jinja2.Environment:
    """A copy of the package's environment that also finds ``templates`` (child pages)."""
    env = pages.environments()[which].overlay(
        loader=jinja2.ChoiceLoader(
            [jinja2.DictLoader(templates), pages.environments()[which].loader]
        )
    )
    return env


def test_html_escapes_user_text():
    page = pages.render_html("base.html.j2", title=HOSTILE)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;quoted&#39;" in page
    assert page.count("&lt;script&gt;") == 2  # <title> and <h1>


def test_html_child_template_escapes_values_and_keeps_markup():
    env = _environment_with(
        {
            "child.html.j2": '{% extends "base.html.j2" %}'
            '{% from "macros.html.j2" import table, figure %}'
            "{% block content %}<p>{{ text }}</p>{{ raw }}"
            '{{ table(["a", head], [[text, fmt(0.123456)]], class="labelled") }}'
            "{{ figure(uri, text) }}{% endblock %}"
        },
        0,
    )
    page = env.get_template("child.html.j2").render(
        title="t", text=HOSTILE, raw=Markup("<b>bold</b>"), head="<i>", uri=pages.data_uri(b"x")
    )
    assert "<script>" not in page
    assert "<b>bold</b>" in page
    assert "<th>&lt;i&gt;</th>" in page
    assert "<td>0.1235</td>" in page
    assert '<img alt="&lt;script&gt;' in page
    assert 'src="data:image/png;base64,eA=="' in page


def test_markdown_escapes_user_text():
    text = pages.markdown_escape(HOSTILE)
    assert "<script>" not in text
    assert r"\| \*star\* \_under\_ \`tick\` \[link\](u) \#h" in text
    assert pages.markdown_escape("two\nlines") == "two lines"
    md = pages.render_markdown("base.md.j2", title=HOSTILE)
    assert md.startswith("# &lt;script&gt;")
    assert r"\*star\*" in md


def test_markdown_table_cells_cannot_break_the_table():
    env = _environment_with(
        {"child.md.j2": "{{ table(['a', 'b'], rows) }}\n{{ figure('f/a_b.png', '*c*') }}"}, 1
    )
    text = env.get_template("child.md.j2").render(rows=[["x|y", "1\n2"], ["*", "`"]])
    lines = text.strip().splitlines()
    assert lines[:4] == ["| a | b |", "|---|---|", r"| x\|y | 1 2 |", r"| \* | \` |"]
    assert lines[4:] == ["", r"![\*c\*](f/a_b.png)", "", r"*\*c\**"]


def test_markdown_filters():
    env = _environment_with({"f.md.j2": "{{ a|code }} {{ b|flag(True) }} {{ b|flag(False) }}"}, 1)
    text = env.get_template("f.md.j2").render(a="x ``` y", b="1.2*")
    assert "```" not in text
    assert text == "x \u02cb\u02cb\u02cb y **1.2\\*†** 1.2\\*"


def test_undefined_variables_are_errors():
    with pytest.raises(jinja2.UndefinedError):
        pages.render_html("base.html.j2")


def test_base_template_inlines_the_stylesheet_and_loads_nothing():
    page = pages.render_html("base.html.j2", title="x")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in page
    assert 'name="viewport"' in page
    css = str(pages.stylesheet())
    assert "border-collapse" in css and ".frame.on" in css and ".warn" in css
    assert css in page
    # One file: no link, script or image from elsewhere.
    assert not re.search(r"(href|src)=|https?://|@import|url\(", page)
    assert "<footer>Written by latentmix" in page


def test_save_figure_writes_a_reproducible_png_and_closes_the_figure(tmp_path):
    import matplotlib.pyplot as plt
    from PIL import Image

    def draw():
        fig = plt.figure(figsize=(2, 1.5))
        fig.gca().plot([0, 1, 2], [1, 0, 1])
        return fig

    fig = draw()
    path = pages.save_figure(fig, tmp_path / "sub" / "a.png")
    assert not plt.fignum_exists(fig.number)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    assert image.size == (220, 165)  # 2 x 1.5 inches at 110 dpi
    assert image.mode == "P"  # a palette image
    assert b"matplotlib" not in data  # no Software metadata
    assert pages.figure_png(draw()) == data
    full = Image.open(io.BytesIO(pages.figure_png(draw(), dpi=50, colours=None)))
    assert full.mode == "RGB" and full.size == (100, 75)


def test_figure_png_of_a_plain_figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1])
    assert pages.figure_png(fig, dpi=40).startswith(b"\x89PNG")


def test_data_uri_round_trip(tmp_path):
    data = bytes(range(256))
    uri = pages.data_uri(data)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == data
    (tmp_path / "f.png").write_bytes(data)
    assert pages.data_uri(tmp_path / "f.png") == uri
    assert pages.data_uri(b"", "image/gif") == "data:image/gif;base64,"


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        ((1234.5678,), {}, "1235"),
        ((0.000123456,), {}, "0.0001235"),
        ((2.5, 3), {"fixed": True}, "2.500"),
        ((None,), {}, "—"),
        ((float("inf"),), {}, "—"),
        ((float("nan"),), {"missing": ""}, ""),
        ((7,), {}, "7"),
        ((False,), {}, "no"),
        (("text",), {}, "text"),
    ],
)
def test_fmt(args, kwargs, text):
    assert pages.fmt(*args, **kwargs) == text


def test_fmt_numpy():
    import numpy as np

    assert pages.fmt(np.float32(0.5)) == "0.5"
    assert pages.fmt(np.int64(3)) == "3"
    assert pages.fmt(np.bool_(True)) == "yes"
    assert pages.fmt(np.array(np.nan)) == "—"


def test_every_template_of_the_package_compiles():
    from importlib import resources

    folder = resources.files("latentmix.pages").joinpath("templates")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".j2"))
    assert {"base.html.j2", "base.md.j2", "macros.html.j2"} <= set(names)
    env_html, env_md = pages.environments()
    for name in names:
        env = env_md if name.endswith(".md.j2") else env_html
        env.get_template(name)  # a syntax error raises here


# --- exact colours ---------------------------------------------------------------------------

#: Colours of the report's points (ColorBrewer Dark2): the green was drawn brown in legends.
PLOTTED = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"]


def _legend_figure():
    """Semi-transparent points of five colours, many faint lines, a legend of markers + a line.

    Returns the figure and the legend handles' boxes in pixels at pages.DPI (y from the top).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    rng = np.random.default_rng(0)
    fig = Figure(figsize=(7.5, 5.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for k, colour in enumerate(PLOTTED):
        points = rng.normal(size=(150, 2)) + 3 * k
        ax.scatter(points[:, 0], points[:, 1], s=9, color=colour, alpha=0.55, linewidths=0)
    t = np.linspace(0, 2 * np.pi, 200)
    for s in range(40):  # a posterior cloud: hundreds of blended colours
        ax.plot(np.cos(t) * (1 + s / 20) + 6, 2 * np.sin(t) + 6, color="#3182bd", alpha=0.18)
    ax.plot([0, 12], [0, 12], color="#e41a1c", lw=2)
    handles = [
        Line2D([], [], marker="o", linestyle="", color=c, label=f"points of component {k + 1}")
        for k, c in enumerate(PLOTTED)
    ] + [Line2D([], [], color="#e41a1c", lw=2, label="MAP")]
    legend = ax.legend(handles=handles, frameon=False, fontsize=8, loc="upper left")
    fig.set_dpi(pages.DPI)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    height = fig.bbox.height
    boxes = []
    for handle in legend.legend_handles:
        b = handle.get_window_extent(renderer)
        boxes.append((int(height - b.y1), int(np.ceil(height - b.y0)), int(b.x0), int(b.x1) + 1))
    return fig, boxes


def _rgb(colour) -> np.ndarray:
    from matplotlib.colors import to_rgb

    return np.round(np.array(to_rgb(colour)) * 255).astype(int)


def test_legend_colours_of_a_saved_figure_are_the_plotted_colours():
    from PIL import Image

    fig, boxes = _legend_figure()
    image = Image.open(io.BytesIO(pages.figure_png(fig)))
    assert image.mode == "P"
    pixels = np.asarray(image.convert("RGB")).astype(int)
    for (top, bottom, left, right), colour in zip(boxes, [*PLOTTED, "#e41a1c"], strict=True):
        box = pixels[top:bottom, left:right].reshape(-1, 3)
        exact = (box == _rgb(colour)).all(axis=1).sum()
        # A 6-point marker at 110 dpi has ~60 pixels of its own colour; the line ~30.
        assert exact >= 20, (colour, exact, np.unique(box, axis=0)[:5])


def test_the_old_median_cut_changed_those_colours():
    # The regression the palette fixes: median cut over the same figure loses every one.
    from PIL import Image

    fig, boxes = _legend_figure()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=pages.DPI, format="png", facecolor="white")
    cut = Image.open(buffer).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    pixels = np.asarray(cut.convert("RGB")).astype(int)
    top, bottom, left, right = boxes[PLOTTED.index("#66a61e")]
    box = pixels[top:bottom, left:right].reshape(-1, 3)
    assert not (box == _rgb("#66a61e")).all(axis=1).any()


def test_a_figure_with_few_colours_is_stored_losslessly():
    from matplotlib.figure import Figure
    from PIL import Image

    def draw():
        fig = Figure(figsize=(2, 1.5))
        ax = fig.add_subplot()
        ax.plot([0, 1, 2], [1, 0, 1], color="#66a61e")  # green blended into white only
        ax.set_axis_off()
        return fig

    full = np.asarray(Image.open(io.BytesIO(pages.figure_png(draw(), colours=None))))
    small = np.asarray(Image.open(io.BytesIO(pages.figure_png(draw()))).convert("RGB"))
    assert len(np.unique(full.reshape(-1, 3), axis=0)) <= pages.COLOURS
    np.testing.assert_array_equal(small, full)


def test_common_palette_keeps_flat_colours_and_maps_the_rest_to_the_nearest():
    from PIL import Image

    # 300 distinct greys in single pixels (edge-like) and two flat squares of rare colours.
    grey = np.repeat(np.arange(300) % 256, 3).reshape(1, 300, 3).astype(np.uint8)
    image = np.full((20, 300, 3), 255, np.uint8)
    image[0] = grey
    image[5:10, 10:15] = (102, 166, 30)
    image[5:10, 30:35] = (231, 41, 138)
    pil = Image.fromarray(image)
    palette = pages.common_palette([pil], 16)
    assert len(palette) == 16
    kept = {tuple(c) for c in palette.tolist()}
    assert {(102, 166, 30), (231, 41, 138), (255, 255, 255)} <= kept
    back = np.asarray(pages.to_palette(pil, palette).convert("RGB")).astype(int)
    np.testing.assert_array_equal(back[1:], image[1:])  # every flat colour exact
    nearest = ((image[0][:, None, :].astype(int) - palette[None].astype(int)) ** 2).sum(-1)
    np.testing.assert_array_equal(back[0], palette[nearest.argmin(1)])
    with pytest.raises(ValueError, match="between 1 and 256"):
        pages.common_palette([pil], 300)
