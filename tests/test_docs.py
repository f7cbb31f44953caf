"""The documentation: its example scripts run, its tooling is sound, and the site builds with --strict.

Every Python block on the pages is a section of a script in ``docs/examples/`` (or a quote of
minibp's source made by the mkdocs hook). Here those scripts run as the pages show them, and the
pages' claims about what they print are checked; tests/test_notebooks.py runs each tutorial's and
guide's blocks themselves, in page order, as the notebook the site offers, and the last tests here
run the home page's.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from _docs_site import ROOT, built_site, load_path, masked, small_idx_files

import minibp as bp
from minibp.data import load_sample
from minibp.gradcheck import gradcheck, numerical_gradient

DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
COST_AND_SECONDS = r", cost \d+(\.\d+)?(e-\d+)?, \d+\.\d s"  # what train prints after the book's "Epoch j: c / n"


def example(name: str):
    return load_path(f"_docs_example_{name}", EXAMPLES / f"{name}.py")


# --- the example scripts: what the pages show, at the pages' sizes ---------------------------------
#
# Each page's Python blocks are sections of these files; tests/test_notebooks.py runs the blocks
# themselves, in page order, as the page's notebook. Here each script's main() runs (a few seconds
# each) and the claims the pages make about what it prints are checked.


def test_first_network_trains_and_prints_the_book_way(capsys):
    net, history, data = example("first_network").main()
    out = capsys.readouterr().out
    assert "images: (784, 4000) float64" in out
    assert re.search(rf"^Epoch 0: \d+ / 500{COST_AND_SECONDS}$", out, re.M)
    assert re.search(rf"^Epoch 29: \d+ / 500{COST_AND_SECONDS}$", out, re.M)
    assert re.search(r"^test: \d+ / 500 digits correct$", out, re.M)
    assert history.epoch == list(range(30))
    assert net[0].w.shape == (30, 784)
    assert data.test[0].shape == (784, 500)


def test_quickstart(capsys):
    correct = example("quickstart").main()
    out = capsys.readouterr().out
    assert re.search(rf"^Epoch 4: \d+ / 500{COST_AND_SECONDS}$", out, re.M)
    assert f"test: {correct} / 500 digits correct" in out


def test_backprop_by_hand_matches_minibp(capsys):
    differences = example("backprop_by_hand").main()
    assert set(differences) == {"BP1 delta^3", "BP3 dC/db^3", "BP4 dC/dw^3", "BP3 dC/db^2", "BP4 dC/dw^2"}
    assert max(differences.values()) < 1e-12
    assert "BP4 dC/dw^2" in capsys.readouterr().out


@pytest.mark.parametrize("fused", [False, True])
def test_sgd_loop_is_what_train_does(capsys, fused):
    """The hand-written loop of the backprop tutorial and `minibp.train` take the same steps."""
    by_hand = example("sgd_loop").main()
    net = bp.mlp([784, 30, 10], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(
        net,
        load_sample().training,
        optimizer=optimizer,
        epochs=3,
        mini_batch_size=10,
        rng=0,
        verbose=False,
        fused=fused,
    )
    for p, q in zip(by_hand.parameters(), net.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=0, atol=1e-10)
    assert capsys.readouterr().out.count("Epoch ") == 3


def test_own_layer_passes_gradcheck_and_the_broken_one_fails(capsys):
    accuracy = example("own_layer").main()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("gradcheck passed") and out[1].startswith("gradcheck passed")
    assert out[2].startswith("gradcheck FAILED")
    assert out[3].startswith("Training with the modules' forward and backward (")  # a layer of one's own
    assert out[-1].startswith("the 30 factors s after training: from ")
    assert 0.85 <= accuracy <= 1.0


def test_own_layer_scale_is_found_checked_and_trained_in_place():
    module = example("own_layer")
    scale = module.Scale(3)
    assert [name for name, _ in scale.named_parameters()] == ["s"]
    x = np.random.default_rng(4).standard_normal((3, 5))
    result = gradcheck(scale, x)
    assert result.ok and set(result.errors) == {"input", "s"}, str(result)
    net = bp.Sequential(bp.Dense(3, 3, rng=0), scale, bp.Dense(3, 2, rng=1), bp.Sigmoid())
    s = scale.s.data  # held before training, as the tutorial does
    optimizer = bp.SGD(net.parameters(), eta=1.0)
    bp.train(
        net, (x, np.array([0, 1, 1, 0, 1])), optimizer=optimizer, epochs=3, mini_batch_size=2, rng=0, verbose=False
    )
    assert s is scale.s.data and not np.all(s == 1.0)  # the same array, changed by the optimizer


def test_own_layer_tanh_gradients():
    tanh = example("own_layer").Tanh()
    x = np.random.default_rng(3).standard_normal((5, 4))
    result = gradcheck(tanh, x)
    assert result.ok, str(result)


def test_own_layer_passes_the_contract_kit(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the script imports its layers from own_layer.py
    assert example("own_layer_contract").main()
    out = capsys.readouterr().out
    assert out.count("passes all") == 2 and out.startswith("Tanh() passes all") and "Scale(4) passes all" in out


def test_own_cost_cancels_sigmoid_prime(capsys):
    module = example("own_cost")
    accuracy = module.main()
    out = capsys.readouterr().out.splitlines()
    quadratic, cross_entropy, minibp_cross_entropy = (float(line.rsplit("=", 1)[1]) for line in out[:3])
    assert cross_entropy < 1e-12 < 0.01 < quadratic
    assert minibp_cross_entropy < 1e-12
    assert out[3] == "a = sigma(z) = [1.0, 4.25e-18]"  # sigma(40) rounds to 1, sigma(-40) does not round to 0

    def saturated(line):
        name, values = line.split(" m delta^L = ")
        return name.strip(), [float(v) for v in values.strip("[]").split(",")]

    # z = 40 with y = 0, z = -40 with y = 1: the true m delta^L = sigma(z) - y is [1, -1]
    rows = dict(saturated(line) for line in out[4:9])
    assert rows["QuadraticCost"][0] == 0.0 and -1e-17 < rows["QuadraticCost"][1] < 0  # sigma' itself
    assert rows["CrossEntropy"][0] == 0.0 and -1e-5 < rows["CrossEntropy"][1] < 0  # the clip spoils the cancellation
    assert rows["CrossEntropyCost"] == [0.0, -1.0]  # a(1 - a) = 0 at z = 40: no cost of a can recover it
    assert rows["SigmoidCrossEntropy"] == rows["SigmoidCrossEntropyCost"] == [1.0, -1.0]  # costs of z: exact
    assert out[9].startswith("train: SigmoidCrossEntropy() takes the weighted input z of a final Dense")
    assert "remove the final Sigmoid" in out[9]
    assert set(accuracy) == {"QuadraticCost", "CrossEntropy", "SigmoidCrossEntropy"}
    assert abs(accuracy["CrossEntropy"] - accuracy["SigmoidCrossEntropy"]) <= 0.01  # "the same steps up to rounding"
    assert len(out) == 13


def test_own_cost_of_z_matches_minibp_and_finite_differences():
    module = example("own_cost")
    rng = np.random.default_rng(6)
    z = rng.normal(0, 5, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    ours, builtin = module.SigmoidCrossEntropy(), bp.SigmoidCrossEntropyCost()
    assert ours.takes == builtin.takes == "z" and module.CrossEntropy().takes == "a"
    np.testing.assert_allclose(ours(z, y), builtin(z, y), rtol=1e-13)
    np.testing.assert_allclose(ours.backward(), builtin.backward(), rtol=1e-13, atol=1e-17)
    numeric = numerical_gradient(lambda: ours(z, y), z, eps=1e-6)
    np.testing.assert_allclose(ours.backward(), numeric, rtol=1e-6, atol=1e-9)
    ours(np.array([[-800.0, 800.0]]), np.array([[1.0, 0.0]]))  # no overflow (warnings are errors here)
    np.testing.assert_array_equal(ours.backward(), [[-0.5, 0.5]])


def test_own_cost_gradient_matches_finite_differences():
    cost = example("own_cost").CrossEntropy()
    rng = np.random.default_rng(5)
    a = rng.uniform(0.05, 0.95, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    cost(a, y)
    analytic = np.array(cost.backward())
    numeric = numerical_gradient(lambda: cost(a, y), a, eps=1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_own_optimizer_matches_the_hand_computation_and_gets_the_guarantees(capsys):
    accuracy = example("own_optimizer").main()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("RMSprop: [") and out[1].startswith("by hand: [")
    assert out[0].split(": ", 1)[1] == out[1].split(": ", 1)[1]  # the same floats, to the last digit
    assert [line.split(":")[0] for line in out[2:7]] == [f"epoch {j}" for j in range(5)]
    assert out[7].startswith("RMSprop.step: the update of the square average of parameter 0 (30, 784) would overflow")
    assert out[8:10] == ["parameters unchanged: True", "square averages unchanged: True"]
    assert out[10] == "['epsilon', 'eta', 'rho', 'square_average.0'] ... 8 entries"
    assert out[11] == "square averages restored: True"
    assert out[12] == "RMSprop: rho must be in [0, 1), got 1.5" and len(out) == 13
    assert 0.85 <= accuracy <= 1.0


def test_own_optimizer_is_torch_rmsprop():
    torch = pytest.importorskip("torch")
    rms = example("own_optimizer").RMSprop
    rng = np.random.default_rng(7)
    w = bp.Parameter(rng.standard_normal((3, 2)))
    ours = rms([w], eta=0.01, rho=0.8, epsilon=1e-6)
    t = torch.tensor(w.data.copy(), requires_grad=True)
    theirs = torch.optim.RMSprop([t], lr=0.01, alpha=0.8, eps=1e-6)
    for _ in range(4):
        g = rng.standard_normal((3, 2))
        ours.zero_grad()
        w.grad += g
        ours.step()
        t.grad = torch.tensor(g)
        theirs.step()
    np.testing.assert_allclose(w.data, t.detach().numpy(), rtol=1e-13, atol=1e-15)  # a few roundings per step
    with pytest.raises(bp.HyperparameterError, match="RMSprop: eta must be a finite number > 0"):
        ours.eta = 0


def test_own_callback_logs_every_epoch_and_stops_with_its_reason(capsys):
    history, stop = example("own_callback").main()
    out = capsys.readouterr().out.splitlines()
    epochs = len(history.epoch)
    assert out[0] == "epoch,training_cost,validation_accuracy" and len(out) == epochs + 3
    for j, row in enumerate(out[1 : epochs + 1]):
        epoch, cost, accuracy = row.split(",")
        assert int(epoch) == j and float(cost) == round(history.training_cost[j], 4)
        assert float(accuracy) == round(history.evaluation_accuracy[j], 3)
    assert max(history.evaluation_accuracy[:-1]) < 0.88 <= history.evaluation_accuracy[-1] and epochs < 30
    assert stop.stop_reason.endswith("reached the target 88%") and out[-2].endswith(stop.stop_reason)
    assert history.stop_reason.startswith(f"{stop!r} stopped training after epoch {epochs - 1}")
    assert out[-1] == "history names the callback: True"


def test_own_regularizer_is_l1_plus_l2_and_falls_back_from_the_fused_path(capsys):
    module = example("own_regularizer")
    results = module.main()
    out = capsys.readouterr().out.splitlines()
    assert float(out[0].rsplit(" ", 1)[1]) < 1e-6
    assert out[3].startswith("train(fused=True): the fused path does not accept this run: the regulariser ElasticNet(")
    assert set(results) == {"none", "elastic net"} and min(results.values()) >= 0.8
    net = bp.mlp([5, 4, 3], rng=2)
    ours, l1, l2 = module.ElasticNet(net, l1=0.3, l2=2.0, n=7), bp.L1(net, 0.3, 7), bp.L2(net, 2.0, 7)
    np.testing.assert_allclose(ours.penalty(), l1.penalty() + l2.penalty(), rtol=1e-14)
    net.zero_grad()
    ours.add_gradient()
    mine = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    l1.add_gradient()
    l2.add_gradient()
    for a, p in zip(mine, net.parameters()):
        np.testing.assert_allclose(a, p.grad, rtol=1e-14, atol=1e-17)  # biases untouched by both


def test_own_container_is_checked_and_names_a_wrong_branch(capsys):
    module = example("own_container")
    module.main()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("gradcheck passed") and out[1] == "contract: True"
    assert out[2] == (
        "Parallel: module 1 (Sloppy()).backward returned a gradient of shape (3, 3), "
        "expected the shape of its input (3, 4)"
    )
    assert out[3] == "Mean: branch 1 (Sloppy()).backward returned shape (3, 3), expected the shape of its input (3, 4)"
    mean = module.Mean(bp.Dense(3, 2, rng=0), bp.Dense(3, 2, rng=1))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        mean.backward(np.ones((2, 4)))
    mean(np.ones((3, 4)))
    with pytest.raises(bp.ShapeError, match=r"Mean.backward expected grad_output of shape \(2, 4\), got \(4, 2\)"):
        mean.backward(np.ones((4, 2)))
    with pytest.raises(bp.ShapeError, match="Mean"):
        bp.Sequential(mean)(np.ones(3))  # Module.__call__ checks the batch before Mean's forward runs
    names = [name for name, _ in bp.Sequential(mean, bp.Sigmoid()).named_parameters()]
    assert names == ["0.branches.0.w", "0.branches.0.b", "0.branches.1.w", "0.branches.1.b"]


def test_howto_scripts(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert example("howto_seeds").main()
    assert example("howto_float32").main()
    assert example("howto_save_load").main()
    assert example("howto_rows").main()
    accuracy = example("howto_init").main()
    assert set(accuracy) == {"book", "scaled"} and accuracy["scaled"] > accuracy["book"]
    out = capsys.readouterr().out
    assert "same seed, same weights: True" in out
    assert "resumed run equals the uninterrupted one, bit for bit: True" in out
    assert "parameters: {'float32'}" in out
    assert list(tmp_path.iterdir()) == []  # the save-and-load script writes its files in a folder of its own


def test_howto_chapter3(capsys):
    history = example("howto_chapter3").main()
    lines = capsys.readouterr().out.splitlines()
    assert 1 <= len(lines) == len(history.epoch) <= 30
    assert history.training_accuracy[0] is not None and history.eta[0] == 0.5
    assert min(history.eta) < 0.5  # the schedule halved eta at least once, as the page shows


def test_howto_chapter3_more(capsys):
    """The claims of the guide's L1 and expanded-data sections about what they print."""
    l1, expanded = example("howto_chapter3_more").main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6  # the page shows lines 1-2 after the L1 block and 3-6 after the expand block
    small = [float(re.search(r", (\d+)% of the first layer's", line).group(1)) for line in lines[:2]]
    largest = [float(line.rsplit(" ", 1)[1]) for line in lines[:2]]
    assert lines[0].startswith("L2: ") and lines[1].startswith("L1: ")
    assert small[1] > 2 * small[0] and largest[1] > largest[0]  # L1: many weights near 0, a few large ones
    assert all(0.8 < value <= 1.0 for value in l1.values())
    assert lines[2] == "(784, 1000) -> (784, 5000), labels (1000,) -> (5000,)"
    assert lines[3] == "the first block is the digits themselves: True"
    assert expanded["expanded to 5,000, 10 epochs"] > expanded["1,000 digits, 50 epochs"]  # as the page says


