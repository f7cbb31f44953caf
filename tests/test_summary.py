import numpy as np

import minibp as bp
from minibp.summary import summary


def test_summary_of_the_books_network():
    net = bp.mlp([784, 30, 10], rng=0)
    lines = summary(net, 784).splitlines()
    assert lines[0].split() == ["#", "Module", "Output", "shape", "Parameters"]
    assert set(lines[1]) == {"-"} and set(lines[-3]) == {"="}
    rows = [line.split("  ") for line in lines[2:-3]]
    cells = [[c.strip() for c in row if c.strip()] for row in rows]
    assert cells == [
        ["0", "Dense(784, 30)", "(30, m)", f"{784 * 30 + 30:,}"],
        ["1", "Sigmoid()", "(30, m)", "0"],
        ["2", "Dense(30, 10)", "(10, m)", f"{30 * 10 + 10:,}"],
        ["3", "Sigmoid()", "(10, m)", "0"],
    ]
    total = sum(p.data.size for p in net.parameters())
    assert lines[-1] == f"Total parameters: {total:,} ({total * 8 / 1024:.1f} KiB as float64)"
    assert lines[-2].startswith("Input: (784, m)")
    assert len({len(line) for line in lines[:-2]}) == 1  # columns line up


def test_summary_of_nested_and_mixed_networks_leaves_the_mode_alone():
    net = bp.Sequential(bp.mlp([5, 4], rng=0), bp.Dense(4, 2, rng=0, dtype=np.float32))
    net.train()
    text = summary(net, (5, 100))
    assert "0.0  Dense(5, 4)" in text and "0.1  Sigmoid()" in text and "1    Dense(4, 2, dtype=float32)" in text
    assert "Total parameters: 34 (" in text and "float32/float64" in text
    assert net.training and net[0].training


def test_summary_of_a_single_module():
    assert "0  Sigmoid()  (3, m)" in summary(bp.Sigmoid(), 3)
