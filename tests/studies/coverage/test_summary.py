import json

import numpy as np

from latentmix.studies import coverage as C


def test_summary_counts_failed_sources_and_replicates(tmp_path):
    name, truth = C.load_truth("unequal_weights")
    # n_boot=1 makes every bootstrap fail with a ValueError: it must be counted, not dropped.
    config = C.study_config(truth, name, [60], 2, random_state=2, n_boot=1, draws=0)
    records = C.run_coverage(config, tmp_path, scheduler="synchronous", quiet=True)
    records.append(
        {"status": "failed", "error": "RuntimeError: lost", "key": "x", "n": 60, "index": 2}
    )
    summary = C.summarise(records, config)
    overall = {o["source"]: o for o in summary["overall"]}
    assert overall["bootstrap_nonparametric"]["failed"] == 3
    assert overall["bootstrap_nonparametric"]["ok"] == 0
    assert overall["wald"]["ok"] == 2 and overall["wald"]["failed"] == 1
    boot = [f for f in summary["failures"] if f["source"] == "bootstrap_nonparametric"]
    assert len(boot) == 2 and all("n_boot must be" in f["error"] for f in boot)
    whole = [f for f in summary["failures"] if f["source"] is None]
    assert whole == [{"key": "x", "source": None, "error": "RuntimeError: lost"}]
    assert {f["source"] for f in summary["failures"]} == {
        None,
        "bootstrap_nonparametric",
        "bootstrap_parametric",
    }
    wald = [r for r in summary["rows"] if r["source"] == "wald"]
    assert len(wald) == len(summary["names"]) == 12
    by_hand = np.mean(
        [rec["sources"]["wald"]["parameters"]["means[0,0]"]["covered"] for rec in records[:2]]
    )
    assert next(r for r in wald if r["parameter"] == "means[0,0]")["coverage"] == by_hand
    # JSON-ready as it is (NaN already None), and the labels travel with it.
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    assert summary["source_labels"]["laplace"] == "MAP, Laplace"
    assert summary["posterior"] is None