def test_howto_optimizers(capsys):
    accuracy = example("howto_optimizers").main()
    assert set(accuracy) == {
        "SGD(eta=0.5)",
        "Momentum(eta=0.05, mu=0.9)",
        "Nesterov(eta=0.05, mu=0.9)",
        "Adam(eta=0.001)",
        "no dropout",
        "dropout",
        "per layer",
    }
    assert all(0.8 < value <= 1.0 for value in accuracy.values())  # every run learned the digits
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 and "dropout p = 0.5" in lines[5]
    assert lines[6].startswith("eta per layer [2.0, 0.5] -> [")  # the page quotes line 7


def test_howto_rows_torch_part(capsys):
    pytest.importorskip("torch")
    module = example("howto_rows")
    assert module.torch_part(*module.main())
    assert capsys.readouterr().out.splitlines()[-1].startswith("torch.Size([4000, 784]) torch.float64 ")


def test_howto_pytorch_moves_the_network_there_and_back(capsys):
    torch = pytest.importorskip("torch", reason="the guide needs PyTorch (pip install 'minibp[torch]')")
    threads = torch.get_num_threads()
    try:
        net, model = example("howto_pytorch").main()
    finally:
        torch.set_num_threads(threads)  # the guide sets one thread for its small mini-batches
    out = capsys.readouterr().out
    difference = float(re.search(r"^largest difference from minibp's output: (\S+)$", out, re.M)[1])
    assert difference < 1e-10  # float64 products of 784 and 100 terms, summed in another order
    assert "same predictions: True" in out and "same predictions as PyTorch: True" in out
    accuracies = [float(a) for a in re.findall(r"validation accuracy (\S+)$", out, re.M)]
    assert len(accuracies) == 3 and all(0.8 < a <= 1.0 for a in accuracies)
    assert accuracies[2] == accuracies[1]  # back in minibp, the network PyTorch trained
    for p, t in zip(net.parameters(), model.parameters(), strict=True):  # copies of PyTorch's trained weights
        assert p.data.tobytes() == t.detach().numpy().reshape(p.shape).tobytes()


