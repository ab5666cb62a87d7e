"""The committed docs quote what the code computes: the tutorial and the example index.

``docs/tutorial.md`` is ``docs/tutorial.md.j2`` filled with ``docs/figures/tutorial_numbers.json``
and ``reports/README.md`` is ``reports/README.md.j2`` filled from the examples'
``estimates.json``; both are written by ``python reports/make_examples.py --all``. These tests
hold the committed text to its template and data, and recompute the numbers EM gives (seconds,
no PyMC) to check that the committed ones are still what the code prints. The posterior's
numbers (NUTS draws) are not recomputed here: they are as the last full run wrote them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def examples():
    return _script(ROOT / "reports" / "make_examples.py")


# --- the example index and the example reports --------------------------------------------


def test_the_index_is_its_template_rendered_from_the_estimates(examples):
    assert (ROOT / "reports" / "README.md").read_text() == examples.render_index(), (
        "reports/README.md is not reports/README.md.j2 rendered from the examples' "
        "estimates.json: run `python reports/make_examples.py --index`."
    )


@pytest.mark.parametrize("name", ["faithful", "galaxies", "synthetic3d"])
def test_the_example_reports_em_numbers_are_what_the_code_computes(examples, name):
    from latentmix import EMGaussianMixture

    record = json.loads((ROOT / "reports" / name / "estimates.json").read_text())
    s = record["settings"]
    assert s["test_fraction"] is None  # all rows are the training data
    X = examples.EXAMPLES[name]["data"]().data
    assert X.shape == (record["data"]["n_train"], record["data"]["n_features"])
    for which, prior in (("mle", None), ("map", s["prior"])):
        gm = EMGaussianMixture(
            s["n_components"],
            covariance_type=s["covariance_type"],
            prior=prior,
            n_init=s["n_init"],
            random_state=s["seed"],
        ).fit(X)
        em = record["em"][which]
        np.testing.assert_allclose(em["objective"], gm.objective_, rtol=1e-9, err_msg=which)
        np.testing.assert_allclose(
            em["log_likelihood"], gm.log_likelihood_, rtol=1e-9, err_msg=which
        )
        assert em["n_iter"] == gm.n_iter_
        estimate = record["comparison"]["estimates"][which]
        order = np.argsort(gm.means_[:, 0])
        # The tables print four significant digits; the JSON keeps more.
        np.testing.assert_allclose(
            np.sort(np.asarray(estimate["means"])[:, 0]),
            gm.means_[order, 0],
            rtol=1e-6,
            atol=1e-5 * np.abs(X).max(),
        )
