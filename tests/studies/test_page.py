import matplotlib
import pytest

from latentmix.pages import save_figure
from latentmix.studies.page import number, write_study_page

matplotlib.use("Agg")


def test_sections_become_one_html_page_and_its_markdown_twin(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "figures" / "f.png")
    sections = [
        {"paragraphs": ["a <b>bold</b> claim"]},
        {
            "heading": "Results",
            "tables": [
                {"headers": ["what", "value"], "rows": [["x|y", number(0.12345)]]},
                {"headers": ["key", "error"], "rows": [["r1", "long " * 40]], "wrap": [1]},
            ],
            "figures": [{"path": path, "caption": "A line."}],
            "code": "latentmix study sbc --out DIR",
        },
    ]
    html, md = write_study_page(sections, tmp_path, "report", "A study")
    page = html.read_text()
    assert "<h1>A study</h1>" in page and "<h2>Results</h2>" in page
    assert "a &lt;b&gt;bold&lt;/b&gt; claim" in page  # text is escaped
    assert "<td>0.123</td>" in page and 'class="l wrap"' in page
    assert "data:image/png;base64," in page and "<style>" in page
    assert "<pre><code>latentmix study sbc --out DIR</code></pre>" in page
    text = md.read_text()
    assert text.startswith("# A study") and "## Results" in text
    assert "| x\\|y | 0.123 |" in text  # a | cannot break the table
    assert "![A line.](figures/f.png)" in text
    assert "```\nlatentmix study sbc --out DIR\n```" in text


def test_numbers_and_unknown_section_keys():
    assert number(None) == "—" and number(float("nan")) == "—"
    assert number(2.0, 1) == "2.0" and number(3) == "3"
    with pytest.raises(ValueError, match="unknown section keys"):
        write_study_page([{"blocks": []}], "unused", "report", "t")