def test_a_guide_that_needs_an_extra_shows_a_note_where_it_is_missing(monkeypatch):
    hooks = load_path("_docs_hooks_extras", DOCS / "hooks.py")
    assert hooks.OPTIONAL_EXAMPLES["howto_pytorch"][0] == "torch" and "howto_pytorch" in hooks.RUN_EXAMPLES
    assert hooks._missing_extra("howto_rows") is None
    monkeypatch.setitem(sys.modules, "torch", None)  # PyTorch marked as not installed
    note = hooks._missing_extra("howto_pytorch")
    assert note.startswith("(Not shown: this copy of the site was built without torch.")
    assert 'pip install "minibp[torch]"' in note


def test_howto_mnist_on_small_idx_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIBP_DATA", str(small_idx_files(tmp_path)))
    example("howto_mnist").main()
    out = capsys.readouterr().out
    assert "training: (784, 50)  validation: (784, 10)  test: (784, 12)" in out  # the book's split, scaled down
    assert re.search(rf"^Epoch 29: \d+ / 10{COST_AND_SECONDS}$", out, re.M)
    assert re.search(r"^test: \d+ / 12$", out, re.M)
    assert "Fashion-MNIST training: (784, 50)  labels: [" in out


# --- the pages only show code from tested files ---------------------------------------------------


