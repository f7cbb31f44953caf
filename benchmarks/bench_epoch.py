"""Seconds per epoch of the book's workload: minibp's fused and module epochs against their baselines.

The workload: one epoch of mini-batch SGD (eta = 3.0, m = 10, quadratic cost)
over ``--n`` (50,000) random examples of 784 pixels, for the networks of
``--sizes``: [784, 30, 10] and [784, 100, 10] in float64 and [784, 30, 10] in
float32 by default. The pixel values are random: the speed of these
operations does not depend on them.

Implementations timed (seconds of one epoch each):

* fused     ``minibp.train(..., fused=None)``: the fused epoch of minibp/fast.py
            (the warm-up passes ``fused=True`` so a network it does not accept
            fails loudly); the time is ``History.seconds[0]``, the epoch alone
            (``train``'s checks of the whole data set are printed apart)
* modules   ``minibp.train(..., fused=False)``: the modules' own forward/backward
* numpy     ``numpy_epoch`` of benchmarks/_reference.py: the same algorithm
            vectorised over the mini-batch by hand with bare numpy
* torch     torch.nn.Linear/Sigmoid, the quadratic cost, torch.optim.SGD, at the
            better of one thread and torch's default thread count
            (``--no-torch`` skips it; skipped when torch is not installed)
* book      ``BookNetwork`` of benchmarks/_reference.py, one example at a time
            as the book's chapter 1 program (only with ``--book``: slow; float64 only)
* current, d00ef60
            ``minibp.train`` (default arguments) in a fresh subprocess
            (benchmarks/_epoch_child.py) with ``PYTHONPATH`` set to this tree
            and to a ``git worktree`` of commit d00ef60 (the previous release,
            whose ``train`` has no ``fused``), each child timing one epoch after
            a warm-up epoch; the two run one after the other, their order
            alternating from one repeat to the next. The worktree is created
            when missing (in the temporary directory, or ``--baseline-dir``) and
            the main working tree is never changed; if that fails the column is
            skipped with a message (``--no-baseline`` skips it outright).

numpy, book and both minibp runs use one BLAS thread (threadpoolctl), as
``train`` does by default.

Each of the ``--repeat`` (5) repeats runs every implementation once, in turn
(the in-process order reversed on odd repeats), so that a change in the
machine's load hits them alike; every ratio is computed within a repeat, and
the table gives its median, min and max over the repeats. Before the repeats
each in-process implementation runs once on a few thousand examples (warm-up).

Output: a header (python/numpy/torch versions, BLAS library, 1-minute load
average at start; the load average at the end closes the report), then one
table per network. Rows, each a ratio of seconds per epoch:

* fused / numpy       fused ``train`` over the bare numpy loop;      target <= 0.95
* fused / d00ef60     current over d00ef60's ``train``, both in
                      subprocesses (the "current" and "d00ef60" runs); target <= 1.0
* modules / numpy     ``train(fused=False)`` over the numpy loop;     target <= 1.7
* torch / fused       PyTorch over fused ``train`` (how many times
                      slower PyTorch is);                target >= 4 for [784, 30, 10]
* book / fused        the per-example book over fused ``train`` (``--book``; no target)

Columns: median, min, max over the repeats; target; met? ("yes"/"no" for the
median, then in how many repeats the ratio met the target). Under each table,
the median seconds per epoch of every implementation.

    python benchmarks/bench_epoch.py [--n 50000] [--repeat 5] [--sizes 784,30,10 784,100,10 784,30,10:float32]
                                     [--no-torch] [--no-baseline] [--baseline-dir DIR] [--book]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import threadpoolctl
from _reference import BookNetwork, numpy_epoch
from threadpoolctl import threadpool_info, threadpool_limits

import minibp as bp

ROOT = Path(__file__).resolve().parent.parent  # the current source tree
CHILD = Path(__file__).resolve().parent / "_epoch_child.py"
BASELINE_COMMIT = "d00ef60"
DEFAULT_SIZES = ["784,30,10", "784,100,10", "784,30,10:float32"]
M, ETA = 10, 3.0
WARMUP_EXAMPLES = 2_000


class BaselineError(RuntimeError):
    pass


def _git(*args, cwd=ROOT) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise BaselineError(f"git {' '.join(args)}: {(out.stderr or out.stdout).strip()}")
    return out.stdout.strip()


def baseline_tree(commit: str, directory: str | None) -> Path:
    """Return a checkout of ``commit``: the existing one at ``directory`` or a new ``git worktree`` there.

    Only adds a worktree (``git worktree add --detach``); the main working
    tree, its index and its HEAD are left alone.
    """
    full = _git("rev-parse", "--verify", f"{commit}^{{commit}}")
    path = Path(directory) if directory else Path(tempfile.gettempdir()) / f"minibp-{commit}"
    path = path.resolve()
    if path.exists():
        try:
            top = Path(_git("rev-parse", "--show-toplevel", cwd=path)).resolve()
            head = _git("rev-parse", "HEAD", cwd=path)
        except BaselineError as err:
            raise BaselineError(f"{path} exists but is not a git checkout ({err})") from None
        if top != path or head != full:
            raise BaselineError(f"{path} exists but is not a checkout of {commit} (top {top}, HEAD {head[:10]})")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", str(path), full)
    if not (path / "minibp" / "__init__.py").exists():
        raise BaselineError(f"{path} has no minibp/__init__.py")
    return path


def run_child(tree: Path, sizes, dtype, n: int, seed: int, path: str = "fused") -> float:
    """Time one epoch of ``train`` from the source tree ``tree`` in a fresh process (after a warm-up epoch).

    ``path`` is ``"fused"`` (``train``'s default) or ``"modules"`` (``fused=False``).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)  # ahead of the editable install of the current tree
    cmd = [sys.executable, str(CHILD), "--sizes", ",".join(map(str, sizes)), "--dtype", np.dtype(dtype).name]
    cmd += ["--n", str(n), "--seed", str(seed), "--path", path]
    out = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-5:])
        raise BaselineError(f"child for {tree} failed (exit {out.returncode}):\n{tail}")
    try:
        report = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BaselineError(f"child for {tree} printed no result: {out.stdout[-500:]!r}") from None
    used = Path(report["minibp"]).resolve()
    if tree.resolve() not in used.parents:
        raise BaselineError(f"child meant for {tree} imported minibp from {used}")
    return float(report["seconds"])


