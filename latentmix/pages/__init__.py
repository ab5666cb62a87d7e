"""Every page the package writes: one Jinja environment per format, one stylesheet, one saver.

Templates live in ``latentmix/pages/templates/`` (the report's, the walkthrough's and the
studies' pages, each extending ``base.html.j2`` or ``base.md.j2``); the stylesheet
``static/style.css`` is inlined into every HTML page, so a page opens from disk as one file.

* :func:`render_html`: autoescaping on; every value from user data is escaped unless it is
  :class:`markupsafe.Markup`.
* :func:`render_markdown`: every printed value goes through :func:`markdown_escape` unless it
  is Markup; filters ``code`` (text for a fenced code block) and ``flag`` (bold with a
  dagger); globals ``table(headers, rows)`` and ``figure(path, caption)``. HTML templates get
  the same two from ``{% from "macros.html.j2" import table, figure %}``.
* Both environments have the filter and global ``fmt`` (:func:`fmt`), the global ``version``
  and undefined variables are errors.
* :func:`save_figure` and :func:`figure_png`: the one way a matplotlib figure becomes a PNG
  (a palette image without metadata, so the bytes depend on the figure only);
  :func:`data_uri` embeds one.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import re
from importlib import resources
from pathlib import Path

from markupsafe import Markup

__all__ = [
    "data_uri",
    "figure_png",
    "fmt",
    "markdown_escape",
    "render_html",
    "render_markdown",
    "save_figure",
    "stylesheet",
]

DPI = 110
COLOURS = 256
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


# --- text ------------------------------------------------------------------------------------


def markdown_escape(value) -> str:
    r"""Text safe inside Markdown (and the HTML it becomes).

    Entities for ``<``, ``>`` and ``&``; a backslash before each of ``\ ` * _ [ ] | #``; a
    newline becomes a space (so a value cannot end a table row or start a heading).

    Examples
    --------
    >>> print(markdown_escape("a|b *c* <d>"))
    a\|b \*c\* &lt;d&gt;
    """
    text = html.escape(str(value), quote=False).replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def fmt(value, digits: int = 4, *, fixed: bool = False, missing: str = "—") -> str:
    """A number as a table shows it.

    Parameters
    ----------
    value : float, int, bool, str or None
        Numpy scalars and 0-d arrays too.
    digits : int
        Significant digits (``fixed=False``) or digits after the point (``fixed=True``).
    fixed : bool
        Fixed-point (``"%.{digits}f"``) rather than significant digits (``"%.{digits}g"``).
    missing : str
        Shown for None, NaN and infinities.

    Returns
    -------
    str
        Booleans as "yes"/"no", integers in full, strings unchanged.

    Examples
    --------
    >>> fmt(3.14159), fmt(3.14159, 2, fixed=True), fmt(None), fmt(float("nan"), missing="-")
    ('3.142', '3.14', '—', '-')
    >>> fmt(12), fmt(True), fmt("n/a")
    ('12', 'yes', 'n/a')
    """
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy scalar or 0-d array
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(value):
        return missing
    return f"{value:.{digits}{'f' if fixed else 'g'}}"


# --- figures ---------------------------------------------------------------------------------


def figure_png(fig, *, dpi: int = DPI, colours: int | None = COLOURS, close: bool = True) -> bytes:
    """A matplotlib figure as PNG bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int
    colours : int or None
        Size of the palette the image is reduced to (median cut, no dithering). Plots use
        few colours: a palette image is about a third of the full-colour size, which matters
        because pages embed their figures and example outputs are committed. None keeps full
        colour.
    close : bool
        Close the figure if pyplot manages it (a plain ``Figure`` needs no closing).

    Returns
    -------
    bytes
        A PNG without text metadata (no software version), so equal figures give equal bytes.
    """
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png", facecolor="white")
    if close:
        _close(fig)
    image = Image.open(buffer).convert("RGB")
    if colours is not None:
        image = image.quantize(
            colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    out = io.BytesIO()
    # Re-saving through PIL drops matplotlib's text chunks (Software, with its version).
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def save_figure(fig, path, *, dpi: int = DPI, colours: int | None = COLOURS) -> Path:
    """Write a matplotlib figure as PNG (see :func:`figure_png`) and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        Its parent directory is created if missing.
    dpi : int
    colours : int or None

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    data = figure_png(fig, dpi=dpi, colours=colours)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _close(fig) -> None:
    manager = getattr(fig.canvas, "manager", None)
    if manager is not None:  # made by pyplot: it keeps a reference until closed
        import matplotlib.pyplot as plt

        plt.close(fig)


def data_uri(image, mime: str = "image/png") -> str:
    """A ``data:`` URI embedding an image (a path to a file, or its bytes)."""
    data = image if isinstance(image, bytes | bytearray) else Path(image).read_bytes()
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


# --- templates -------------------------------------------------------------------------------


@functools.cache
def stylesheet() -> Markup:
    """The package's one stylesheet (``static/style.css``), ready to inline."""
    css = resources.files("latentmix.pages").joinpath("static", "style.css").read_text("utf-8")
    return Markup(css)


def _code(value) -> Markup:
    # Inside a fenced code block nothing is interpreted but a fence: break any backtick run.
    return Markup(str(value).replace("`", "\u02cb"))


def _flag(value, bad) -> Markup | str:
    """In Markdown, a value to notice: bold with a dagger when ``bad``."""
    return Markup(f"**{markdown_escape(value)}†**") if bad else value


def markdown_table(headers, rows) -> Markup:
    """A Markdown table; every header and cell escaped (a ``|`` or newline cannot break it).

    In Markdown templates: ``{{ table(headers, rows) }}``.
    """
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
    lines.append("|" + "---|" * len(headers))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return Markup("\n".join(lines) + "\n")


def markdown_figure(path, caption) -> Markup:
    """A Markdown image with its caption below; ``path`` relative to the page.

    In Markdown templates: ``{{ figure(path, caption) }}``.
    """
    caption = markdown_escape(caption)
    return Markup(f"![{caption}]({Path(path).as_posix()})\n\n*{caption}*\n")


def _md_cell(value) -> str:
    return value if isinstance(value, Markup) else markdown_escape(value)


def _md_finalize(value):
    return value if isinstance(value, Markup) else markdown_escape(value)


@functools.cache
def environments():
    """The two Jinja environments: ``(html, markdown)``, made once."""
    import jinja2

    from latentmix import __version__

    loader = jinja2.PackageLoader("latentmix.pages", "templates")
    common = {
        "loader": loader,
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    env_html = jinja2.Environment(autoescape=True, **common)
    env_md = jinja2.Environment(autoescape=False, finalize=_md_finalize, **common)
    for env in (env_html, env_md):
        env.filters["fmt"] = fmt
        env.globals["fmt"] = fmt
        env.globals["version"] = __version__
    env_html.globals["stylesheet"] = stylesheet
    env_html.filters["data_uri"] = data_uri
    env_md.filters["code"] = _code
    env_md.filters["flag"] = _flag
    env_md.globals["table"] = markdown_table
    env_md.globals["figure"] = markdown_figure
    return env_html, env_md


def render_html(template: str, **context) -> str:
    """Render ``templates/<template>`` as HTML (autoescaped).

    Examples
    --------
    >>> page = render_html("base.html.j2", title="<b>x</b>")
    >>> "<title>&lt;b&gt;x&lt;/b&gt;</title>" in page
    True
    """
    return environments()[0].get_template(template).render(**context)


def render_markdown(template: str, **context) -> str:
    """Render ``templates/<template>`` as Markdown (every value escaped)."""
    return environments()[1].get_template(template).render(**context)
