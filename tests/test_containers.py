"""`Parallel` and `Residual`: gradients at a fork add up, in every nesting, and the rest of minibp handles them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _docs_site import ROOT, load_path, masked

import minibp as bp
from minibp.containers import Parallel, Residual
from minibp.errors import ModelFormatError, ShapeError
from minibp.gradcheck import gradcheck
from minibp.io.registry import build
from minibp.summary import summary
from minibp.testing import check_module

EXAMPLES = ROOT / "docs" / "examples"
PAGE = ROOT / "docs" / "tutorials" / "not-chains.md"


def branching(seed: int = 0) -> dict[str, bp.Module]:
    """Small float64 networks that fork, nested every way the brief asks for; each takes 3 features."""
    rng = np.random.default_rng(seed)

    def dense(n_in: int, n_out: int) -> bp.Dense:
        return bp.Dense(n_in, n_out, rng=rng)

    return {
        "parallel": Parallel(dense(3, 2), dense(3, 4), bp.Tanh()),
        "parallel of one": Parallel(dense(3, 2)),
        "residual": Residual(bp.Sequential(dense(3, 3), bp.Tanh())),
        "parallel in residual in sequential": bp.Sequential(
            dense(3, 4),
            Residual(bp.Sequential(Parallel(dense(4, 1), bp.Sequential(dense(4, 3), bp.Sigmoid())), bp.Tanh())),
            dense(4, 2),
            bp.Sigmoid(),
        ),
        "residual in parallel in sequential": bp.Sequential(
            Parallel(Residual(dense(3, 3)), bp.Sequential(dense(3, 2), bp.Tanh()), Residual(bp.Sigmoid())),
            dense(8, 2),
        ),
        "sequential in parallel in residual": Residual(
            Parallel(bp.Sequential(dense(3, 1), bp.Tanh()), bp.Sequential(dense(3, 2), bp.Sigmoid()))
        ),
    }


NETS = list(branching())


# -- the gradients -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NETS)
def test_gradcheck_of_inputs_and_every_parameter_in_float64(name):
    net = branching()[name]
    x = np.random.default_rng(1).standard_normal((3, 5))
    result = gradcheck(net, x)
    assert set(result.errors) == {"input", *(n for n, _ in net.named_parameters())}
    assert max(result.errors.values()) < 1e-7, str(result)


@pytest.mark.parametrize("name", NETS)
def test_contract(name):
    report = check_module(branching()[name], (3, 4), raise_on_failure=False)
    assert report.ok, str(report)


def test_a_fork_adds_the_gradients_of_its_paths():
    """Two identity branches: each returns its rows of grad_output, and the fork returns their sum."""
    fork = Parallel(bp.Identity(), bp.Identity())
    x = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(fork(x), np.vstack([x, x]))
    g = np.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(fork.backward(g), g[:3] + g[3:])


def test_parallel_of_dense_layers_is_one_dense_with_the_weights_stacked(rng):
    upper, lower = bp.Dense(4, 2, rng=1), bp.Dense(4, 3, rng=2)
    both = bp.Dense(4, 5)
    both.w.data = np.vstack([upper.w.data, lower.w.data])
    both.b.data = np.vstack([upper.b.data, lower.b.data])
    x, g = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))
    fork = Parallel(upper, lower)
    np.testing.assert_allclose(fork(x), both(x), rtol=1e-13)
    np.testing.assert_allclose(fork.backward(g), both.backward(g), rtol=1e-12)
    np.testing.assert_allclose(np.vstack([upper.w.grad, lower.w.grad]), both.w.grad, rtol=1e-13)
    np.testing.assert_allclose(np.vstack([upper.b.grad, lower.b.grad]), both.b.grad, rtol=1e-13)


def test_residual_adds_the_shortcut(rng):
    dense = bp.Dense(3, 3, rng=0)
    block = Residual(dense)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(block(x), x + dense.w.data @ x + dense.b.data, rtol=1e-13)
    np.testing.assert_allclose(block.backward(g), g + dense.w.data.T @ g, rtol=1e-13)
    np.testing.assert_allclose(dense.w.grad, g @ x.T, rtol=1e-13)  # BP4 inside f, unchanged by the shortcut


def test_backward_keeps_the_dtype_and_leaves_grad_output_alone(rng):
    net = Parallel(bp.Dense(3, 2, rng=0, dtype=np.float32), Residual(bp.Dense(3, 3, rng=1, dtype=np.float32)))
    out = net(rng.standard_normal((3, 4)).astype(np.float32))
    assert out.dtype == np.float32
    g = rng.standard_normal((5, 4)).astype(np.float32)
    kept = g.copy()
    assert net.backward(g).dtype == np.float32
    np.testing.assert_array_equal(g, kept)


def test_only_shapes_are_kept_for_backward(rng):
    """The children keep the arrays they need; the containers keep no array of their own."""
    for net in branching().values():
        net(rng.standard_normal((3, 4)))
        for module in net.modules():
            if isinstance(module, (Parallel, Residual)):
                assert not any(isinstance(v, np.ndarray) for v in vars(module).values()), module


# -- errors ------------------------------------------------------------------------------------------


def test_residual_refuses_a_module_that_changes_the_shape():
    block = Residual(bp.Dense(4, 3, rng=0))
    with pytest.raises(ShapeError, match=r"Residual: Dense\(4, 3\) maps input \(4, 5\) to \(3, 5\)"):
        block(np.ones((4, 5)))


def test_a_branch_that_loses_the_columns_is_named():
    class Mean(bp.Module):
        def forward(self, x):
            return x.mean(axis=1, keepdims=True)

    with pytest.raises(ShapeError, match=r"branch 1 \(Mean\(\)\) returned shape \(3, 1\) for input \(3, 5\)"):
        Parallel(bp.Identity(), Mean())(np.ones((3, 5)))


def test_a_child_gradient_of_the_wrong_shape_is_refused_not_broadcast():
    class Row(bp.Identity):
        def backward(self, grad_output):
            return grad_output.sum(axis=0, keepdims=True)  # (1, m): would broadcast in a sum

    for net, name in ((Parallel(bp.Identity(), Row()), "Parallel"), (Residual(Row()), "Residual")):
        out = net(np.ones((3, 2)))
        message = (
            rf"{name}: module (1|0) \(Row\(\)\)\.backward returned a gradient of shape \(1, 2\), "
            r"expected the shape of its input \(3, 2\)"
        )
        with pytest.raises(ShapeError, match=message):
            net.backward(np.ones(out.shape))


def test_input_and_grad_output_shapes_are_checked():
    net = Parallel(bp.Identity(), bp.Identity())
    with pytest.raises(ShapeError, match=r"a single example must be a column"):
        net(np.ones(3))
    with pytest.raises(ShapeError, match=r"Residual\(Identity\(\)\) expected input of shape \(n, m\)"):
        Residual(bp.Identity())(np.ones((2, 3, 4)))
    net(np.ones((3, 2)))
    with pytest.raises(ShapeError, match=r"backward expected grad_output of shape \(6, 2\), got \(3, 2\)"):
        net.backward(np.ones((3, 2)))


@pytest.mark.parametrize(
    "make",
    [
        lambda d: Parallel(d, d),
        lambda d: Parallel(d, bp.Sequential(bp.Identity(), d)),
        lambda d: Parallel(bp.Identity(), Residual(bp.Sequential(d, d))),
        lambda d: bp.Sequential(d, Residual(d)),
        lambda d: bp.Sequential(Parallel(d, bp.Identity()), d),
    ],
)
def test_a_module_used_twice_is_refused(make):
    with pytest.raises(ValueError, match=r"Dense\(3, 3\) is used twice"):
        make(bp.Dense(3, 3, rng=0))


def test_backward_before_forward_and_bad_arguments():
    with pytest.raises(RuntimeError, match=r"Parallel\(Identity\(\)\): backward called before forward"):
        Parallel(bp.Identity()).backward(np.ones((3, 2)))
    with pytest.raises(RuntimeError, match=r"Residual\(Identity\(\)\): backward called before forward"):
        Residual(bp.Identity()).backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="at least one branch"):
        Parallel()
    with pytest.raises(TypeError, match="Parallel: item 1 is ufunc, not a Module"):
        Parallel(bp.Identity(), np.tanh)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Residual: item 0 is int, not a Module"):
        Residual(3)  # type: ignore[arg-type]


# -- the rest of minibp: names, modes, repr, save and load, summary, train ---------------------------


def test_children_are_named_by_position():
    block = Residual(bp.Dense(3, 3, rng=2))
    fork = Parallel(bp.Dense(3, 2, rng=1), block)
    net = bp.Sequential(bp.Dense(3, 3, rng=0), fork)
    assert [n for n, _ in net.named_parameters()] == ["0.w", "0.b", "1.0.w", "1.0.b", "1.1.0.w", "1.1.0.b"]
    assert net[1] is fork and fork[1] is fork.branches[1] is block and len(fork) == 2
    assert list(block.children()) == [block.module]
    net.eval()
    assert not any(m.training for m in net.modules())


def test_repr_is_one_line_when_short_and_indented_when_not():
    assert repr(Parallel(bp.Dense(3, 2), Residual(bp.Sigmoid()))) == "Parallel(Dense(3, 2), Residual(Sigmoid()))"
    text = repr(Residual(bp.Sequential(bp.Dense(3, 3), bp.Tanh())))
    assert text == "Residual(\n  Sequential(\n    Dense(3, 3),\n    Tanh()\n  )\n)"


@pytest.mark.parametrize("name", NETS)
def test_save_and_load_give_the_same_network(tmp_path, rng, name):
    net = branching()[name]
    bp.io.save(net, tmp_path / "net.npz")
    same = bp.io.load(tmp_path / "net.npz")
    assert repr(same) == repr(net)
    assert [n for n, _ in same.named_parameters()] == [n for n, _ in net.named_parameters()]
    x = rng.standard_normal((3, 7))
    assert same(x).tobytes() == net(x).tobytes()
    g = rng.standard_normal(net(x).shape)
    assert same.backward(g).tobytes() == net.backward(g).tobytes()


def test_an_architecture_with_a_residual_of_two_modules_is_refused():
    identity = {"type": "Identity", "config": {}}
    build({"type": "Residual", "config": {}, "modules": [identity]}, "model.npz")
    with pytest.raises(ModelFormatError, match="model.npz: cannot build Residual"):
        build({"type": "Residual", "config": {}, "modules": [identity, identity]}, "model.npz")
    with pytest.raises(ModelFormatError, match="needs a non-empty 'modules' list"):
        build({"type": "Parallel", "config": {}, "modules": []}, "model.npz")


def test_summary_shows_the_branches_under_their_container():
    net = bp.Sequential(
        bp.Dense(5, 4, rng=0),
        Parallel(bp.Dense(4, 2, rng=1), Residual(bp.Sequential(bp.Dense(4, 4, rng=2), bp.Tanh()))),
        bp.Sigmoid(),
    )
    net.train()
    lines = summary(net, 5).splitlines()
    cells = [[c.strip() for c in line.split("  ") if c.strip()] for line in lines[2:-3]]
    assert cells == [
        ["0", "Dense(5, 4)", "(4, m)", "24"],
        ["1", "Parallel, 2 branches stacked", "(6, m)"],
        ["1.0", "Dense(4, 2)", "(2, m)", "10"],
        ["1.1", "Residual, x + f(x)", "(4, m)"],
        ["1.1.0.0", "Dense(4, 4)", "(4, m)", "20"],
        ["1.1.0.1", "Tanh()", "(4, m)", "0"],
        ["2", "Sigmoid()", "(6, m)", "0"],
    ]
    assert lines[-1].startswith("Total parameters: 54 (")
    assert len({len(line) for line in lines[:-2]}) == 1  # columns line up
    assert net.training  # the mode is restored


def test_summary_of_a_container_alone():
    lines = summary(Parallel(bp.Dense(3, 2, rng=0), bp.Dense(3, 1, rng=1)), 3).splitlines()
    cells = [[c.strip() for c in line.split("  ") if c.strip()] for line in lines[2:-3]]
    assert cells == [["Parallel, 2 branches stacked", "(3, m)"], ["0", "Dense(3, 2)", "(2, m)", "8"],
                     ["1", "Dense(3, 1)", "(1, m)", "4"]]  # fmt: skip


def test_train_runs_the_modules_and_lowers_the_cost(capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 200))
    y = (X[0] * X[1] > 0).astype(np.int64) + (X[2] > 1)  # three classes, not linearly separable
    net = bp.Sequential(
        Parallel(bp.Sequential(bp.Dense(4, 6, rng=1), bp.Tanh()), bp.Sequential(bp.Dense(4, 6, rng=2), bp.Sigmoid())),
        Residual(bp.Sequential(bp.Dense(12, 12, init="scaled", rng=3), bp.Tanh())),
        bp.Dense(12, 3, rng=4),
        bp.Sigmoid(),
    )
    before = net.state_dict()
    history = bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=8, mini_batch_size=10,
                       rng=0, monitor_training=True)  # fmt: skip
    assert "Training with the modules' forward and backward" in capsys.readouterr().out
    first, last = history.training_full_cost[0], history.training_full_cost[-1]
    assert first is not None and last is not None and last < 0.8 * first
    assert all(not np.array_equal(before[n], p.data) for n, p in net.named_parameters())  # every branch learned
    with pytest.raises(ValueError, match="fused path does not accept"):
        bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=10,
                 fused=True, verbose=False)  # fmt: skip


def test_a_dropout_branch_is_saved_with_its_generator_and_switched_by_eval(tmp_path, rng):
    net = Parallel(bp.Dropout(0.5, rng=0), Residual(bp.Dense(3, 3, rng=1)))
    bp.io.save(net, tmp_path / "net.npz")
    same = bp.io.load(tmp_path / "net.npz")
    x = rng.standard_normal((3, 8))
    assert same(x).tobytes() == net(x).tobytes()  # the same dropout mask
    net.eval()
    np.testing.assert_array_equal(net(x)[:3], x)  # evaluation mode reaches the branch


def test_diverging_training_of_a_branching_network_stops_with_finite_parameters():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 60)), rng.standard_normal((7, 60))
    net = bp.Sequential(Parallel(bp.Dense(4, 3, rng=0), Residual(bp.Dense(4, 4, rng=1))))
    with pytest.raises(bp.DivergedError, match="smaller learning rate"):
        bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1e6), epochs=50, mini_batch_size=6, rng=0,
                 verbose=False)  # fmt: skip
    assert all(np.isfinite(p.data).all() for p in net.parameters())


# -- the tutorial --------------------------------------------------------------------------------------


def test_the_tutorial_example_prints_what_the_page_says(capsys):
    """The page states these results in words: the checks print True, gradcheck passes, about 90% of digits."""
    accuracy = load_path("_docs_example_not_chains", EXAMPLES / "not_chains.py").main()
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["dC/dx = sum over the two paths: True", "same output as one Dense(3, 3): True",
                       "same dC/dx as one Dense(3, 3): True"]  # fmt: skip
    assert out[3].startswith("gradcheck passed")
    errors = [float(e) for e in re.findall(r": (\d\.\d+e-\d+)", out[3])]
    assert len(errors) == 5 and max(errors) < 1e-8  # "relative errors around 1e-9"
    assert any(line.startswith("0      Parallel, 2 branches stacked  (40, m)") for line in out)
    assert any(line.startswith("Training with the modules' forward and backward") for line in out)
    assert out[-1] == f"test accuracy: {accuracy:.1%}"
    assert 0.85 <= accuracy <= 0.95  # "about nine test digits in ten"


def page_script() -> str:
    """The page's Python blocks, in order, with their snippets expanded: what a reader copies."""
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.M | re.S)
    parts = []
    for block in blocks:
        for path, section in re.findall(r'^--8<-- "([^":]+):([\w-]+)"$', block, re.M):
            text = (EXAMPLES / path).read_text(encoding="utf-8")
            body = re.search(rf"# --8<-- \[start:{section}\]\n(.*?)\n[ \t]*# --8<-- \[end:{section}\]", text, re.S)
            assert body, (path, section)
            parts.append(textwrap.dedent(body[1]))
    return "\n".join(parts)


