"""minibp.data.digit: a picture of a digit made into an MNIST column; ``minibp predict``; the how-to and its photos."""

from __future__ import annotations

import doctest
import importlib.util
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

import minibp as bp
import minibp.data.digit as digit_module
from minibp.cli import main
from minibp.data import DataNotFoundError, example_digits, image_to_column, images_to_columns, load_sample
from minibp.data.digit import PILLOW_HINT, _resample_matrix, probe_image
from minibp.errors import DataFormatError, NonFiniteError, ShapeError

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "minibp" / "data" / "digits"  # the example photos, as committed
PAGE = ROOT / "docs" / "how-to" / "own-digit.md"
EXAMPLE = ROOT / "docs" / "examples" / "howto_own_digit.py"


def load_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pillow():
    return pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install minibp[image])")


def field(column: np.ndarray) -> np.ndarray:
    assert column.shape == (784, 1)
    return column.reshape(28, 28)


def extent(image: np.ndarray) -> tuple[int, int]:
    """Rows and columns spanned by the nonzero pixels."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def seven(rows: int = 300, cols: int = 200, top: int = 40, left: int = 30, size: int = 1) -> np.ndarray:
    """White on black: a thick "7" (a bar and a stem), 160 x 100 times ``size``, its top left at (top, left)."""
    a = np.zeros((rows, cols))
    h, w, t = 160 * size, 100 * size, 16 * size
    a[top : top + t, left : left + w] = 1.0  # the bar: most of the ink is high up, so the centre of mass is too
    a[top : top + h, left + w - t : left + w] = 1.0  # the stem, down the right side
    return a


# ---------------------------------------------------------------- the conversion of arrays (numpy and scipy only)


def test_a_shape_is_fitted_into_20_by_20_and_centred_by_its_centre_of_mass():
    x = image_to_column(seven())
    image = field(x)
    assert x.dtype == np.float64 and image.min() == 0.0 and image.max() == 1.0
    assert extent(image) == (20, 12)  # 160 x 100: the longer side becomes 20, the aspect ratio is kept
    cy, cx = ndimage.center_of_mass(image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5  # MNIST's convention, in whole-pixel shifts
    rows = np.flatnonzero(image.any(axis=1))
    assert (rows[0] + rows[-1]) / 2 > 14.5  # the box sits low, its heavy bar near the centre: not box-centred


def test_a_digit_heavy_at_one_end_is_moved_as_far_as_it_goes_but_never_cut_off():
    a = np.zeros((200, 200))
    a[20:60, 40:160] = 1.0  # a heavy block ...
    a[60:180, 98:102] = 1.0  # ... on a long thin tail: the centre of mass is 5 of 20 rows down the box
    image = field(image_to_column(a))
    assert extent(image) == (20, 15)  # the whole of it, 160 x 120
    rows = np.flatnonzero(image.any(axis=1))
    assert rows[-1] == 27  # pushed down to the edge of the field, no further
    assert ndimage.center_of_mass(image)[0] < 13.5  # so its centre of mass cannot reach row 14


def test_a_wide_shape_keeps_its_aspect_ratio_too():
    image = field(image_to_column(seven().T))
    assert extent(image) == (12, 20)
    cy, cx = ndimage.center_of_mass(image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_where_and_how_large_the_digit_is_drawn_does_not_matter():
    reference = image_to_column(seven())
    np.testing.assert_allclose(image_to_column(seven(top=120, left=90)), reference, atol=1e-12)
    np.testing.assert_allclose(image_to_column(seven(600, 400, 10, 5, size=2)), reference, atol=0.05)


def test_dark_ink_on_light_paper_is_inverted_white_ink_on_black_is_not():
    ink = seven()
    white_on_black = image_to_column(ink)
    np.testing.assert_allclose(image_to_column(1.0 - ink), white_on_black, atol=1e-12)  # paper
    np.testing.assert_allclose(image_to_column(0.2 + 0.5 * ink), white_on_black, atol=1e-12)  # grey on darker
    np.testing.assert_allclose(image_to_column(0.9 - 0.6 * ink), white_on_black, atol=1e-12)  # ink on grey paper
    as_bytes = np.where(ink > 0, 30, 240).astype(np.uint8)  # a uint8 scan, 0-255
    np.testing.assert_allclose(image_to_column(as_bytes), white_on_black, atol=1e-12)
    np.testing.assert_allclose(image_to_column(ink > 0), white_on_black, atol=1e-12)  # bool


def test_uneven_light_and_noise_become_a_black_background():
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:300, 0:200]
    light = 0.95 - 0.25 * (rows / 300 + cols / 200) / 2  # brighter at the top left
    photo = light * (1 - 0.7 * seven()) + rng.normal(0, 0.01, (300, 200))
    image, clean = field(image_to_column(photo)), field(image_to_column(seven()))
    assert extent(image) == (20, 12)
    cy, cx = ndimage.center_of_mass(image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert np.count_nonzero(image[:, :4]) == 0 and np.count_nonzero(image[:4]) == 0  # no grey paper left
    # The same digit, but perhaps a pixel away: a centre of mass near a half pixel rounds either way.
    best = max(
        np.corrcoef(np.roll(image, (dy, dx), axis=(0, 1)).ravel(), clean.ravel())[0, 1]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )
    assert best > 0.97


def test_a_speck_of_dirt_far_from_the_digit_is_left_out():
    dirty = seven()
    dirty[280:284, 5:9] = 1.0  # 16 pixels, against some 4,000 of ink
    np.testing.assert_allclose(image_to_column(dirty), image_to_column(seven()), atol=1e-12)


def test_dtype_and_range():
    x = image_to_column(seven(), dtype=np.float32)
    assert x.dtype == np.float32 and x.shape == (784, 1)
    assert 0.0 <= x.min() and x.max() == 1.0
    with pytest.raises(TypeError, match="float"):
        image_to_column(seven(), dtype=np.int64)


def test_huge_and_tiny_values_neither_overflow_nor_vanish():
    for scale in (1e300, 1e-300):
        np.testing.assert_allclose(image_to_column(seven() * scale), image_to_column(seven()), atol=1e-12)
    extremes = np.where(seven() > 0, 1.7e308, -1.7e308)  # their difference overflows float64
    np.testing.assert_allclose(image_to_column(extremes), image_to_column(seven()), atol=1e-12)


def test_an_mnist_digit_given_as_it_is_stays_itself():
    X = load_sample().test[0]
    for k in range(5):
        digit = X[:, k]
        assert np.corrcoef(image_to_column(digit.reshape(28, 28)).ravel(), digit)[0, 1] > 0.9


def test_round_trip_of_a_real_digit_upscaled_and_printed_on_paper():
    """A sample digit, 112 x 112 and inverted like ink on paper, converts back to (nearly) itself."""
    X, y = load_sample().test
    correlations, centres = [], []
    for k in range(20):
        digit = X[:, k].reshape(28, 28)
        paper = 1.0 - np.clip(ndimage.zoom(digit, 4, order=1, grid_mode=True, mode="grid-constant"), 0, 1)
        assert paper.shape == (112, 112)
        converted = image_to_column(paper)
        correlations.append(np.corrcoef(converted.ravel(), digit.ravel())[0, 1])
        centres.append(ndimage.center_of_mass(field(converted)))
    assert correlations[0] > 0.95  # the first test digit, a 7
    assert np.median(correlations) > 0.9 and min(correlations) > 0.6
    assert np.all(np.abs(np.array(centres) - 14) <= 0.5)
    assert np.all(np.abs(np.mean(centres, axis=0) - 14) < 0.2)  # as MNIST's, whose mean is (14.0, 14.0)


def test_the_resize_is_pillows_bilinear_resize():
    """The anti-aliased resize (numpy only) equals Pillow's ``resize(..., BILINEAR)``, reducing and enlarging."""
    Image = pillow()
    a = np.random.default_rng(1).random((97, 61))
    for rows, cols in [(20, 13), (7, 20), (150, 200), (97, 61)]:
        ours = _resample_matrix(97, rows) @ a @ _resample_matrix(61, cols).T
        theirs = np.asarray(Image.fromarray(a.astype(np.float32)).resize((cols, rows), Image.Resampling.BILINEAR))
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    np.testing.assert_allclose(_resample_matrix(50, 20).sum(axis=1), 1.0)


