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


def _busy_png(shift: int) -> bytes:
    """Flat squares of COLOURS on a field of 600 one-pixel colours (more than the palette)."""
    rng = np.random.default_rng(shift)
    image = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    for j, colour in enumerate(COLOURS):
        image[5:15, 10 * j + 2 + shift : 10 * j + 9 + shift] = colour
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="png")
    return buf.getvalue()


def _gif_frames(data: bytes) -> list[np.ndarray]:
    out = []
    with Image.open(io.BytesIO(data)) as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            out.append(np.asarray(gif.convert("RGB")).astype(int))
    return out


def test_the_shared_gif_palette_keeps_flat_colours_exactly():
    frames = [Frame(t, _busy_png(t)) for t in range(3)]
    for t, pixels in enumerate(_gif_frames(animation_gif(frames))):
        for j, colour in enumerate(COLOURS):
            square = pixels[5:15, 10 * j + 2 + t : 10 * j + 9 + t].reshape(-1, 3)
            assert (square == colour).all(), (t, colour)


def test_the_walkthrough_gif_draws_each_component_in_its_own_colour(shared_walkthrough):
    from latentmix.teach.draw import component_colours

    gif = (shared_walkthrough / "walkthrough.gif").read_bytes()
    colours = np.round(component_colours(3) * 255).astype(int)
    pngs = sorted((shared_walkthrough / "frames").glob("*.png"))
    for png, pixels in zip(pngs, _gif_frames(gif), strict=True):
        frame = np.asarray(Image.open(png).convert("RGB")).astype(int)
        for colour in colours:
            # Legend lines and density curves: the same pixels in the PNG and in the GIF.
            in_png = (frame == colour).all(axis=-1)
            in_gif = (pixels == colour).all(axis=-1)
            assert in_png.sum() > 50, (png.name, colour)
            assert in_gif.sum() >= 0.9 * in_png.sum(), (png.name, colour)
