"""A real headless chromium opens a report from disk: it renders, every image loads, and
markup in column names shows as text. Fails (never skips) when chromium is missing."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_report_build import fake_analysis

from latentmix.datasets import read_csv
from latentmix.report.build import write_report

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def open_browser(profile: Path):
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
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.mark.browser
def test_report_renders_in_chromium_with_escaped_markup(tmp_path):
    csv = tmp_path / "markup.csv"
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(5, 1, (40, 2))])
    rows = "\n".join(f"{a:.4f},{b:.4f}" for a, b in X)
    csv.write_text(f"<b>x</b>,<script>document.title='pwned'</script>\n{rows}\n")
    out = tmp_path / "report"
    index = write_report(fake_analysis(read_csv(csv), 2), out)
    n_figures = len(list((out / "figures").glob("*.png")))

    driver = open_browser(tmp_path / "profile")
    try:
        driver.get(index.resolve().as_uri())
        state = driver.execute_script("return document.readyState")
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);"
        )
        title = driver.title
        text = driver.execute_script("return document.body.innerText")
        n_scripts = driver.execute_script("return document.scripts.length")
        n_bold = driver.execute_script("return document.querySelectorAll('b').length")
        height = driver.execute_script("return document.body.scrollHeight")
        driver.save_screenshot(str(tmp_path / "page.png"))
    finally:
        driver.quit()
    assert state == "complete"
    assert len(images) == n_figures == 9
    assert all(complete and width > 0 for complete, width in images), images
    assert title.startswith("markup: 2-component") and "pwned" not in title
    assert "<b>x</b>" in text and "<script>document.title='pwned'</script>" in text
    assert n_scripts == 0 and n_bold == 0
    assert height > 3000  # the whole page laid out, figures included
    assert (tmp_path / "page.png").stat().st_size > 10_000