def test_arrays_need_no_pillow(monkeypatch):
    expected = image_to_column(seven())
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now fails, as without Pillow
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    np.testing.assert_array_equal(image_to_column(seven()), expected)
    with pytest.raises(ImportError, match=re.escape("pip install minibp[image]")):
        image_to_column(PHOTOS / "two.png")
    assert "pip install minibp[image]" in PILLOW_HINT


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((50, 40)), ValueError, "blank, every pixel is 0"),
        (np.full((50, 40), 7, dtype=np.uint8), ValueError, "blank, every pixel is 7"),
        (np.zeros(784), ShapeError, r"already a column\?"),
        (np.zeros((784, 1)), ShapeError, r"already a column\?"),
        (np.zeros((30, 30, 3)), ShapeError, "a colour image: convert it to grey"),
        (np.zeros((2, 2, 2, 2)), ShapeError, r"2-D image of shape \(rows, cols\), got \(2, 2, 2, 2\)"),
        (np.ones((2, 50)), ShapeError, "at least 3 x 3 pixels"),
        (np.zeros((0, 0)), ShapeError, "at least 3 x 3 pixels"),
        (np.zeros((20, 20), dtype=complex), TypeError, "real numbers"),
        (np.array([["a", "b", "c"]] * 3), TypeError, "real numbers"),
        ([[0, 1, None]] * 3, TypeError, "real numbers"),
    ],
)
def test_errors_name_what_is_wrong(image, error, match):
    with pytest.raises(error, match=match):
        image_to_column(image)


