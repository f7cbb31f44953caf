"""Loaders: the bundled sample, MNIST-format directories, the book's split, the CLI on real data."""

from __future__ import annotations

import io

import numpy as np
import pytest

import minibp.data.mnist as mnist_module
from minibp.cli import main
from minibp.data import (
    DataNotFoundError,
    Splits,
    data_home,
    load_dataset,
    load_fashion_mnist,
    load_idx_directory,
    load_mnist,
    load_sample,
    write_idx,
)
from minibp.data.sample import SAMPLE_SPLIT
from minibp.errors import DataFormatError, HyperparameterError, MinibpError

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_mnist_dir(directory, rng, n_train=60, n_test=12, shape=(28, 28), suffix=".gz"):
    """Write four small MNIST-format files; return the arrays written."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = (
        rng.integers(0, 256, size=(n_train, *shape), dtype=np.uint8),
        rng.integers(0, 10, size=n_train, dtype=np.uint8),
        rng.integers(0, 256, size=(n_test, *shape), dtype=np.uint8),
        rng.integers(0, 10, size=n_test, dtype=np.uint8),
    )
    for name, array in zip(NAMES, arrays):
        write_idx(directory / f"{name}{suffix}", array)
    return arrays


@pytest.fixture
def no_system_fashion(monkeypatch, tmp_path):
    monkeypatch.setattr(mnist_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-such-system-dir")


# ---------------------------------------------------------------- the bundled sample


def test_sample_shapes_dtype_range_and_layout():
    data = load_sample()
    assert isinstance(data, Splits)
    for (X, y), n in zip(data, SAMPLE_SPLIT):
        assert X.shape == (784, n) and y.shape == (n,)
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert X.min() == 0.0 and X.max() == 1.0
        assert X.T.flags.c_contiguous  # each example contiguous in memory
        # pixels are bytes divided by 255
        np.testing.assert_allclose(X * 255, np.round(X * 255), atol=1e-9)


def test_sample_is_balanced_and_stratified():
    data = load_sample()
    for (_, y), n in zip(data, SAMPLE_SPLIT):
        assert set(np.unique(y)) == set(range(10))
        np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, n // 10))


def test_sample_splits_hold_distinct_real_digits():
    data = load_sample()
    rows = np.concatenate([X.T for X, _ in data])
    assert len({row.tobytes() for row in rows}) == sum(SAMPLE_SPLIT)
    # real handwriting, not noise: most pixels are background, a digit covers roughly 10-30% of them
    ink = (rows > 0.5).mean(axis=1)
    assert 0.03 < np.median(ink) < 0.35
    assert (rows == 0).mean() > 0.6


def test_sample_is_deterministic_and_fresh():
    a, b = load_sample(), load_sample()
    for (Xa, ya), (Xb, yb) in zip(a, b):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)
    a.training[0][:, 0] = -1.0
    a.training[1][0] = 99
    c = load_sample()
    np.testing.assert_array_equal(c.training[0], b.training[0])
    np.testing.assert_array_equal(c.training[1], b.training[1])


def test_sample_float32():
    data = load_sample(dtype=np.float32)
    for X, _ in data:
        assert X.dtype == np.float32 and X.T.flags.c_contiguous
    np.testing.assert_allclose(data.test[0], load_sample().test[0], atol=1e-7)
    with pytest.raises(TypeError, match="floating"):
        load_sample(dtype=np.int32)


# ---------------------------------------------------------------- MNIST-format directories


def test_load_mnist_book_split_from_minibp_data(monkeypatch, tmp_path, rng):
    monkeypatch.setenv("MINIBP_DATA", str(tmp_path))
    train_images, train_labels, test_images, test_labels = write_mnist_dir(tmp_path / "mnist", rng)
    data = load_mnist()
    (X, y), (Xv, yv), (Xt, yt) = data
    # 60 training images: the last sixth (10) is validation, as 10,000 of 60,000 in the book
    assert X.shape == (784, 50) and Xv.shape == (784, 10) and Xt.shape == (784, 12)
    np.testing.assert_array_equal(X, train_images[:50].reshape(50, 784).T / 255)
    np.testing.assert_array_equal(Xv, train_images[50:].reshape(10, 784).T / 255)
    np.testing.assert_array_equal(Xt, test_images.reshape(12, 784).T / 255)
    np.testing.assert_array_equal(y, train_labels[:50])
    np.testing.assert_array_equal(yv, train_labels[50:])
    np.testing.assert_array_equal(yt, test_labels)
    for Xs, ys in data:
        assert Xs.dtype == np.float64 and ys.dtype == np.int64
        assert Xs.T.flags.c_contiguous


def test_split_caps_validation_at_ten_thousand(tmp_path, rng):
    # 60,012 tiny images: validation must be exactly the last 10,000
    write_mnist_dir(tmp_path, rng, n_train=60_012, n_test=3, shape=(1, 2))
    data = load_idx_directory(tmp_path)
    assert data.training[0].shape == (2, 50_012)
    assert data.validation[0].shape == (2, 10_000)


def test_explicit_directory_raw_files_and_float32(tmp_path, rng):
    train_images, *_ = write_mnist_dir(tmp_path / "plain", rng, suffix="")
    data = load_mnist(tmp_path / "plain", dtype=np.float32)
    assert data.training[0].dtype == np.float32
    np.testing.assert_allclose(data.training[0][:, 0], train_images[0].ravel() / 255, rtol=1e-6)


def test_validation_size(tmp_path, rng):
    write_mnist_dir(tmp_path, rng, n_train=30)
    data = load_idx_directory(tmp_path, validation_size=7)
    assert data.training[0].shape[1] == 23 and data.validation[0].shape[1] == 7
    for bad in (0, 30, -1, 2.5, True):
        with pytest.raises(HyperparameterError, match="validation_size"):
            load_idx_directory(tmp_path, validation_size=bad)


def test_missing_files_say_where_and_how(monkeypatch, tmp_path, rng):
    monkeypatch.setenv("MINIBP_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="minibp data download mnist") as info:
        load_mnist()
    assert str(tmp_path / "mnist") in str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, MinibpError)
    write_mnist_dir(tmp_path / "partial", rng)
    (tmp_path / "partial" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        load_idx_directory(tmp_path / "partial")


def test_mnist_requires_28x28(tmp_path, rng):
    write_mnist_dir(tmp_path, rng, shape=(27, 28))
    with pytest.raises(DataFormatError, match="28x28"):
        load_mnist(tmp_path)
    assert load_idx_directory(tmp_path).training[0].shape == (27 * 28, 50)


def test_files_that_do_not_fit_together(tmp_path, rng):
    write_mnist_dir(tmp_path, rng)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(59, dtype=np.uint8))
    with pytest.raises(DataFormatError, match="59 labels"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(60, 10, dtype=np.uint8))
    with pytest.raises(DataFormatError, match="label 10 is not in 0..9"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros((60, 1), dtype=np.uint8))
    with pytest.raises(DataFormatError, match="labels of shape"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(60, dtype=np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((12, 28, 27), dtype=np.uint8))
    with pytest.raises(DataFormatError, match="test images"):
        load_idx_directory(tmp_path)


def test_corrupt_file_in_directory_is_named(tmp_path, rng):
    write_mnist_dir(tmp_path, rng)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataFormatError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


def test_fashion_mnist_search_order(monkeypatch, tmp_path, rng):
    system = tmp_path / "usr-share"
    monkeypatch.setattr(mnist_module, "FASHION_MNIST_SYSTEM_DIR", system)
    monkeypatch.setenv("MINIBP_DATA", str(tmp_path / "home"))
    with pytest.raises(DataNotFoundError, match="Fashion-MNIST not found"):
        load_fashion_mnist()
    system_arrays = write_mnist_dir(system, rng, n_train=12)
    assert load_fashion_mnist().training[0].shape == (784, 10)
    np.testing.assert_array_equal(load_dataset("fashion-mnist").test[1], system_arrays[3])
    write_mnist_dir(tmp_path / "home" / "fashion-mnist", rng, n_train=18)
    assert load_fashion_mnist().training[0].shape == (784, 15)  # the user's copy comes first


def test_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIBP_DATA", str(tmp_path / "a"))
    assert data_home() == tmp_path / "a"
    monkeypatch.delenv("MINIBP_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_home() == tmp_path / "cache" / "minibp"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home" / ".cache" / "minibp"


def test_load_dataset_names(tmp_path, rng):
    assert load_dataset("sample").training[0].shape == (784, 4000)
    write_mnist_dir(tmp_path, rng)
    assert load_dataset(str(tmp_path)).training[0].shape == (784, 50)
    assert load_dataset(tmp_path, dtype=np.float32).test[0].dtype == np.float32
    with pytest.raises(DataNotFoundError, match="unknown data set 'mnistt'"):
        load_dataset("mnistt")


@pytest.mark.skipif(
    mnist_module._find(mnist_module.FASHION_MNIST_SYSTEM_DIR) is None,
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_real_fashion_mnist_from_debian(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIBP_DATA", str(tmp_path))
    data = load_fashion_mnist(dtype=np.float32)
    assert [X.shape for X, _ in data] == [(784, 50_000), (784, 10_000), (784, 10_000)]
    for X, y in data:
        assert X.T.flags.c_contiguous and 0 <= X.min() and X.max() <= 1
        assert np.bincount(y).min() > 0.08 * y.size  # ten roughly balanced classes
    np.testing.assert_array_equal(np.bincount(data.test[1]), np.full(10, 1000))


# ---------------------------------------------------------------- the command line


def test_cli_trains_on_the_sample(capsys):
    assert main(["train", "--data", "sample", "--epochs", "1", "--seed", "0", "--no-progress", "--test"]) == 0
    out = capsys.readouterr().out
    assert "on sample: 4000 examples, evaluating on 500" in out
    assert "Epoch 0:" in out and "/ 500" in out
    assert "Test:" in out


def test_cli_trains_on_a_directory(tmp_path, rng, capsys):
    write_mnist_dir(tmp_path, rng, n_train=60)
    assert main(["train", "--data", str(tmp_path), "--epochs", "1", "--mini-batch-size", "5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "50 examples, evaluating on 10" in out


def test_cli_reports_missing_data(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MINIBP_DATA", str(tmp_path))
    assert main(["train", "--data", "mnist", "--epochs", "1", "--quiet"]) == 1
    assert "minibp data download mnist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # bad input: exit status 2, before anything is loaded
        main(["train", "--data", str(tmp_path / "nowhere"), "--quiet"])
    assert exit_info.value.code == 2
    assert "unknown data set" in capsys.readouterr().err


def test_bundled_file_is_what_the_build_script_writes(rng):
    """The split depends only on the digits, and the archive only on the arrays: rebuilding gives the same bytes."""
    import importlib.util
    from importlib import resources
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "build_sample.py"
    if not script.is_file():
        pytest.skip("scripts/ is not part of this installation")
    spec = importlib.util.spec_from_file_location("build_sample", script)
    build_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_sample)
    bundled = resources.files("minibp.data").joinpath("mnist_sample.npz").read_bytes()
    with np.load(io.BytesIO(bundled), allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
    order = rng.permutation(len(labels))
    images_again, labels_again = build_sample.split(images[order], labels[order])
    np.testing.assert_array_equal(images_again, images)
    np.testing.assert_array_equal(labels_again, labels)
    assert build_sample.npz_bytes({"images": images_again, "labels": labels_again}) == bundled
