"""The page's table of paired predictive differences, in HTML and Markdown."""

from latentmix.report.context import paired_rows, report_context
from latentmix.report.write import render_pages


def test_both_pages_show_every_pair(shared_analysis):
    pred = shared_analysis.comparison.predictive
    rows = paired_rows(pred)
    # No held-out rows here: the three pairs of MLE, MAP and posterior, out of sample.
    assert [r["on"] for r in rows] == ["out-of-sample estimate"] * 3
    assert {frozenset(r["pair"].split(" \u2212 ")) for r in rows} == {
        frozenset(p) for p in (("MLE", "MAP"), ("MLE", "posterior"), ("MAP", "posterior"))
    }
    page, md = render_pages(report_context(shared_analysis, []))
    for r, p in zip(rows, pred.paired, strict=True):
        assert r["se"] == f"{p.se:.2f}" and r["difference"] == f"{p.difference:.2f}"
        assert (
            f'<td class="l">{r["pair"]}</td><td>{r["difference"]}</td><td>{r["se"]}</td>' in page
        )
        assert f"| {r['on']} | {r['pair']} | {r['difference']} | {r['se']} |" in md
    for text in (page, md):
        assert text.count("Paired differences: each pair of estimates") == 1
        # Inside the predictive section, before the membership one.
        start, end = text.index("Predictive comparison"), text.index("Cluster membership")
        assert start < text.index("Paired differences") < end