def test_python_blocks_on_the_pages_are_included_not_pasted():
    fence = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
    for page in DOCS.rglob("*.md"):
        for lang, body in fence.findall(page.read_text(encoding="utf-8")):
            if lang in ("python", "py", "pycon"):
                lines = [line for line in body.splitlines() if line.strip()]
                assert lines, f"{page.relative_to(ROOT)}: empty python block"
                for line in lines:
                    assert line.startswith('--8<-- "'), f"{page.relative_to(ROOT)}: pasted code {line!r}"


def test_every_included_snippet_section_exists():
    include = re.compile(r'^--8<-- "([^":]+)(?::([\w-]+))?"', re.M)
    for page in DOCS.rglob("*.md"):
        for path, section in include.findall(page.read_text(encoding="utf-8")):
            if path.startswith("output/"):
                continue  # written by the build
            source = EXAMPLES / path if (EXAMPLES / path).is_file() else ROOT / path  # snippets' base paths
            text = source.read_text(encoding="utf-8")
            if section:
                assert f"[start:{section}]" in text and f"[end:{section}]" in text, (page, path, section)


def page_code(page):
    """The Python blocks a reader of ``page`` runs, in order, as the site renders them."""
    pytest.importorskip("pymdownx", reason="the docs extra is not installed (pip install -e '.[docs]')")
    built_site()  # the build runs the examples whose printed output the pages include
    hooks = load_path("_docs_hooks_code", DOCS / "hooks.py")
    return hooks.page_code(hooks.expand_page(page.read_text(encoding="utf-8")))


