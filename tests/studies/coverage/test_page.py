import shutil

from latentmix.studies import coverage as C
from latentmix.studies.coverage.page import command_line, parameter_labels


def _study(out):
    name, truth = C.load_truth("well_separated")
    config = C.study_config(truth, name, [40], 2, random_state=5, n_boot=4, draws=0)
    records = C.run_coverage(config, out, scheduler="synchronous", quiet=True)
    return records, config


def test_the_page_is_made_from_the_summary_alone(tmp_path):
    out = tmp_path / "cov"
    records, config = _study(out)
    html, md = C.write_coverage_page(records, config, out)
    assert html == out.absolute() / "report.html"
    text = md.read_text()
    assert "MLE, Wald" in text and "| MLE, bootstrap (parametric) | 40 |" in text
    page = html.read_text()
    assert "<td>means[1,1]</td>" in page and "means[0,0]" not in page  # 1-based on the page
    assert "<style>" in page and "data:image/png;base64," in page and "<script" not in page
    assert "numbered from 1 on this page" in text
    assert command_line(config) in text
    assert "earlier release" not in text
    assert (out / "figures" / "coverage.png").exists()
    shutil.rmtree(out / "replicates")
    C.rewrite_pages(out)
    assert md.read_text() == text
    assert not (out / "replicates").exists()


def test_labels_are_one_based_and_follow_the_parameter_order():
    _, truth = C.load_truth("well_separated")
    labels = parameter_labels(truth)
    assert labels["weights[0]"] == "weights[1]"
    assert labels["means[1,0]"] == "means[2,1]"
    assert labels["covariances[0,0,1]"] == "covariances[1,1,2]"


def test_the_page_says_which_replicates_an_earlier_matching_rule_made(tmp_path):
    out = tmp_path / "cov"
    records, config = _study(out)
    records[0]["matching"] = "mahalanobis_log_weight"
    _, md = C.write_coverage_page(records, config, out)
    text = md.read_text()
    assert "1 of the 2 replicates by an earlier rule" in text
    assert "1 of the 2 replicates by KL-divergence assignment" in text
