"""A real headless chromium opens the shared report from disk: it renders, every image
loads, and markup in column names shows as text. Fails (never skips) when chromium is missing."""

import pytest

from latentmix.report.context import figure_captions

pytestmark = pytest.mark.browser


def test_report_renders_in_chromium_with_escaped_markup(
    tmp_path, open_browser, shared_report, shared_analysis
):
    index = shared_report / "index.html"
    n_figures = len(figure_captions(shared_analysis.comparison))
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
        n_markup = driver.execute_script(
            "return document.querySelectorAll('b, i, em, main a[href]').length"
        )
        height = driver.execute_script("return document.body.scrollHeight")
        driver.save_screenshot(str(tmp_path / "page.png"))
    finally:
        driver.quit()
    assert state == "complete"
    assert len(images) == n_figures == 13
    assert all(complete and width > 0 for complete, width in images), images
    assert title.startswith("evil<i>: 3-component")
    assert "<b>x</b>" in text and "<script>alert('y')</script>|*_" in text
    assert "synthetic <em>data</em>" in text
    assert n_scripts == 0 and n_markup == 0
    assert height > 3000  # the whole page laid out, figures included
    assert (tmp_path / "page.png").stat().st_size > 10_000


@pytest.mark.parametrize("width", [420, 1400])
def test_report_fits_the_window_at_phone_and_desktop_widths(
    tmp_path, open_browser, shared_report, width
):
    # Wide tables scroll inside their own box and commands wrap: the page itself never
    # scrolls sideways, and no figure is wider than the window.
    driver = open_browser(tmp_path / "profile")
    try:
        driver.set_window_size(width, 900)
        driver.get((shared_report / "index.html").resolve().as_uri())
        page, window = driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        )
        widest_image = driver.execute_script(
            "return Math.max(...Array.from(document.images)"
            ".map(i => i.getBoundingClientRect().right));"
        )
        wrapped = driver.execute_script(
            "return Array.from(document.querySelectorAll('pre'))"
            ".every(p => p.scrollWidth <= p.clientWidth + 1);"
        )
    finally:
        driver.quit()
    assert page <= window, f"the page is {page} px wide in a {window} px window"
    assert widest_image <= window + 1
    assert wrapped
