"""Real data: the book's network on the bundled sample, and Fashion-MNIST loading and training.

1. ``sample``: the book's settings ([784, 30, 10], N(0, 1) initialisation,
   eta = 3.0, m = 10, 30 epochs) trained on the 4,000 training digits of the
   bundled sample, for several seeds; prints the accuracy on its 500
   validation and 500 test digits for each seed and the medians.
2. ``load``: reading the full Fashion-MNIST training images (60,000 x 784),
   with the time to decompress the gzip file and the time to parse the IDX
   bytes (``read_idx`` on the decompressed bytes in memory) given apart, then
   the whole ``load_fashion_mnist`` call.
3. ``fashion``: a full-size run on Fashion-MNIST (50,000 training images,
   the same settings, ``--epochs`` epochs) with its test accuracy.

Fashion-MNIST is found in ``MINIBP_DATA``, the user cache or Debian's
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``);
parts 2 and 3 are skipped when it is not there.

    python benchmarks/bench_data.py [--seeds 0 1 2 3 4] [--epochs 5] [--only sample|load|fashion]
"""

from __future__ import annotations

import argparse
import gzip
import io
import statistics
import time

import minibp as bp
from minibp.data import DataNotFoundError, load_fashion_mnist, load_sample, read_idx
from minibp.data.mnist import FASHION_MNIST_SYSTEM_DIR, _find, data_home


def sample(seeds: list[int], epochs: int) -> None:
    data = load_sample()
    print(f"Bundled sample, book settings: [784, 30, 10], init='book', eta=3.0, m=10, {epochs} epochs")
    print(f"{'seed':>6} {'validation':>12} {'test':>12} {'seconds':>8}")
    val, test = [], []
    for seed in seeds:
        net = bp.mlp([784, 30, 10], init="book", rng=seed)
        start = time.perf_counter()
        bp.train(
            net,
            data.training,
            optimizer=bp.SGD(net.parameters(), eta=3.0),
            epochs=epochs,
            mini_batch_size=10,
            rng=seed,
            verbose=False,
            progress=False,
        )
        seconds = time.perf_counter() - start
        val.append(bp.accuracy(net, *data.validation))
        test.append(bp.accuracy(net, *data.test))
        print(f"{seed:>6} {val[-1]:>12.1%} {test[-1]:>12.1%} {seconds:>8.1f}", flush=True)
    print(f"{'median':>6} {statistics.median(val):>12.1%} {statistics.median(test):>12.1%}")


def fashion_dir():
    for directory in (data_home() / "fashion-mnist", FASHION_MNIST_SYSTEM_DIR):
        paths = _find(directory)
        if paths is not None:
            return paths
    return None


def load(repeat: int) -> None:
    paths = fashion_dir()
    if paths is None:
        print("Fashion-MNIST not found: skipping the loading benchmark")
        return
    images = paths[0]
    raw = images.read_bytes()
    keys = ("read file", "decompress", "parse", "read_idx", "load")
    best = dict.fromkeys(keys, float("inf"))
    for _ in range(repeat):
        t0 = time.perf_counter()
        raw = images.read_bytes()
        t1 = time.perf_counter()
        plain = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        t2 = time.perf_counter()
        array = read_idx(io.BytesIO(plain))
        t3 = time.perf_counter()
        read_idx(images)
        t4 = time.perf_counter()
        load_fashion_mnist(paths[0].parent)
        t5 = time.perf_counter()
        for key, value in zip(keys, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            best[key] = min(best[key], value)
    print(f"Fashion-MNIST training images {images} ({len(raw):,} bytes gzipped, {len(plain):,} raw), {array.shape}")
    print(
        f"  best of {repeat}: read file {best['read file']:.3f} s, decompress {best['decompress']:.3f} s, "
        f"parse (read_idx on raw bytes) {best['parse']:.3f} s"
    )
    print(f"  read_idx() on the gzip file, decompression included: {best['read_idx']:.3f} s")
    print(f"  load_fashion_mnist(), all four files to float64 Splits: {best['load']:.3f} s")


def fashion(epochs: int, seed: int) -> None:
    try:
        data = load_fashion_mnist()
    except DataNotFoundError as err:
        print(f"skipping the Fashion-MNIST run: {err}")
        return
    net = bp.mlp([784, 30, 10], init="book", rng=seed)
    print(f"Fashion-MNIST, [784, 30, 10], init='book', eta=3.0, m=10, {epochs} epochs, seed {seed}:")
    history = bp.train(
        net,
        data.training,
        optimizer=bp.SGD(net.parameters(), eta=3.0),
        epochs=epochs,
        mini_batch_size=10,
        evaluation_data=data.validation,
        rng=seed,
        verbose=True,
        progress=False,
    )
    X, y = data.test
    print(f"  seconds per epoch: {', '.join(f'{s:.1f}' for s in history.seconds)}")
    print(f"  test accuracy: {bp.evaluate(net, X, y)} / {X.shape[1]} = {bp.accuracy(net, X, y):.1%}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--sample-epochs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the Fashion-MNIST run")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the loading benchmark")
    parser.add_argument("--only", choices=["sample", "load", "fashion"])
    args = parser.parse_args(argv)
    if args.only in (None, "sample"):
        sample(args.seeds, args.sample_epochs)
    if args.only in (None, "load"):
        load(args.repeat)
    if args.only in (None, "fashion"):
        fashion(args.epochs, args.seeds[0])


if __name__ == "__main__":
    main()
