"""The one page system: escaping, the shared skeleton and stylesheet, the figure saver."""

from __future__ import annotations

import base64
import io
import re

import jinja2
import matplotlib
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