def make_torch_runner(torch, weights, biases, rows, targets, dtype, orders):
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    layers = []
    for w, b in zip(weights, biases):
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).to(tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b.ravel()))
        layers += [lin, torch.nn.Sigmoid()]
    tnet = torch.nn.Sequential(*layers)
    topt = torch.optim.SGD(tnet.parameters(), lr=ETA)
    trows, ttargets = torch.from_numpy(rows), torch.from_numpy(targets)
    default_threads = torch.get_num_threads()

    def run(i, count, threads):
        torch.set_num_threads(threads)
        order = torch.from_numpy(orders[i][:count])
        start = time.perf_counter()
        for k in range(0, count, M):
            idx = order[k : k + M]
            x, y = trows[idx], ttargets[idx]
            topt.zero_grad()
            loss = 0.5 * ((tnet(x) - y) ** 2).sum() / len(idx)
            loss.backward()
            topt.step()
        seconds = time.perf_counter() - start
        torch.set_num_threads(default_threads)
        return seconds

    return {f"torch/{t}": (lambda i, count, t=t: run(i, count, t)) for t in sorted({1, default_threads})}


def bench(sizes, dtype, n, repeat, *, torch, with_book, baseline):
    """Run the interleaved repeats for one network; return ``(times, setup)``: seconds per implementation."""
    rng = np.random.default_rng(0)  # the same data and network as _epoch_child.py builds
    rows = rng.random((n, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], n)
    targets = np.eye(sizes[-1], dtype=dtype)[labels]
    X = rows.T
    proto = bp.mlp(sizes, rng=1, dtype=dtype)
    weights = [proto[i].w.data.copy() for i in range(0, len(proto), 2)]
    biases = [proto[i].b.data.copy() for i in range(0, len(proto), 2)]
    orders = [np.random.default_rng(100 + i).permutation(n) for i in range(repeat)]
    runners = {}
    setup = []

    def train_runner(fused):
        net = bp.mlp(sizes, rng=1, dtype=dtype)
        optimizer = bp.SGD(net.parameters(), eta=ETA)

        def run(i, count, fused_arg=fused):
            start = time.perf_counter()
            history = bp.train(
                net,
                (X[:, :count], labels[:count]),
                optimizer=optimizer,
                epochs=1,
                mini_batch_size=M,
                rng=100 + i,
                verbose=False,
                progress=False,
                fused=fused_arg,
            )
            if count == n:
                setup.append(time.perf_counter() - start - history.seconds[0])
            return history.seconds[0]  # the epoch itself; the data checks once per call are reported apart

        return run

    fused_run = train_runner(None)
    runners["fused"] = fused_run
    runners["modules"] = train_runner(False)
    w_np, b_np = [w.copy() for w in weights], [b.copy() for b in biases]

    def numpy_run(i, count):
        with threadpool_limits(limits=1, user_api="blas"), np.errstate(over="ignore"):  # as train does
            start = time.perf_counter()
            numpy_epoch(w_np, b_np, rows, targets, orders[i][:count], M, ETA)
            return time.perf_counter() - start

    runners["numpy"] = numpy_run
    if torch is not None:
        runners.update(make_torch_runner(torch, weights, biases, rows, targets, dtype, orders))
    if with_book:
        data = [(rows[i].reshape(-1, 1), targets[i].reshape(-1, 1)) for i in range(n)]
        book = BookNetwork(weights, biases)

        def book_run(i, count):
            with threadpool_limits(limits=1, user_api="blas"), np.errstate(over="ignore"):
                start = time.perf_counter()
                book.epoch(data, orders[i][:count], M, ETA)
                return time.perf_counter() - start

        runners["book"] = book_run

    # Warm-up: every implementation once on a few examples; the fused one must be accepted by minibp.fast.
    warm = min(n, WARMUP_EXAMPLES)
    try:
        fused_run(0, warm, fused_arg=True)
    except ValueError as err:
        print(f"  ! {err}: the 'fused' column times the modules' epoch", flush=True)
    for run in runners.values():
        run(0, warm)
    setup.clear()

    times = {name: [] for name in runners}
    children = {}
    if baseline is not None:
        children = {"current": ROOT, BASELINE_COMMIT: baseline}
        times.update({name: [] for name in children})
    for i in range(repeat):
        names = list(runners) if i % 2 == 0 else list(reversed(runners))
        for name in names:
            times[name].append(runners[name](i, n))
        if children:
            order = list(children) if i % 2 == 0 else list(reversed(children))
            try:
                for name in order:
                    times[name].append(run_child(children[name], sizes, dtype, n, 100 + i))
            except BaselineError as err:
                print(f"  ! the subprocess runs failed, skipping the {BASELINE_COMMIT} column: {err}", flush=True)
                for name in children:
                    del times[name]
                children = {}
        print(f"  repeat {i + 1}/{repeat} done (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    torch_names = [k for k in times if k.startswith("torch/")]
    if torch_names:
        times["torch"] = [min(ts) for ts in zip(*(times[k] for k in torch_names))]
    return times, setup


def ratio_rows(sizes, times):
    """``(name, per-repeat ratios, target op, target value)`` for each ratio this run can give."""
    rows = []

    def per_repeat(a, b):
        return [x / y for x, y in zip(times[a], times[b])]

    rows.append(("fused / numpy", per_repeat("fused", "numpy"), "<=", 0.95))
    if "current" in times:
        rows.append((f"fused / {BASELINE_COMMIT}", per_repeat("current", BASELINE_COMMIT), "<=", 1.0))
    rows.append(("modules / numpy", per_repeat("modules", "numpy"), "<=", 1.7))
    if "torch" in times:
        target = 4.0 if list(sizes) == [784, 30, 10] else None  # the target is for [784, 30, 10]
        rows.append(("torch / fused", per_repeat("torch", "fused"), ">=", target))
    if "book" in times:
        rows.append(("book / fused", per_repeat("book", "fused"), None, None))
    return rows


def meets(value, op, target):
    return value <= target if op == "<=" else value >= target


def print_table(label, sizes, times, setup):
    print(f"\n{label}")
    print(f"  {'ratio':<18}{'median':>8}{'min':>8}{'max':>8}  {'target':<9}met?")
    results = []
    for name, ratios, op, target in ratio_rows(sizes, times):
        med = statistics.median(ratios)
        if target is None:
            goal, met = "-", "-"
        else:
            ok = meets(med, op, target)
            results.append(ok)
            goal = f"{op} {target}"
            met = f"{'yes' if ok else 'NO '} {sum(meets(r, op, target) for r in ratios)}/{len(ratios)}"
        print(f"  {name:<18}{med:>8.3f}{min(ratios):>8.3f}{max(ratios):>8.3f}  {goal:<9}{met}")
    shown = {"current": "current (subprocess)", BASELINE_COMMIT: f"{BASELINE_COMMIT} (subprocess)"}
    absolute = ", ".join(f"{shown.get(k, k)} {statistics.median(v):.3f}" for k, v in times.items() if k != "torch")
    print(f"  seconds/epoch (median): {absolute}")
    if setup:
        print(f"  + {statistics.median(setup):.3f} s per train call outside the epoch (data checks)")
    return results


def parse_network(spec: str):
    sizes, _, dtype = spec.partition(":")
    return [int(s) for s in sizes.split(",")], np.dtype(dtype or "float64").type


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="examples per epoch (default 50000)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved repeats (default 5)")
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=DEFAULT_SIZES,
        metavar="SIZES[:DTYPE]",
        help=f"networks, e.g. 784,30,10:float32 (default: {' '.join(DEFAULT_SIZES)})",
    )
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--no-baseline", action="store_true", help=f"skip {BASELINE_COMMIT}'s train (no worktree)")
    parser.add_argument(
        "--baseline-dir",
        help=f"checkout of {BASELINE_COMMIT} to use, created as a git worktree if missing "
        f"(default: {Path(tempfile.gettempdir()) / ('minibp-' + BASELINE_COMMIT)})",
    )
    parser.add_argument("--book", action="store_true", help="also time the slow per-example book baseline")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.n < M:
        parser.error("--repeat must be >= 1 and --n >= 10")
    networks = [parse_network(s) for s in args.sizes]

    load_start = os.getloadavg()[0]
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed: skipping the PyTorch column")
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    print(
        f"epoch benchmark: {args.n} random examples, m = {M}, eta = {ETA}, quadratic cost, "
        f"{args.repeat} interleaved repeat{'s' * (args.repeat != 1)}"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, minibp {bp.__version__} ({ROOT}), "
        f"torch {torch.__version__ + f' (default {torch.get_num_threads()} threads)' if torch else 'skipped'}, "
        f"threadpoolctl {threadpoolctl.__version__}"
    )
    print(f"BLAS: {'; '.join(blas) or 'none found'}; numpy and minibp limited to 1 thread; {os.cpu_count()} CPUs")
    try:
        print(f"current tree: HEAD {_git('rev-parse', '--short', 'HEAD')} plus any uncommitted changes")
    except (BaselineError, OSError):
        pass
    if ROOT not in Path(bp.__file__).resolve().parents:
        print(f"warning: minibp is imported from {Path(bp.__file__).parent}, not from {ROOT}: set PYTHONPATH={ROOT}")
    baseline = None
    if not args.no_baseline:
        try:
            baseline = baseline_tree(BASELINE_COMMIT, args.baseline_dir)
            print(f"baseline: {BASELINE_COMMIT} from {baseline}")
        except (BaselineError, OSError, subprocess.SubprocessError) as err:
            print(f"baseline: cannot get a worktree of {BASELINE_COMMIT}, skipping that column: {err}")
    print(f"load average (1 min) at start: {load_start:.2f}", flush=True)

    results = []
    for sizes, dtype in networks:
        label = f"{sizes} {np.dtype(dtype).name}"
        print(f"running {label} ...", file=sys.stderr, flush=True)
        book = args.book and np.dtype(dtype) == np.float64
        times, setup = bench(sizes, dtype, args.n, args.repeat, torch=torch, with_book=book, baseline=baseline)
        if "current" not in times and baseline is not None:
            baseline = None  # the subprocesses failed for this network: do not retry for the next ones
        results += print_table(label, sizes, times, setup)
        sys.stdout.flush()
    print(f"\ntargets met (by median): {sum(results)} of {len(results)}")
    print(f"load average (1 min): {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
