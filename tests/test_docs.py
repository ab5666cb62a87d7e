"""The committed docs quote what the code computes: the tutorial and the example index.

``docs/tutorial.md`` is ``docs/tutorial.md.j2`` filled with ``docs/figures/tutorial_numbers.json``
and ``reports/README.md`` is ``reports/README.md.j2`` filled from the examples'
``estimates.json``; both are written by ``python reports/make_examples.py --all``. These tests
hold the committed text to its template and data, and recompute the numbers EM gives (seconds,
no PyMC) to check that the committed ones are still what the code prints. The tutorial's
posterior numbers are sampled again and held to their Monte Carlo error (NUTS draws repeat
exactly only on the machine that made them); the example reports' posterior numbers are as the
last full run wrote them.
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
def tutorial():
    return _script(ROOT / "docs" / "make_tutorial_figures.py")


@pytest.fixture(scope="module")
def examples():
    return _script(ROOT / "reports" / "make_examples.py")


@pytest.fixture(scope="module")
def committed_numbers(tutorial):
    return json.loads(tutorial.NUMBERS.read_text())


@pytest.fixture(scope="module")
def fresh_em(tutorial):
    """The script's EM numbers and fitted objects, computed again."""
    return tutorial.em_numbers(draw=False)


@pytest.fixture(scope="module")
def fresh_em_numbers(fresh_em):
    return json.loads(json.dumps(fresh_em[0]))  # as the JSON holds them


def _leaves(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(tree, list) and tree and isinstance(tree[0], list | dict):
        for i, value in enumerate(tree):
            yield from _leaves(value, f"{prefix}[{i}]")
    else:
        yield prefix, tree


# --- the tutorial ----------------------------------------------------------------------------


def test_the_tutorial_is_its_template_rendered_with_the_committed_numbers(
    tutorial, committed_numbers
):
    committed = (ROOT / "docs" / "tutorial.md").read_text()
    assert committed == tutorial.render(committed_numbers), (
        "docs/tutorial.md is not docs/tutorial.md.j2 rendered with "
        "docs/figures/tutorial_numbers.json: run `python docs/make_tutorial_figures.py --render` "
        "(template edited) or `python reports/make_examples.py --all` (code changed)."
    )


def test_every_number_the_tutorial_quotes_from_em_is_what_the_code_computes(
    tutorial, committed_numbers, fresh_em_numbers
):
    assert set(fresh_em_numbers) | {"posterior"} == set(committed_numbers)
    fresh = dict(_leaves(fresh_em_numbers))
    stored = dict(_leaves({k: committed_numbers[k] for k in fresh_em_numbers}))
    assert fresh.keys() == stored.keys()
    for key, value in fresh.items():
        if isinstance(value, str | int | bool) or value is None:
            assert stored[key] == value, key
        else:
            np.testing.assert_allclose(stored[key], value, rtol=1e-7, atol=1e-12, err_msg=key)
    # And the text: the page rendered with today's EM numbers is the committed page.
    today = {**committed_numbers, **fresh_em_numbers}
    assert tutorial.render(today) == (ROOT / "docs" / "tutorial.md").read_text()


@pytest.mark.compiles
@pytest.mark.filterwarnings("ignore::latentmix.bayes.diagnostics.SamplingWarning")
def test_the_tutorial_s_posterior_numbers_are_what_the_code_samples(
    tutorial, committed_numbers, fresh_em
):
    """The posterior's numbers, sampled again with the script's settings and seed.

    NUTS draws repeat exactly only on the machine and build that made them (and a change
    in the last bits of the likelihood's arithmetic changes every draw after the first), so
    the draws' summaries are held to Monte Carlo error. With an effective sample size of a
    few hundred (this run is bimodal) and W the committed 94% interval's width (about 4
    posterior sd): a posterior mean's error is about 0.015 W, held to 0.1 W; an interval
    bound's, a 3% or 97% quantile, about 0.04 W, held to 0.2 W (both about 5 standard
    errors). find_MAP is an optimiser, not a sampler: its means agree to 1e-4.
    """
    numbers, fitted = fresh_em
    fresh = tutorial.posterior(
        fitted["data"], fitted["mle"], fitted["map"], numbers["poor"]["top_mean"], draw=False
    )
    stored = committed_numbers["posterior"]
    assert fresh["n_draws"] == stored["n_draws"]
    np.testing.assert_allclose(fresh["find_map_means"], stored["find_map_means"], rtol=1e-4)
    for name in ("mean", "weight", "sd"):
        width = np.subtract(stored[name]["upper"], stored[name]["lower"])
        for which, share in (("mean", 0.1), ("lower", 0.2), ("upper", 0.2)):
            np.testing.assert_array_less(
                np.abs(np.subtract(fresh[name][which], stored[name][which])),
                share * width,
                err_msg=f"{name} {which}",
            )
    assert abs(fresh["share_near_poor"] - stored["share_near_poor"]) < 0.15


def test_the_tutorial_quotes_no_number_by_hand(tutorial, committed_numbers):
    # Each EM number the JSON holds, changed, changes the page: the text is not typed.
    rendered = tutorial.render(committed_numbers)
    for path in (("mle", "n_iter"), ("poor", "n_iter"), ("hard_soft", "n_disagree")):
        changed = json.loads(json.dumps(committed_numbers))
        changed[path[0]][path[1]] += 1000
        assert tutorial.render(changed) != rendered, path
    template = (ROOT / "docs" / "tutorial.md.j2").read_text()
    for typed in ("1463.728", "207.7342", "R-hat up to 1.021", " 49 iterations", "ESS 300"):
        assert typed not in template, typed


def test_the_tutorial_figures_it_shows_exist():
    text = (ROOT / "docs" / "tutorial.md").read_text()
    for name in [
        "tutorial_simulated",
        "tutorial_fit",
        "tutorial_frame_005",
        "tutorial_bound",
        "tutorial_mle_vs_map",
        "tutorial_posterior",
    ]:
        assert f"figures/{name}.png" in text
        assert (ROOT / "docs" / "figures" / f"{name}.png").stat().st_size > 1000


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
        # The pages print objectives to 4 decimals: agree to within half of the last one.
        np.testing.assert_allclose(
            em["objective"], gm.objective_, rtol=0, atol=5e-5, err_msg=which
        )
        np.testing.assert_allclose(
            em["log_likelihood"], gm.log_likelihood_, rtol=0, atol=5e-5, err_msg=which
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
