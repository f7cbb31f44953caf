"""Make the example photos of handwritten digits used by the how-to "Test your own digit".

Each photo is drawn, not taken: the strokes of a digit are smooth curves
through a few points, shaken by a little random jitter, slanted and turned
slightly as a hand would, and drawn with a round pen whose width varies
along the stroke. The ink is dark and not quite black, on paper that is
light but lit unevenly (brighter at the top left, darker towards the
corners), with a faint texture; the whole picture gets a little sensor
noise and is blurred slightly, as a camera would. The pictures are
180 x 240 grey-level PNG files, far larger than MNIST's 28 x 28 like a
cropped phone photo, yet small enough to ship with the package (about
8 kB each, in ``minibp/data/digits/``, where `minibp.data.example_digits`
finds them). Everything comes from a seeded generator, so the files are the
same on every run (``tests/test_digit.py`` checks that the committed ones
are).

    python scripts/make_digit_photos.py [--out minibp/data/digits]
    python scripts/make_digit_photos.py --figure docs/assets/figures/own-digit.png

``--figure`` draws instead each photo above what `minibp.data.image_to_column`
makes of it, the 28 x 28 digit the network sees (needs matplotlib).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "minibp" / "data" / "digits"
WIDTH, HEIGHT = 180, 240
SEED = 2024

# The strokes of each digit: lists of (x, y) points in a unit box, x to the right, y down.
STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "two": [[(0.12, 0.25), (0.35, 0.04), (0.72, 0.06), (0.86, 0.3), (0.62, 0.6), (0.1, 0.97), (0.92, 0.94)]],
    "three": [
        [(0.12, 0.15), (0.45, 0.02), (0.82, 0.14), (0.78, 0.36), (0.42, 0.48)],
        [(0.42, 0.48), (0.85, 0.6), (0.88, 0.84), (0.5, 0.99), (0.1, 0.86)],
    ],
    "four": [[(0.62, 0.02), (0.35, 0.38), (0.06, 0.66), (0.95, 0.64)], [(0.7, 0.3), (0.7, 0.65), (0.72, 0.99)]],
    "seven": [[(0.06, 0.06), (0.5, 0.04), (0.94, 0.05), (0.68, 0.45), (0.42, 0.98)]],
    "nine": [
        [(0.8, 0.28), (0.6, 0.05), (0.25, 0.08), (0.15, 0.33), (0.45, 0.5), (0.8, 0.3)],
        [(0.8, 0.26), (0.78, 0.62), (0.72, 0.98)],
    ],
}


def _catmull_rom(points: NDArray[np.float64], samples: int = 16) -> NDArray[np.float64]:
    """A smooth curve through ``points`` (k, 2), as ``(k - 1) * samples + 1`` points."""
    p = np.vstack([points[0], points, points[-1]])  # repeat the ends so the curve passes through them
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    return np.vstack([*pieces, points[-1:]])


def _pen(canvas: NDArray[np.float64], path: NDArray[np.float64], radius: NDArray[np.float64]) -> None:
    """Ink ``canvas`` (coverage in [0, 1]) along ``path`` (pixels, x and y) with a round pen of varying ``radius``."""
    rows, cols = canvas.shape
    for (x0, y0), (x1, y1), r0, r1 in zip(path[:-1], path[1:], radius[:-1], radius[1:]):
        reach = max(r0, r1) + 2
        top, bottom = max(0, int(min(y0, y1) - reach)), min(rows, int(max(y0, y1) + reach) + 1)
        left, right = max(0, int(min(x0, x1) - reach)), min(cols, int(max(x0, x1) + reach) + 1)
        if top >= bottom or left >= right:
            continue
        y, x = np.mgrid[top:bottom, left:right].astype(np.float64)
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / length2, 0.0, 1.0) if length2 > 0 else np.zeros_like(x)
        distance = np.hypot(x - (x0 + t * dx), y - (y0 + t * dy))
        coverage = np.clip(r0 + t * (r1 - r0) - distance + 0.5, 0.0, 1.0)  # anti-aliased edge, one pixel wide
        window = canvas[top:bottom, left:right]
        np.maximum(window, coverage, out=window)


def draw_digit(name: str, rng: np.random.Generator) -> NDArray[np.uint8]:
    """A ``(HEIGHT, WIDTH)`` grey-level "photo" of the digit ``name`` of `STROKES`, dark ink on light paper."""
    height = rng.uniform(0.62, 0.7) * HEIGHT  # the digit's size, slant, turn and place on the paper
    width = height * rng.uniform(0.62, 0.72)
    slant, turn = rng.uniform(-0.25, 0.05), rng.uniform(-0.06, 0.06)
    centre = np.array([WIDTH / 2, HEIGHT / 2]) + rng.normal(0, 6, 2)
    pen = rng.uniform(0.055, 0.065) * height  # the pen's radius
    ink = np.zeros((HEIGHT, WIDTH))
    for stroke in STROKES[name]:
        points = np.array(stroke) + rng.normal(0, 0.018, (len(stroke), 2))  # a hand never draws the same twice
        curve = _catmull_rom(points) - 0.5
        x = curve[:, 0] * width - curve[:, 1] * height * slant
        y = curve[:, 1] * height
        x, y = np.cos(turn) * x - np.sin(turn) * y, np.sin(turn) * x + np.cos(turn) * y
        pressure = 1 + 0.15 * np.sin(np.linspace(0, rng.uniform(2, 5), len(curve)) + rng.uniform(0, 6))
        _pen(ink, np.column_stack([x + centre[0], y + centre[1]]), pen * pressure)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH] / np.array([HEIGHT, WIDTH])[:, None, None]
    light = 0.97 - 0.12 * (xx + yy) / 2 - 0.1 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)  # a lamp at the top left
    texture = ndimage.gaussian_filter(rng.normal(0, 1, ink.shape), 4) * 0.03  # paper is not smooth
    darkness = rng.uniform(0.7, 0.8)  # a ballpoint's or a marker's ink is never quite black
    photo = (light + texture) * (1 - darkness * ink)
    photo += rng.normal(0, 0.003, photo.shape)  # the sensor's noise
    photo = ndimage.gaussian_filter(photo, 1.0)  # the camera's blur
    return np.clip(np.rint(photo * 255), 0, 255).astype(np.uint8)


def make_photos(out: Path = PHOTOS, seed: int = SEED) -> list[Path]:
    """Draw every digit of `STROKES` into ``out/NAME.png``; return the paths."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in STROKES:
        path = out / f"{name}.png"
        Image.fromarray(draw_digit(name, rng)).save(path, optimize=True)
        paths.append(path)
    return paths


