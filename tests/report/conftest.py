"""Fixtures of the report tests: real EM fits, a fake posterior, and one report per session.

No PyMC here: the posterior is draws scattered around the MAP, shaped like
PyMCGaussianMixture's InferenceData, so the page can be written in seconds. The report that
most tests read is written once per session (:func:`shared_report`); tests that change it
work on a copy.
"""

import dataclasses
import functools
import shutil

import pytest

from latentmix.comparison import compare
from latentmix.datasets import Dataset, read_csv, synthetic_3d
from latentmix.estimator import EMGaussianMixture
from latentmix.priors import ConjugatePrior
from latentmix.report import Analysis, ReportSettings, write_report
from latentmix.report.analysis import diagnostics_summary
from latentmix.report.vb import fit_vb

# Column names a user could put in a CSV header: markup, Markdown and mathtext characters.
MARKUP_NAMES = ("<b>x</b>", "<script>alert('y')</script>|*_", "z $1$ [a](b)")


def make_fake_analysis(
    fake_idata, dataset: Dataset, K: int, covariance_type="full", seed=0
) -> Analysis:
    """Real EM fits (MLE and MAP), a fake posterior around the MAP (2 x 100 draws from
    ``fake_idata``, the fixture of tests/conftest.py), the real comparison and a real VB."""
    X = dataset.data
    prior = ConjugatePrior.default(X, K, covariance_type)
    fits = [
        EMGaussianMixture(
            K, covariance_type=covariance_type, prior=p, n_init=2, random_state=seed
        ).fit(X)
        for p in (None, prior)
    ]
    mle, em_map = fits
    idata = fake_idata(em_map.params_, draws=100, spread=0.03, seed=seed)
    comparison = compare(
        X, idata, em_map, mle=mle, truth=dataset.truth, feature_names=dataset.feature_names,
        prior=prior, random_state=seed,
    )  # fmt: skip
    settings = ReportSettings(K, covariance_type, draws=100, chains=2, seed=seed, n_init=2)
    return Analysis(
        dataset=dataset,
        X=X,
        X_test=None,
        settings=settings,
        prior=prior,
        mle=mle,
        map=em_map,
        idata=idata,
        comparison=comparison,
        diagnostics=diagnostics_summary(idata),
        timings={"em_mle": 0.1, "em_map": 0.1},
        command="latentmix report test -k 3",
        # VB costs no compile: the real one, of the same rows and prior.
        vb=fit_vb(X, settings.check(), prior, em_map.params_),
    )


@pytest.fixture
def fake_analysis(fake_idata):
    """``fake_analysis(dataset, K, covariance_type="full", seed=0)``: see make_fake_analysis."""
    return functools.partial(make_fake_analysis, fake_idata)


@pytest.fixture(scope="session")
def shared_analysis(tmp_path_factory, fake_idata):
    """The Analysis of the shared report: synthetic 3-D data with its truth, K = 3, diagonal
    covariances, read from a CSV file whose name and header hold markup (as a user's could)."""
    import csv

    data = synthetic_3d(n_samples=150)
    path = tmp_path_factory.mktemp("data") / "evil<i>.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(MARKUP_NAMES)
        writer.writerows(data.data.tolist())
    dataset = dataclasses.replace(
        read_csv(path), description="synthetic <em>data</em> | with * markup", truth=data.truth
    )
    assert dataset.feature_names == MARKUP_NAMES
    return make_fake_analysis(fake_idata, dataset, 3, "diag")


@pytest.fixture(scope="session")
def shared_report(tmp_path_factory, shared_analysis):
    """The one report most tests read: its directory (do not modify it: copy it)."""
    out = tmp_path_factory.mktemp("report") / "shared"
    write_report(shared_analysis, out)
    return out


@pytest.fixture
def report_copy(tmp_path, shared_report):
    """A copy of the shared report that a test may change."""
    out = tmp_path / "copy"
    shutil.copytree(shared_report, out, symlinks=True)
    return out
