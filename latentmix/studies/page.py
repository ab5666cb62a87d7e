"""A study's page: sections of paragraphs, tables and figures, as HTML and as Markdown.

Every study (coverage, SBC, choice of K) describes its page as a list of sections, each a
dict with any of

* ``heading``: str (a section without one continues the title's),
* ``paragraphs``: list of str (plain text; escaped),
* ``tables``: list of ``{"headers": [...], "rows": [[...], ...]}`` (cells are text), with
  ``"wrap": [column, ...]`` for columns of long text that wrap (errors, warnings),
* ``figures``: list of ``{"path": Path, "caption": str}`` (a PNG written beside the page by
  :func:`latentmix.pages.save_figure`; embedded in the HTML, linked from the Markdown),
* ``code``: str (a command, shown as code),

and :func:`write_study_page` renders it with the package's templates ``study.html.j2`` and
``study.md.j2`` (extending the shared base page and stylesheet of :mod:`latentmix.pages`).
"""

from __future__ import annotations

from pathlib import Path

from latentmix.pages import fmt, render_html, render_markdown

_EMPTY = {"heading": None, "paragraphs": (), "tables": (), "figures": (), "code": None}


def number(value, digits: int = 3) -> str:
    """A number in a study table: fixed-point with ``digits`` decimals (:func:`pages.fmt`)."""
    return fmt(value, digits, fixed=True)


def write_study_page(sections, directory, stem: str, title: str) -> tuple[Path, Path]:
    """Write ``DIRECTORY/STEM.html`` (self-contained) and ``DIRECTORY/STEM.md``.

    Parameters
    ----------
    sections : list of dict
        See the module docstring.
    directory : path
        Where the pages go; the figures must be inside it.
    stem : str
    title : str

    Returns
    -------
    tuple of Path
        The HTML and Markdown pages.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    unknown = {key for s in sections for key in s} - set(_EMPTY)
    if unknown:
        raise ValueError(f"unknown section keys {sorted(unknown)}; use {sorted(_EMPTY)}.")
    pages = []
    for section in sections:
        section = {**_EMPTY, **section}
        section["figures"] = [
            {
                "image": Path(f["path"]),
                "src": Path(f["path"]).resolve().relative_to(directory.resolve()).as_posix(),
                "caption": f["caption"],
            }
            for f in section["figures"]
        ]
        section["tables"] = [{"wrap": (), **t} for t in section["tables"]]
        pages.append(section)
    html_path, md_path = directory / f"{stem}.html", directory / f"{stem}.md"
    html_path.write_text(render_html("study.html.j2", title=title, sections=pages), "utf-8")
    md_path.write_text(render_markdown("study.md.j2", title=title, sections=pages), "utf-8")
    return html_path, md_path
