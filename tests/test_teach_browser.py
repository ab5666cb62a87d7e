"""Headless chromium opens the committed walkthrough: images load, the frame stepper works.

Fails (never skips) when chromium is missing, as the report's browser test does.
"""

from pathlib import Path

import pytest
from test_report_browser import open_browser

PAGE = Path(__file__).resolve().parents[1] / "reports" / "teach-house-prices" / "index.html"


@pytest.mark.browser
def test_walkthrough_page_steps_through_frames(tmp_path):
    n_frames = len(list((PAGE.parent / "frames").glob("frame_*.png")))
    driver = open_browser(tmp_path / "profile")
    try:
        driver.get(PAGE.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);"
        )

        def shown():
            return driver.execute_script(
                "var on = document.querySelectorAll('.frame.on');"
                "return [on.length, on[0].dataset.iteration,"
                " document.getElementById('which').textContent,"
                " document.querySelectorAll('tr.step.on').length];"
            )

        first = shown()
        driver.find_element("id", "next").click()
        second = shown()
        driver.find_element("id", "prev").click()
        driver.find_element("id", "prev").click()
        wrapped = shown()
        n_frame_divs = driver.execute_script("return document.querySelectorAll('.frame').length")
    finally:
        driver.quit()
    assert all(complete and width > 0 for complete, width in images), images
    assert n_frame_divs == n_frames == 16
    assert first == [1, "0", "0", 1]
    assert second == [1, "1", "1", 1]
    # Back from the first frame wraps round to the last iteration drawn.
    last = sorted(int(p.stem.split("_")[1]) for p in (PAGE.parent / "frames").glob("*.png"))[-1]
    assert wrapped == [1, str(last), str(last), 1]