def draw_figure(path: Path, photos: list[Path] | None = None) -> None:
    """Draw each photo above the 28 x 28 digit `minibp.data.image_to_column` makes of it, into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from minibp._files import atomic_write
    from minibp.data import image_to_column

    photos = photos if photos is not None else sorted(PHOTOS.glob("*.png"))
    fig, axes = plt.subplots(2, len(photos), figsize=(1.5 * len(photos), 3.6), layout="constrained", squeeze=False)
    for (top, bottom), photo in zip(axes.T, photos):
        with Image.open(photo) as img:
            top.imshow(np.asarray(img.convert("L")), cmap="gray", vmin=0, vmax=255)
        top.set_title(photo.name, fontsize=9)
        bottom.imshow(image_to_column(photo).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        bottom.set_title("28 × 28", fontsize=9)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("The photos (180 × 240) and what the network sees of them", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(path, lambda f: fig.savefig(f, dpi=110, format="png"))
    finally:
        plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PHOTOS, help="folder for the photos (default: minibp/data/digits)")
    parser.add_argument("--figure", type=Path, help="draw the photos and their 28 x 28 digits into this PNG instead")
    args = parser.parse_args(argv)
    if args.figure:
        draw_figure(args.figure)
        print(args.figure)
    else:
        for path in make_photos(args.out):
            print(f"{path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
