"""Headless chromium opens a walkthrough: images load, the frame player steps and wraps.

Fails (never skips) when chromium is missing (the shared ``open_browser`` fixture).
"""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.walkthrough]


def test_walkthrough_page_steps_through_frames(tmp_path, shared_walkthrough, open_browser):
    frames = sorted((shared_walkthrough / "frames").glob("frame_*.png"))
    last = int(frames[-1].stem.split("_")[1])
    driver = open_browser(tmp_path / "profile")
    try:
        driver.get((shared_walkthrough / "index.html").as_uri())
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
        visible = driver.execute_script(
            "return Array.from(document.querySelectorAll('.frame'))"
            ".map(f => f.getBoundingClientRect().height > 0);"
        )
    finally:
        driver.quit()
    assert all(complete and width > 0 for complete, width in images), images
    assert n_frame_divs == len(frames) == 4
    assert first == [1, "0", "0", 1]
    assert second == [1, "1", "1", 1]
    # Back from the first frame wraps round to the last iteration drawn.
    assert wrapped == [1, str(last), str(last), 1]
    # The shared stylesheet hides every frame but the one shown.
    assert sum(visible) == 1


@pytest.mark.parametrize("width", [1400, 420])
def test_frames_are_shown_at_their_natural_size_or_the_screen_width(
    tmp_path, shared_walkthrough, open_browser, width
):
    driver = open_browser(tmp_path / "profile")
    try:
        driver.set_window_size(width, 900)
        driver.get((shared_walkthrough / "index.html").as_uri())
        shown, natural, page = driver.execute_script(
            "var img = document.querySelector('.frame.on img');"
            "return [img.getBoundingClientRect().width, img.naturalWidth,"
            " document.documentElement.scrollWidth];"
        )
        viewport = driver.execute_script("return document.documentElement.clientWidth;")
    finally:
        driver.quit()
    assert natural == 1008
    if width == 1400:
        assert shown == natural  # not enlarged (text stays as drawn)
    else:
        assert shown <= viewport and page <= viewport  # shrunk to fit, no sideways scroll