def test_non_finite_pixels_are_refused():
    for bad in (np.nan, np.inf, -np.inf):
        image = seven()
        image[5, 5] = bad
        with pytest.raises(NonFiniteError, match="1 NaN or infinite pixels of 60000"):
            image_to_column(image)


# ---------------------------------------------------------------- files and Pillow images


def test_files_and_pillow_images_of_any_mode_give_the_same_digit(tmp_path):
    Image = pillow()
    ink = seven()
    expected = image_to_column(ink)
    gray = Image.fromarray(np.where(ink > 0, 20, 235).astype(np.uint8))  # dark on light, "L"
    for mode in ("L", "RGB", "CMYK", "I;16", "I", "F", "P"):
        np.testing.assert_allclose(image_to_column(gray.convert(mode)), expected, atol=1e-12, err_msg=mode)
    black_and_white = gray.convert("1", dither=Image.Dither.NONE)
    np.testing.assert_allclose(image_to_column(black_and_white), expected, atol=1e-12)
    for suffix in (".png", ".bmp", ".tif", ".gif"):
        path = tmp_path / f"seven{suffix}"
        gray.save(path)
        np.testing.assert_allclose(image_to_column(path), expected, atol=1e-12, err_msg=suffix)
        np.testing.assert_allclose(image_to_column(str(path)), expected, atol=1e-12, err_msg=suffix)
    colour = np.zeros((*ink.shape, 3), dtype=np.uint8)
    colour[...] = (250, 240, 210)  # cream paper
    colour[ink > 0] = (20, 30, 120)  # blue ink
    np.testing.assert_allclose(image_to_column(Image.fromarray(colour)), expected, atol=1e-12)


def test_a_drawing_on_a_transparent_canvas_is_laid_on_white_paper():
    Image = pillow()
    rgba = np.zeros((*seven().shape, 4), dtype=np.uint8)  # transparent black everywhere ...
    rgba[seven() > 0] = (0, 0, 0, 255)  # ... but the strokes, opaque black
    np.testing.assert_allclose(image_to_column(Image.fromarray(rgba)), image_to_column(seven()), atol=1e-12)
    la = Image.fromarray(rgba).convert("LA")
    np.testing.assert_allclose(image_to_column(la), image_to_column(seven()), atol=1e-12)


def test_a_phones_orientation_tag_turns_the_photo_upright(tmp_path):
    Image = pillow()
    upright = Image.fromarray(np.where(seven() > 0, 20, 235).astype(np.uint8))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as the sensor saw it: turned a quarter
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "photo.png"
    stored.save(path, exif=exif)
    np.testing.assert_allclose(image_to_column(path), image_to_column(upright), atol=1e-12)
    assert not np.allclose(image_to_column(stored), image_to_column(upright), atol=0.1)


