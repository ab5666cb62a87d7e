"""Fixtures and settings shared by the whole suite.

Every random draw in the suite is seeded: tests take ``np.random.default_rng(seed)`` with an
explicit seed, and Hypothesis runs derandomised (its examples are a function of the test, not
of the clock), so two runs of the suite see the same data.
"""

import os
import shutil
import signal
import tempfile
from pathlib import Path

import arviz as az
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from scipy import stats

from latentmix.params import MixtureParams

settings.register_profile(
    "latentmix",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("latentmix")


@pytest.fixture(autouse=True)
def _ctrl_c_left_as_found(request):
    """Put back a SIGINT handler a test left changed, and say which test did it.

    One CI run found SIGINT ignored (SIG_IGN) in a worker before the studies' Ctrl-C tests,
    and no run since has shown which test had left it so: this names it when it happens.
    """
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after != before:
        signal.signal(signal.SIGINT, before)
        request.node.warn(
            pytest.PytestWarning(f"left the SIGINT handler {after} (it was {before}); put back")
        )


def pytest_configure(config):
    """Compiled samplers go to a cache of this run (shared by xdist's workers and the CLI
    subprocesses, which inherit the environment), not to the user's cache directory."""
    if "LATENTMIX_CACHE_DIR" not in os.environ:
        config._latentmix_cache = tempfile.mkdtemp(prefix="latentmix-test-cache-")
        os.environ["LATENTMIX_CACHE_DIR"] = config._latentmix_cache


def pytest_unconfigure(config):
    """Remove the run's cache (only in the process that made it)."""
    made = getattr(config, "_latentmix_cache", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop("LATENTMIX_CACHE_DIR", None)


def make_random_params(rng, covariance_type, K=3, d=3, *, offset=0.0) -> MixtureParams:
    """A random mixture: well-conditioned covariances, Dirichlet(3) weights, spread means."""
    means = rng.normal(scale=3.0, size=(K, d)) + offset
    A = rng.normal(size=(K, d, d))
    full = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    # Drawn in this order for every type, so each type's random stream is the same as before
    # the shared diagonal types existed; those reuse the first component's draws.
    diag = rng.uniform(0.3, 3.0, size=(K, d))
    spherical = rng.uniform(0.3, 3.0, size=K)
    covariances = {
        "full": full,
        "tied": full[0],
        "diag": diag,
        "spherical": spherical,
        "tied_diag": diag[0],
        "tied_spherical": np.asarray(spherical[0]),
    }[covariance_type]
    return MixtureParams(rng.dirichlet(np.full(K, 3.0)), means, covariances, covariance_type)


@pytest.fixture
def random_params():
    """``random_params(rng, covariance_type, K=3, d=3, offset=0.0)``: see make_random_params."""
    return make_random_params


# --- posterior-like draws without PyMC ------------------------------------------------------

COVARIANCE_DIMS = {
    "full": ["component", "feature", "feature_bis"],
    "tied": ["feature", "feature_bis"],
    "diag": ["component", "feature"],
    "spherical": ["component"],
    "tied_diag": ["feature"],
    "tied_spherical": [],
}


def _fake_idata(params: MixtureParams, chains=2, draws=200, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    C, S = chains, draws
    K, d = params.means.shape
    weights = rng.dirichlet(params.weights * 400, size=(C, S))
    means = params.means + spread * rng.standard_normal((C, S, K, d))
    covariance_type = params.covariance_type
    cov = np.asarray(params.covariances)
    if covariance_type in ("full", "tied"):
        stack = cov if covariance_type == "full" else cov[None]
        df = 300
        out = np.stack(
            [
                stats.invwishart(df, c * (df - d - 1))
                .rvs(C * S, random_state=rng)
                .reshape(C, S, d, d)
                for c in stack
            ],
            axis=2,
        )
        covariances = out if covariance_type == "full" else out[:, :, 0]
    else:
        covariances = cov * np.exp(spread * rng.standard_normal((C, S, *cov.shape)))
    return az.from_dict(
        posterior={"weights": weights, "means": means, "covariances": covariances},
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": COVARIANCE_DIMS[covariance_type],
        },
    )


@pytest.fixture(scope="session")
def fake_idata():
    """``fake_idata(params, chains=2, draws=200, spread=0.05, seed=0)``: an InferenceData
    shaped like PyMCGaussianMixture's, with draws scattered around ``params``."""
    return _fake_idata


@pytest.fixture(scope="session")
def saddle_1d():
    """Bimodal 1-D data and two identical, too narrow components at its mean.

    Splitting the two means raises the likelihood and the posterior, so the information
    matrix there (likelihood or posterior) has negative eigenvalues.
    """
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3, 1, (100, 1)), rng.normal(3, 1, (100, 1))])
    v = X.var() / 4
    saddle = MixtureParams(
        np.array([0.5, 0.5]), np.full((2, 1), X.mean()), np.full((2, 1, 1), v), "full"
    )
    return X, saddle


# --- a browser ------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def open_browser():
    """``open_browser(profile_dir)``: headless Chromium through selenium.

    Fails (never skips) when Chromium or its driver is missing: ``install.sh`` installs
    Debian's ``chromium`` and ``chromium-driver`` where it can.
    """

    def start(profile: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        for binary in (CHROMIUM, CHROMEDRIVER):
            assert Path(binary).exists() or shutil.which(Path(binary).name), (
                f"{binary} is missing: install Debian's chromium and chromium-driver packages"
            )
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--window-size=1200,900",
        ):
            options.add_argument(flag)
        driver = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
        return webdriver.Chrome(service=Service(driver), options=options)

    return start
