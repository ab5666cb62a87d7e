"""A small document model written out twice: self-contained HTML and Markdown.

A study report is a list of blocks, each a tuple:

* ``("h1" | "h2" | "h3", text)``
* ``("p", text)`` (plain text; escaped in HTML)
* ``("table", headers, rows)``
* ``("figure", path, caption)`` (a PNG written next to the report; embedded in the HTML as a
  data URI, linked from the Markdown)
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%}figcaption{font-size:.9em;color:#555}
code{background:#f4f4f4;padding:0 .2em}
"""


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure as PNG and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks, base: Path) -> str:
    """Markdown text; figure paths relative to ``base``."""
    lines = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + " " + block[1], ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
            lines.append("|" + "|".join("---" for _ in headers) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
        elif kind == "figure":
            rel = Path(block[1]).resolve().relative_to(Path(base).resolve())
            lines += [f"![{block[2]}]({rel.as_posix()})", "", f"*{block[2]}*", ""]
        else:
            raise ValueError(f"unknown report block {kind!r}")
    return "\n".join(lines)


def to_html(blocks, title: str) -> str:
    """One self-contained HTML page: styles inline, images as data URIs, all text escaped."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{html.escape(block[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(block[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in block[1])
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                for row in block[2]
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "figure":
            data = base64.b64encode(Path(block[1]).read_bytes()).decode("ascii")
            cap = html.escape(block[2])
            parts.append(
                f'<figure><img alt="{cap}" src="data:image/png;base64,{data}">'
                f"<figcaption>{cap}</figcaption></figure>"
            )
        else:
            raise ValueError(f"unknown report block {kind!r}")
    parts.append("</body></html>")
    return "\n".join(parts)


def _blocks(sections, title):
    blocks = [("h1", title)]
    for section in sections:
        if section.get("heading"):
            blocks.append(("h2", section["heading"]))
        blocks += [("p", p) for p in section.get("paragraphs", [])]
        blocks += [("table", t["headers"], t["rows"]) for t in section.get("tables", [])]
        blocks += [("figure", f["path"], f["caption"]) for f in section.get("figures", [])]
    return blocks


def write_study_page(sections, out: Path, stem: str, title: str) -> tuple[Path, Path]:
    """Write ``OUT/STEM.html`` and ``OUT/STEM.md``; returns both paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blocks = _blocks(sections, title)
    html_path, md_path = out / f"{stem}.html", out / f"{stem}.md"
    html_path.write_text(to_html(blocks, title), encoding="utf-8")
    md_path.write_text(to_markdown(blocks, out), encoding="utf-8")
    return html_path, md_path


def fmt(value, digits: int = 3) -> str:
    """A number for a table: fixed digits, "-" for missing."""
    if value is None:
        return "-"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value != value:  # NaN
        return "-"
    return f"{value:.{digits}f}"
