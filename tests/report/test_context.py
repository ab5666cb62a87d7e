"""What the pages say: the warning box, the headline, thresholds from their one constant."""

from dataclasses import replace
from importlib import resources

from latentmix.comparison import PARETO_K_MAX, compare
from latentmix.datasets import Dataset
from latentmix.report.context import headline, report_context, warnings_list
from latentmix.report.write import render_pages


def test_warning_box_lists_problems_in_order(shared_analysis):
    # (The fake posterior's own R-hat and ESS, from 2 x 100 draws, are not the point here.)
    diag = {**shared_analysis.diagnostics, "problems": []}
    clean = replace(shared_analysis, diagnostics=diag)
    assert warnings_list(clean) == []
    troubled = replace(
        shared_analysis,
        em_warnings=["EM MLE: reached max_iter", "EM MLE: reached max_iter"],
        diagnostics={**diag, "problems": ["R-hat up to 1.2"], "n_relabelled": 150},
        mle_error="a component collapsed",
    )
    assert warnings_list(troubled) == [
        "R-hat up to 1.2",
        "150 of 200 draws had to be relabelled: the components overlap or swap often, so "
        "component-wise summaries are fragile.",
        "There is no MLE: a component collapsed",
        "EM MLE: reached max_iter",
    ]


def test_headline_counts_entries_outside_the_interval(shared_analysis):
    lines = headline(shared_analysis)
    total = sum(len(t.entries) for t in shared_analysis.comparison.tables.values())
    assert lines[0].startswith("The MAP lies outside the posterior's 95% interval for ")
    assert lines[0].endswith(f" of {total} parameter entries.")
    assert any(line.startswith("The true value lies outside") for line in lines)


def test_pareto_threshold_comes_from_its_constant(shared_analysis):
    for name in ("report.html.j2", "report.md.j2"):
        text = resources.files("latentmix.pages").joinpath("templates", name).read_text()
        assert "0.7" not in text
    context = report_context(shared_analysis, [])
    assert context["diagnostics"]["thresholds"]["max_pareto_k"] == PARETO_K_MAX
    page, md = render_pages(context)
    assert f"Pareto k &gt; {PARETO_K_MAX}" in page and f"Pareto k > {PARETO_K_MAX}" in md


def test_missing_wald_and_laplace_intervals_reach_the_warning_box(
    fake_analysis, fake_idata, saddle_1d
):
    # Estimates at a saddle point: the information is not positive definite there, for the
    # MLE or the MAP.
    X, saddle = saddle_1d
    analysis = fake_analysis(Dataset("saddle", X, ("v",), "bimodal"), 2)
    idata = fake_idata(saddle, seed=3)
    comparison = compare(X, idata, saddle, mle=saddle, prior=analysis.prior, feature_names=["v"])
    analysis = replace(analysis, comparison=comparison, idata=idata)
    found = warnings_list(analysis)
    assert found[-2:] == list(comparison.warnings)
    assert found[-2].startswith("No Wald intervals for the MLE")
    page, md = render_pages(report_context(analysis, []))
    for text in (page, md):
        assert "No Laplace intervals for the MAP: the observed information is not positive" in text
        assert "Laplace approximation around the MAP: width" not in text