def test_pages_show_code_without_scaffolding():
    """No formatter or linter pragma, no branch for the tests: the blocks are what a reader would write."""
    for page in sorted(DOCS.rglob("*.md")):
        for block in page_code(page):
            for pragma in ("fmt:", "noqa", "type: ignore", "pragma:", "if __name__", "the tests"):
                assert pragma not in block, f"{page.relative_to(ROOT)} shows {pragma!r}:\n{block}"


def test_every_page_that_runs_code_is_checked_running_it():
    """tests/test_notebooks.py runs the tutorials and guides, the next test the home page: no page escapes."""
    for page in sorted(DOCS.rglob("*.md")):
        name = page.relative_to(DOCS).as_posix()
        if page_code(page):
            assert name == "index.md" or name.startswith(("tutorials/", "how-to/")), name


@pytest.mark.slow
def test_the_home_page_runs_as_shown_and_prints_what_it_shows(tmp_path):
    script = tmp_path / "index.py"
    script.write_text("\n\n".join(page_code(DOCS / "index.md")), encoding="utf-8")
    env = dict(os.environ, PYTHONWARNINGS="error")
    shown = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    printed = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert printed.returncode == 0, printed.stderr
    assert masked(shown.stdout) == masked(printed.stdout)  # what the build runs to show the output on the page
    assert '--8<-- "output/quickstart.txt"' in (DOCS / "index.md").read_text(encoding="utf-8")