def test_a_file_that_is_not_an_image_or_is_missing(tmp_path):
    pillow()
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    with pytest.raises(DataFormatError, match=r"'.*notes.txt' is not an image Pillow can read \(no format it knows\)"):
        image_to_column(text)
    with pytest.raises(DataFormatError, match="no format it knows"):
        probe_image(text)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((PHOTOS / "two.png").read_bytes()[:500])
    assert probe_image(truncated) == ("PNG", 180, 240)  # the header is sound ...
    with pytest.raises(DataFormatError, match="cut.png' is not an image Pillow can read"):
        image_to_column(truncated)  # ... the pixels are not
    with pytest.raises(FileNotFoundError):
        image_to_column(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError):
        probe_image(tmp_path / "missing.png")


# ---------------------------------------------------------------- minibp predict


LINE = re.compile(r"^(?P<path>.+): (?P<guess>\d+)(?:  \((?P<scores>\d+: \d\.\d\d(?:, \d+: \d\.\d\d)*)\))?$")


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.npz"
    bp.save(bp.mlp([784, 12, 10], rng=0), path)
    return path


def test_predict_prints_one_line_per_image_with_the_guess_and_the_top_outputs(model, capsys):
    pillow()
    photos = [PHOTOS / "two.png", PHOTOS / "seven.png", PHOTOS / "two.png"]
    assert main(["predict", str(model), *map(str, photos)]) == 0
    first, *lines = capsys.readouterr().out.splitlines()
    assert first == f"{model}: the numbers are outputs of the final Sigmoid"  # what they are, said first
    assert len(lines) == 3
    net = bp.load(model)
    for line, photo in zip(lines, photos):
        match = LINE.match(line)
        assert match and match["path"] == str(photo), line
        a = net(image_to_column(photo))[:, 0]
        assert int(match["guess"]) == int(np.argmax(a))
        shown = [pair.split(": ") for pair in match["scores"].split(", ")]
        assert [int(k) for k, _ in shown] == list(np.argsort(-a, kind="stable")[:3])
        assert [v for _, v in shown] == [f"{a[int(k)]:.2f}" for k, _ in shown]


def test_predict_top(model, capsys):
    pillow()
    photo = str(PHOTOS / "four.png")
    assert main(["predict", str(model), photo, "--top", "0"]) == 0
    assert re.fullmatch(r".*four\.png: \d\n", capsys.readouterr().out)  # no numbers: nothing to say about them
    assert main(["predict", str(model), photo, "--top", "20"]) == 0  # more than there are outputs: all ten
    assert LINE.match(capsys.readouterr().out.splitlines()[-1])["scores"].count(",") == 9


def test_predict_refuses_bad_input_before_loading_the_model(model, tmp_path, capsys, monkeypatch):
    pillow()
    import minibp.io

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(minibp.io, "load", never)
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    photo = str(PHOTOS / "two.png")
    cases = [
        ([str(tmp_path / "missing.npz"), photo], ["no such model file: '"]),
        ([str(model), str(tmp_path / "missing.png")], ["no such file: '"]),
        ([str(model), str(tmp_path)], ["is a directory, not a file"]),
        ([str(model), str(text)], ["notes.txt' is not an image Pillow can read (no format it knows)"]),
        ([str(model), photo, "--top", "-1"], ["--top must be >= 0, got -1"]),
        (
            [str(tmp_path / "missing.npz"), str(text), "missing.png", "--top", "-2"],
            ["no such model file", "--top must be >= 0", "notes.txt' is not an image", "no such file: 'missing.png'"],
        ),
    ]
    for argv, messages in cases:
        with pytest.raises(SystemExit) as raised:
            main(["predict", *argv])
        assert raised.value.code == 2
        out, err = capsys.readouterr()
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == len(messages), err
        for line, message in zip(lines, messages):
            assert line.startswith("minibp predict: error: ") and message in line, (line, message)
    with pytest.raises(SystemExit) as raised:
        main(["predict", str(model)])  # argparse: at least one image
    assert raised.value.code == 2


