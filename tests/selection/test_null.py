"""The LRT null study on a tiny run (the committed study is reports/select-lrt-null)."""

import json

import numpy as np

from latentmix.selection import null as N


def test_the_null_study_runs_resumes_and_writes_its_page(tmp_path):
    config = N.null_config(n=40, replications=3, bootstrap=4, n_init=1, seed=5)
    out = tmp_path / "null"
    records = N.run_null(config, out, scheduler="synchronous", quiet=True)
    assert len(records) == 6 and all(r["status"] == "ok" for r in records)
    for r in records:
        # p = (1 + #{LRTS* >= LRTS}) / (B + 1), from the stored bootstrap statistics.
        count = sum(b >= r["lrts"] for b in r["boot_lrts"])
        assert r["p_value"] == (1 + count) / 5 and len(r["boot_lrts"]) == 4
    again = N.run_null(config, out, scheduler="synchronous", quiet=True)
    assert again == records
    html, md = N.write_null_pages(records, config, out)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["truths"]) == {"one", "two"}
    one = summary["truths"]["one"]
    assert one["n_replicates"] == 3 and 0 <= one["ks_p_value"] <= 1
    # With B = 4 the smallest p-value is 0.2: no test at 0.05 or 0.10 can be made.
    assert one["rejections"] == {}
    assert "data:image/png;base64," in html.read_text()
    assert "uniform on {1/(B + 1), ..., 1}" in md.read_text()


def test_rejection_rates_are_measured_against_the_attainable_level():
    config = N.null_config(replications=4, bootstrap=19)
    p = [0.05, 0.1, 0.5, 1.0]
    records = [{"status": "ok", "truth": "one", "p_value": v} for v in p]
    summary = N.summarise_null(records, config)["truths"]["one"]
    five = summary["rejections"]["0.05"]
    assert five["nominal"] == 0.05 and five["count"] == 1 and five["rate"] == 0.25
    assert summary["rejections"]["0.1"]["count"] == 2
    assert np.isclose(summary["rejections"]["0.1"]["nominal"], 0.1)
    assert summary["n_replicates"] == 4 and summary["n_failed_runs"] == 0