def test_source_quotes_fail_loudly_when_the_code_moves():
    hooks = load_path("_docs_hooks", DOCS / "hooks.py")
    block = hooks.source_block("minibp/layers.py", "# BP3:", "# BP4:")
    assert block.startswith('```python title="minibp/layers.py, lines ')
    assert "BP3" in block and "BP4" in block
    with pytest.raises(ValueError, match="no line of minibp/layers.py contains"):
        hooks.source_block("minibp/layers.py", "a comment that is not there")
    with pytest.raises(ValueError, match="after line"):
        hooks.source_block("minibp/layers.py", "# BP4:", "# BP3:")
    update = hooks.source_block("minibp/optim.py", "def update(self) -> None:", "# eq. 13-14", after="class SGD(")
    assert "p.data -= self.eta * p.grad" in update.splitlines()[-2]  # SGD's update, not the base class's
    with pytest.raises(ValueError, match="contains 'class NoSuchClass'"):
        hooks.source_block("minibp/optim.py", "def update", after="class NoSuchClass")


def test_every_public_name_has_a_reference_page():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))
    documented = set(re.findall(r"^::: (minibp[\w.]*)", pages, re.M))
    for name in bp.__all__:
        if name.startswith("__"):
            continue
        module = getattr(bp, name).__module__
        assert module in documented, f"minibp.{name} lives in {module}, which no reference page renders"


