"""Fixtures of the teaching tests: one walkthrough per session and the page check.

Rendering is the slow part (frames, GIF, six figures), so :func:`shared_walkthrough` renders
house prices once, with few frames and restarts (the code paths are the same), and every test
that only reads the page shares it.
"""

import re

import pytest

from latentmix.datasets import house_prices
from latentmix.teach.walkthrough import build_walkthrough

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
