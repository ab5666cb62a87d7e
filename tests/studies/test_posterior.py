"""The studies' posterior arm samples on the shared compiled-sampler cache, across processes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.compiles

# Two replicates of one structure (K = 2, d = 1, diag: the SBC and coverage tests' structure)
# with different data and priors, as a study's worker runs them.
_REPLICATES = """
import json
import numpy as np
from latentmix.priors import ConjugatePrior
from latentmix.studies.posterior import sample_swappable
X = np.concatenate([np.random.default_rng(0).normal(-2, 0.5, (20, 1)),
                    np.random.default_rng(1).normal(2, 0.5, (30, 1))])
config = {"draws": 100, "tune": 100, "chains": 2}
out = []
for shift, strength in ((0.0, 0.1), (10.0, 0.2)):
    prior = ConjugatePrior(1.0, np.full(1, shift), strength, 4.0, np.ones(1))
    trace, compile_seconds, sample_seconds = sample_swappable(
        X + shift, 2, "diag", prior, config, random_state=3
    )
    means = np.sort(trace.posterior["means"].mean(("chain", "draw")).values.ravel())
    out.append([trace.posterior.attrs["compile_source"], compile_seconds, means.tolist()])
print(json.dumps(out))
"""


def _worker() -> list:
    """One fresh process (a study's worker) on this run's cache directory."""
    run = subprocess.run(
        [sys.executable, "-c", _REPLICATES],
        capture_output=True,
        text=True,
        timeout=1800,
        env=dict(os.environ),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_one_sampler_serves_every_replicate_and_every_worker():
    first = _worker()
    # The first replicate compiles the structure, or loads it when another test of this run
    # compiled it; the second, with other data and another prior, reuses it in the process.
    assert first[0][0] in ("compiled", "disk") and first[1][0] == "memory"
    assert first[1][1] < 1.0
    # The data really changed: the means moved with the shift.
    np.testing.assert_allclose(np.subtract(first[1][2], first[0][2]), 10.0, atol=0.5)
    # A second worker loads the sampler from disk and compiles nothing; same seed, same draws.
    second = _worker()
    assert [source for source, _, _ in second] == ["disk", "memory"]
    np.testing.assert_allclose(second[0][2], first[0][2], rtol=1e-7)