def test_predict_refuses_a_model_that_does_not_take_28_by_28_images(tmp_path, capsys):
    pillow()
    path = tmp_path / "small.npz"
    bp.save(bp.mlp([100, 5, 10], rng=0), path)
    with pytest.raises(SystemExit) as raised:
        main(["predict", str(path), str(PHOTOS / "two.png")])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "small.npz takes 100 inputs, but an image becomes 784 (28 x 28 pixels)" in err


def test_predict_failures_while_running_exit_1_and_the_other_images_are_still_predicted(model, tmp_path, capsys):
    Image = pillow()
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 40), 200, dtype=np.uint8)).save(blank)
    cut = tmp_path / "cut.png"
    cut.write_bytes((PHOTOS / "two.png").read_bytes()[:500])
    photo = str(PHOTOS / "seven.png")
    assert main(["predict", str(model), str(blank), photo, str(cut)]) == 1
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()] == [str(model), photo]
    lines = err.splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    assert lines[0].startswith("minibp predict: error: ") and "blank.png: " in lines[0] and "blank" in lines[0]
    assert lines[1].count("cut.png") == 1 and "is not an image Pillow can read" in lines[1]  # named once

    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip archive")
    assert main(["predict", str(corrupt), photo]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("minibp: error: ") and "Traceback" not in err


def test_predict_reports_a_model_whose_output_overflows(tmp_path, capsys):
    pillow()
    net = bp.mlp([784, 3, 10], rng=0)[:-1]  # ends in Dense: nothing bounds its output
    net[0].b.data[...] = 50.0  # hidden activations near 1 ...
    net[-1].w.data[...] = 1e308  # ... so that w a, about 3e308, overflows float64
    path = tmp_path / "huge.npz"
    bp.save(net, path)
    photo = str(PHOTOS / "two.png")
    assert main(["predict", str(path), photo]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: the numbers are the output layer's weighted inputs z") and out.count("\n") == 1
    assert err == f"minibp predict: error: the model's output for {photo!r} is not finite (NaN or infinity)\n"


def test_predict_without_pillow_says_what_to_install(model, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    assert main(["predict", str(model), str(PHOTOS / "two.png")]) == 1
    assert "pip install minibp[image]" in capsys.readouterr().err


def test_the_reference_shows_predicts_output_as_it_is():
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    section = page.split("## `minibp predict`", 1)[1].split("\n## ", 1)[0]
    first, *shown = section.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert first == "model.npz: the numbers are probabilities (softmax of the output layer's z)"
    assert shown and all(LINE.match(line) for line in shown), shown


# ---------------------------------------------------------------- the how-to, its photos and its figure


def page_script() -> str:
    """The Python blocks of the how-to, in page order, with their included sections: what a reader copies."""
    source = EXAMPLE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.M | re.S)
    code = []
    for block in blocks:
        for line in block.splitlines():
            name, section = re.fullmatch(r'--8<-- "([\w.]+):(\w+)"', line).groups()
            assert name == EXAMPLE.name
            text = source.split(f"# --8<-- [start:{section}]\n", 1)[1].split("# --8<-- [end:", 1)[0]
            code.append(textwrap.dedent(text.rsplit("\n", 1)[0] + "\n"))
    return "".join(code)


def test_the_howto_runs_from_any_folder_and_guesses_the_photos(monkeypatch, capsys, tmp_path):
    pillow()
    monkeypatch.chdir(tmp_path)  # a folder that is not the repository, as a downloaded notebook's
    guesses = load_path("_howto_own_digit", EXAMPLE).main()
    printed = capsys.readouterr().out
    assert len(guesses) == 5 and all(0 <= g <= 9 for g in guesses)
    assert sum(g == right for g, right in zip(guesses, [2, 3, 4, 7, 9])) >= 3  # two, three, four, seven, nine
    lines = printed.splitlines()
    assert re.fullmatch(r"validation accuracy: \d+\.\d%", lines[0])
    assert lines[1] == "photos: ['two.png', 'three.png', 'four.png', 'seven.png', 'nine.png']"
    assert lines[2] == "input: (784, 5) float64 pixels in [0, 1]"
    scores = r"\d: \d\.\d\d, \d: \d\.\d\d, \d: \d\.\d\d"
    assert all(re.fullmatch(rf"\w+\.png +-> \d   \(outputs {scores}\)", line) for line in lines[3:])

    # The page's blocks, copied in order into one file, run as they are and print the same.
    exec(compile(page_script(), str(PAGE), "exec"), {"__name__": "__page__"})
    assert capsys.readouterr().out == printed
    assert list(tmp_path.iterdir()) == []  # and leave nothing behind


def test_example_digits_are_the_photos_in_the_package_found_from_any_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    photos = example_digits()
    assert [p.name for p in photos] == ["two.png", "three.png", "four.png", "seven.png", "nine.png"]
    package = Path(digit_module.__file__).resolve().parent / "digits"
    assert all(p.is_absolute() and p.is_file() and p.parent == package for p in photos)
    assert sorted(p.name for p in package.iterdir()) == sorted(p.name for p in photos)  # nothing else ships


def test_a_missing_example_photo_is_reported_with_where_it_was_looked_for(monkeypatch):
    monkeypatch.setattr(digit_module, "EXAMPLE_DIGITS", ("two", "eleven"))
    with pytest.raises(DataNotFoundError, match=r"\['eleven.png'\] are not in .*digits: this installation"):
        example_digits()


def test_images_to_columns_stacks_a_column_per_image_in_order():
    images = [seven(), seven()[::-1], seven().T]
    x = images_to_columns(images)
    np.testing.assert_array_equal(x, np.hstack([image_to_column(image) for image in images]))
    assert x.shape == (784, 3) and x.dtype == np.float64
    np.testing.assert_array_equal(images_to_columns(iter(images), dtype=np.float32), x.astype(np.float32))
    np.testing.assert_array_equal(images_to_columns(np.stack([seven(), seven()])), x[:, [0, 0]])  # (m, rows, cols)


def test_images_to_columns_refuses_an_empty_set_and_a_single_image(tmp_path):
    for nothing, kind in (([], "list"), ((), "tuple"), (iter([]), "list_iterator"), (tmp_path.glob("*.png"), "")):
        with pytest.raises(ShapeError, match=rf"no images were given \(an empty {kind}\w*\), so there is no batch"):
            images_to_columns(nothing)
    for one in (str(PHOTOS / "two.png"), PHOTOS / "two.png", seven()):
        with pytest.raises(TypeError, match="expected a collection of images, got one"):
            images_to_columns(one)


def test_the_docstring_example_of_images_to_columns_runs():
    pillow()
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    tests = finder.find(images_to_columns, "images_to_columns", globs={})
    for test in tests:
        runner.run(test)
    assert runner.failures == 0 and runner.tries == 2


def test_the_committed_photos_are_what_the_script_makes(tmp_path):
    Image = pillow()
    script = load_path("_make_digit_photos", ROOT / "scripts" / "make_digit_photos.py")
    made = script.make_photos(tmp_path)
    committed = sorted(PHOTOS.iterdir())
    assert [p.name for p in committed] == sorted(p.name for p in made) and len(committed) <= 5
    assert [p.name for p in made] == [p.name for p in example_digits()]
    for path in committed:
        assert path.stat().st_size < 12_000, path  # small enough for the repository
        with Image.open(path) as ours, Image.open(tmp_path / path.name) as again:
            assert ours.format == "PNG" and ours.mode == "L" and ours.size == (180, 240)
            difference = np.abs(np.asarray(ours, dtype=int) - np.asarray(again, dtype=int))
        assert difference.max() <= 1, path  # the same but for a rounding, whatever the platform


def test_the_photos_look_like_photos_of_dark_ink_on_uneven_paper():
    Image = pillow()
    for path in sorted(PHOTOS.glob("*.png")):
        with Image.open(path) as img:
            a = np.asarray(img, dtype=float)
        paper = a[:10]  # the top rows, above the digit
        assert 180 < paper.mean() < 250 and paper.std() > 0.5  # light, and not flat
        assert a.min() < 90  # dark ink
        assert a[:20, :20].mean() > a[-20:, -20:].mean() + 5  # brighter at the top left


def test_the_figure_shows_each_photo_and_its_28_by_28_digit(tmp_path):
    pillow()
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    script = load_path("_make_digit_photos", ROOT / "scripts" / "make_digit_photos.py")
    path = tmp_path / "own-digit.png"
    script.draw_figure(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
