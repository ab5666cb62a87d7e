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
  :func:`data_uri` embeds one. The palette keeps the figure's own colours exactly
  (:func:`common_palette`, :func:`to_palette`): a legend marker has its points' colour.
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
    "common_palette",
    "data_uri",
    "figure_png",
    "fmt",
    "markdown_escape",
    "render_html",
    "render_markdown",
    "save_figure",
    "stylesheet",
    "to_palette",
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


def common_palette(images, colours: int = COLOURS):
    """The colours a palette must hold: every colour if there are few, else the commonest.

    Parameters
    ----------
    images : sequence of PIL.Image.Image
        RGB images that will share the palette (one figure, or every frame of a GIF).
    colours : int
        At most this many colours (at most 256).

    Returns
    -------
    ndarray of shape (m, 3), uint8
        ``m <= colours``. When the images hold at most ``colours`` distinct colours, all of
        them (the image is then stored losslessly). Otherwise the ``colours`` that fill the
        most pixels inside flat areas (a pixel equal to its right and lower neighbours), then
        the most pixels in all, ties broken by colour value: a plot's own colours (markers,
        lines, filled areas) fill areas and are kept exactly, even a legend marker's that
        covers a few dozen pixels, while the blends that antialiasing makes sit on edges and
        are mapped to the nearest kept colour. (Median cut, used before, averaged the colours
        of each box, and so drew a legend marker brown while its points were green.)
    """
    import numpy as np

    if not 1 <= colours <= 256:
        raise ValueError(f"colours must be between 1 and 256 (a PNG palette), not {colours}.")
    packed = [_packed(image) for image in images]
    values, counts = np.unique(np.concatenate([p.ravel() for p in packed]), return_counts=True)
    if values.size > colours:
        # A pixel inside a flat area (equal to its right and lower neighbours) shows a colour
        # the figure drew; antialiasing blends sit on edges. Rank by such pixels, then by all.
        flat = np.concatenate([_flat_pixels(p) for p in packed])
        inner = np.zeros(values.size, dtype=np.int64)
        np.add.at(inner, np.searchsorted(values, flat), 1)
        keep = np.lexsort((values, -counts, -inner))[:colours]
        values = np.sort(values[keep])
    return _unpack(values)


def to_palette(image, palette):
    """An RGB image as a palette image on ``palette``, without dithering.

    Parameters
    ----------
    image : PIL.Image.Image
        RGB.
    palette : ndarray of shape (m, 3), uint8
        From :func:`common_palette`; ``m <= 256``.

    Returns
    -------
    PIL.Image.Image
        Mode "P". A pixel whose colour is in the palette keeps it exactly; any other takes the
        nearest palette colour (Euclidean distance in RGB).
    """
    import numpy as np
    from PIL import Image

    packed = _packed(image)
    values, inverse = np.unique(packed.ravel(), return_inverse=True)
    rgb = _unpack(values).astype(np.int32)
    pal = np.asarray(palette, dtype=np.int32)
    # Nearest palette entry for each distinct colour (few thousand x <= 256: cheap).
    nearest = np.empty(values.size, dtype=np.uint8)
    for start in range(0, values.size, 4096):
        block = rgb[start : start + 4096]
        dist = ((block[:, None, :] - pal[None, :, :]) ** 2).sum(axis=-1)
        nearest[start : start + 4096] = dist.argmin(axis=1)
    indices = nearest[inverse].reshape(packed.shape)
    out = Image.fromarray(indices, mode="P")
    flat = np.zeros((256, 3), dtype=np.uint8)
    flat[: len(pal)] = pal
    out.putpalette(flat.ravel().tolist())
    return out


def _packed(image):
    """An RGB image's pixels as one uint32 per pixel (0xRRGGBB), shape (height, width)."""
    import numpy as np

    a = np.asarray(image.convert("RGB"), dtype=np.uint32)
    return (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]


def _flat_pixels(packed):
    """The colours of pixels equal to their right and lower neighbours, shape (m,)."""
    corner = packed[:-1, :-1]
    return corner[(corner == packed[1:, :-1]) & (corner == packed[:-1, 1:])]


def _unpack(values):
    import numpy as np

    values = np.asarray(values, dtype=np.uint32)
    return np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=-1).astype(
        np.uint8
    )


def figure_png(fig, *, dpi: int = DPI, colours: int | None = COLOURS, close: bool = True) -> bytes:
    """A matplotlib figure as PNG bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int
    colours : int or None
        Size of the palette (:func:`common_palette`): a figure with at most this many
        distinct colours is stored losslessly; otherwise its commonest colours are kept
        exactly and antialiased edge pixels take the nearest of them. A palette image is
        about a third of the full-colour size, which matters because pages embed their
        figures and example outputs are committed. None keeps full colour.
    close : bool
        Close the figure if pyplot manages it (a plain ``Figure`` needs no closing).

    Returns
    -------
    bytes
        A PNG without text metadata (no software version), so equal figures give equal bytes.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    # The Agg canvas's pixels, as savefig would draw them, without its PNG encoding (which
    # would only be decoded again here): the same bytes, 18% faster over a report.
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    old_dpi, old_face = fig.get_dpi(), fig.get_facecolor()
    fig.set_dpi(dpi)
    fig.set_facecolor("white")
    try:
        canvas.draw()
        image = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    finally:
        fig.set_dpi(old_dpi)
        fig.set_facecolor(old_face)
    if close:
        _close(fig)
    if colours is not None:
        image = to_palette(image, common_palette([image], colours))
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
