"""Fixtures of the teaching tests: one walkthrough per session, a browser, the page checks.

Rendering is the slow part (frames, GIF, six figures), so :func:`shared_walkthrough` renders
house prices once, with few frames and restarts (the code paths are the same), and every test
that only reads the page shares it.
"""

import re
import shutil
from pathlib import Path

import pytest

from latentmix.datasets import house_prices
from latentmix.teach.walkthrough import build_walkthrough

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

#: The small walkthrough's settings: few frames and restarts keep the render short.
SMALL = {"max_frames": 4, "n_restarts": 2}


@pytest.fixture(scope="session")
def small_settings():
    """Keyword arguments of :func:`build_walkthrough` for a quick walkthrough."""
    return dict(SMALL)


@pytest.fixture(scope="session")
def shared_walkthrough(tmp_path_factory):
    """House prices (1-D, K = 3) rendered once per session; returns the output directory.

    Tests must not change it: copy it first (``shutil.copytree``) to write into it.
    """
    out = tmp_path_factory.mktemp("walkthrough") / "house-prices"
    data = house_prices(n_samples=240, random_state=0)
    return build_walkthrough(data, 3, out, random_state=0, **SMALL)


def assert_self_contained(page: str) -> None:
    """Every image is a data URI, and the page fetches nothing."""
    assert "data:image/png;base64," in page
    srcs = re.findall(r'src="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in page
    assert "http://" not in page and "https://" not in page


@pytest.fixture(scope="session")
def self_contained():
    """``self_contained(page)`` asserts that the HTML embeds every image and links nothing."""
    return assert_self_contained


@pytest.fixture(scope="session")
def open_browser():
    """``open_browser(profile_dir)``: headless chromium through selenium.

    Fails (never skips) when chromium or its driver is missing.
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
