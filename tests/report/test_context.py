"""What the pages say: the warning box, the headline, thresholds from their one constant."""

from dataclasses import replace
from importlib import resources

import numpy as np

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
        diagnostics={**diag, "problems": ["R-hat up to 1.2"], "n_relabelled": 190},
        mle_error="a component collapsed",
    )
    # Draws relabelled because a chain sampled a relabelled copy of the mode are not a problem.
    swapped_chain = replace(troubled, diagnostics={**troubled.diagnostics, "n_switched": 0})
    assert "draws had their labels switched" not in " ".join(warnings_list(swapped_chain))
    switching = replace(troubled, diagnostics={**troubled.diagnostics, "n_switched": 150})
    assert warnings_list(switching) == [
        "R-hat up to 1.2",
        "150 of 200 draws had their labels switched within their chain and were relabelled: "
        "the components overlap or swap often, so component-wise summaries are fragile.",
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


def test_table_columns_read_alike_and_say_their_scale(shared_analysis):
    from latentmix.report.context import count, sig, table_contexts

    assert (sig(-1130.264, 8), sig(-1157.1651, 8)) == ("-1130.2640", "-1157.1651")
    assert (count(762.6), count(4472.0), count(float("nan"))) == ("763", "4472", "—")
    comp = shared_analysis.comparison
    tables = {t["group"]: t for t in table_contexts(comp, 1.01, None)}
    assert list(tables) == ["weights", "means", "covariances", "standard deviations"]
    assert tables["weights"]["wald_header"] == "Wald (MLE), logit scale"
    assert tables["covariances"]["wald_header"] == "Wald (MLE), log scale"  # diag: variances
    K = comp.map.n_components
    assert len(tables["weights"]["rows"]) == K - 1
    assert any("1 minus the others" in n for n in tables["weights"]["notes"])
    for t in tables.values():
        for row in t["rows"]:
            assert row["ess_bulk"].isdigit()
            assert row["q_map"] == "—" or len(row["q_map"].split(".")[1]) == 3
            # Four significant digits, trailing zeros kept.
            digits = row["map"].lstrip("-").replace(".", "").lstrip("0")
            assert len(digits.split("e")[0]) == 4


def test_a_far_map_quantile_gets_its_reason():
    from types import SimpleNamespace

    from latentmix.report.context import map_position_notes

    def entry(label, q, mean, median):
        return SimpleNamespace(label=label, quantile_map=q, mean=mean, median=median)

    table = SimpleNamespace(
        entries=[
            entry("covariances[1, x]", 0.1, 1.2, 1.0),  # right-skewed, MAP below: the skew
            entry("means[1, x]", 0.95, 0.1, 0.0),  # right-skewed but the MAP is above: away
            entry("means[2, x]", 0.5, 0.0, 0.0),
        ]
    )
    skew, away = map_position_notes(table)
    assert skew.startswith("covariances[1, x] (q(MAP) 0.100)") and "parameterisation" in skew
    assert away.startswith("means[1, x] (q(MAP) 0.950)") and "another mode" in away


def test_the_stated_order_reaches_every_table_the_draws_and_the_json(fake_analysis):
    from latentmix.datasets import synthetic_3d
    from latentmix.report.record import estimates_record

    analysis = fake_analysis(synthetic_3d(n_samples=150), 3, "diag")
    comp = compare(
        analysis.X, analysis.idata, analysis.comparison.map, mle=analysis.mle,
        prior=analysis.prior, order="weight",
    )  # fmt: skip
    analysis = replace(
        analysis, comparison=comp, settings=replace(analysis.settings, order="weight")
    )
    weights = comp.map.weights
    assert list(weights) == sorted(weights, reverse=True)
    # The draws moved with the MAP: their mean weights are in the same order.
    draws = analysis.idata.posterior["weights"].mean(("chain", "draw")).values
    assert list(np.argsort(-draws)) == [0, 1, 2]
    record = estimates_record(analysis, [])
    assert record["settings"]["order"] == record["comparison"]["order"] == "weight"
    assert record["comparison"]["estimates"]["map"]["weights"] == list(weights)
    assert [e["map"] for e in record["comparison"]["tables"]["weights"]] == list(weights[:2])
    context = report_context(analysis, [])
    assert "by the MAP's weights, largest first" in context["order"]
    means = context["tables"][1]["rows"]
    assert [r["map"] for r in means[::3]] == [f"{m:#.4g}" for m in comp.map.means[:, 0]]