def test_the_reference_index_lists_exactly_the_top_level_names():
    """docs/reference/index.md's table names every entry of ``minibp.__all__`` once, and nothing else."""
    text = (DOCS / "reference" / "index.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|(?!---)([^|\n]*)\|([^|\n]*)\|$", text, re.M)[1:]  # the header row is not a group
    assert len(rows) > 5, "the index has no table of names"
    listed = [name for _, names in rows for name in re.findall(r"`([^`]+)`", names)]
    duplicates = sorted({name for name in listed if listed.count(name) > 1})
    assert not duplicates, f"docs/reference/index.md lists {duplicates} more than once"
    missing = [name for name in bp.__all__ if name not in listed]
    unknown = [name for name in listed if name not in bp.__all__]
    assert not missing, f"docs/reference/index.md does not list {missing}: add each to the row for what it is for"
    assert not unknown, f"docs/reference/index.md lists {unknown}, which minibp.__all__ does not hold"
    for name, target in re.findall(r"\[`([^`]+)`\]\[([\w.]+)\]", text):
        assert target.rsplit(".", 1)[-1] == name, f"[`{name}`] links to {target}"


# --- MathJax: pinned, verified, unpacked safely ---------------------------------------------------


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_mathjax_integrity_is_checked_before_unpacking(tmp_path):
    fetch = load_path("_fetch_mathjax", ROOT / "scripts" / "fetch_mathjax.py")
    data = _tarball({"package/es5/tex-chtml.js": b"// mathjax", "package/README.md": b"not kept"})
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    fetch.check_integrity(data, good)
    with pytest.raises(fetch.IntegrityError, match="refusing"):
        fetch.check_integrity(data + b"x", good)
    with pytest.raises(fetch.IntegrityError, match="unsupported"):
        fetch.check_integrity(data, "sha1-abc")
    target = tmp_path / "mathjax"
    assert fetch.extract(data, target) == 1
    assert (target / "tex-chtml.js").read_bytes() == b"// mathjax"
    assert not (target / "README.md").exists()


def test_mathjax_extract_refuses_unsafe_names_and_leaves_nothing(tmp_path):
    fetch = load_path("_fetch_mathjax", ROOT / "scripts" / "fetch_mathjax.py")
    evil = _tarball({"package/es5/input/tex/extensions/../../../../../escape.js": b"x"})
    with pytest.raises(fetch.IntegrityError, match="unsafe"):
        fetch.extract(evil, tmp_path / "mathjax")
    assert list(tmp_path.iterdir()) == []


def test_mathjax_version_is_pinned():
    fetch = load_path("_fetch_mathjax", ROOT / "scripts" / "fetch_mathjax.py")
    assert re.fullmatch(r"\d+\.\d+\.\d+", fetch.VERSION)
    assert fetch.INTEGRITY.startswith("sha512-") and len(base64.b64decode(fetch.INTEGRITY[7:])) == 64


# --- the site -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_site_builds_strict_and_shows_what_the_code_printed():
    site, seconds = built_site()
    assert seconds < 600, f"the docs build took {seconds:.0f} s"  # about 20 s of CPU on an idle machine
    for page in ("index.html", "tutorials/first-network/index.html", "tutorials/backprop/index.html"):
        assert (site / page).is_file(), page
    first = (site / "tutorials/first-network/index.html").read_text(encoding="utf-8")
    printed = (EXAMPLES / "output" / "first_network.txt").read_text(encoding="utf-8")
    for line in printed.splitlines():
        if line.startswith(("Epoch", "test:")):
            assert line in first, line
    for figure in ("training-curves.png", "misclassified.png", "hidden-weights.png"):
        assert (site / "assets" / "figures" / figure).stat().st_size > 1000
    backprop = (site / "tutorials/backprop/index.html").read_text(encoding="utf-8")
    assert "BP4: dC/dw" in backprop  # quoted from minibp/layers.py at build time
    assert (site / "assets" / "mathjax" / "tex-chtml.js").is_file()
    assert "cdn.jsdelivr" not in backprop and "googleapis" not in backprop
