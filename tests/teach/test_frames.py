"""Which iterations become frames, and the GIF made of them (no walkthrough rendered)."""

import io

import numpy as np
import pytest
from PIL import Image

from latentmix.teach.frames import Frame, animation_gif, frame_iterations


@pytest.mark.parametrize("n_states", [1, 5, 16, 17, 26, 84, 501])
@pytest.mark.parametrize("max_frames", [4, 16])
def test_frame_iterations_keep_the_start_the_end_and_every_early_step(n_states, max_frames):
    shown = frame_iterations(n_states, max_frames)
    assert shown[0] == 0 and shown[-1] == n_states - 1
    assert np.all(np.diff(shown) > 0)
    assert len(shown) <= max(max_frames, 1) + 1
    if n_states <= max_frames:
        assert shown == list(range(n_states))
    else:
        assert shown[: max_frames // 2] == list(range(max_frames // 2))


COLOURS = [(255, 0, 0), (0, 128, 0), (0, 0, 255)]


def _png(shift: int) -> bytes:
    """Three stripes of COLOURS, rotated by ``shift``: every frame holds every colour."""
    image = Image.new("RGB", (30, 20))
    for j in range(3):
        image.paste(COLOURS[(j + shift) % 3], (10 * j, 0, 10 * j + 10, 20))
    buf = io.BytesIO()
    image.save(buf, format="png")
    return buf.getvalue()


def test_the_gif_has_one_frame_per_iteration_and_holds_the_first_and_last():
    frames = [Frame(t, _png(t)) for t in range(3)]
    with Image.open(io.BytesIO(animation_gif(frames))) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3
        durations, shown = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
            shown.append(gif.convert("RGB").getpixel((5, 5)))
    assert durations == [2500, 900, 2500]
    # One shared palette (from the last frame) still holds every frame's colours.
    np.testing.assert_allclose(shown, COLOURS, atol=8)