def test_the_page_shows_the_fork_code_and_the_example():
    text = PAGE.read_text(encoding="utf-8")
    assert '{{ source("minibp/containers.py", ' in text
    for section in ("fork", "stacked", "check", "train"):
        assert f'--8<-- "not_chains.py:{section}"' in text
    for section in ("container", "check", "wrong"):  # a container of one's own
        assert f'--8<-- "own_container.py:{section}"' in text


@pytest.mark.slow
def test_the_pages_python_blocks_run_as_one_script(tmp_path):
    script = tmp_path / "page.py"
    script.write_text(page_script(), encoding="utf-8")
    env = dict(os.environ, PYTHONWARNINGS="error")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    expected = ""
    for example in ("not_chains.py", "own_container.py"):  # the page's two scripts, in page order
        printed = subprocess.run(
            [sys.executable, str(EXAMPLES / example)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert printed.returncode == 0, printed.stderr
        expected += printed.stdout
    assert masked(result.stdout) == masked(expected)  # the page's blocks, run in order, are the examples


def test_the_fork_excerpt_on_the_page_is_parallel_backward():
    hooks = load_path("_docs_hooks_not_chains", ROOT / "docs" / "hooks.py")
    call = re.search(r'\{\{ source\("minibp/containers.py", "([^"]+)", "([^"]+)", after="([^"]+)"\) \}\}',
                     PAGE.read_text(encoding="utf-8"))  # fmt: skip
    assert call, "the page quotes Parallel.backward with source(..., after=...)"
    block = hooks.source_block("minibp/containers.py", call[1], call[2], after=call[3])
    assert block.startswith('```python title="minibp/containers.py, lines ')
    assert "grad_input = grad_input + grad_branch" in block and "return grad_input" in block


def test_a_failed_forward_leaves_nothing_for_backward():
    fork = Parallel(bp.Dense(3, 2, rng=0), bp.Dense(3, 2, rng=1))
    block = Residual(bp.Dense(3, 3, rng=2))
    fork(np.ones((3, 4)))
    block(np.ones((3, 4)))
    for module in (fork, block):
        with pytest.raises(ShapeError):
            module(np.ones((5, 4)))  # the first Dense refuses 5 features
        with pytest.raises(RuntimeError, match="backward called before forward"):
            module.backward(np.ones((4, 4)))
