"""predict_proba: the activation the cost applied, applied to the output; 'minibp predict' says which it printed."""

import numpy as np
import pytest

import minibp as bp
from minibp import io as bpio
from minibp.cli import main
from minibp.outputs import output_meaning


@pytest.fixture
def x(rng):
    return rng.standard_normal((4, 7)) * 3


def test_softmax_of_z_after_the_log_likelihood_cost(x):
    net = bp.mlp([4, 5, 3], rng=0)[:-1]  # ends in Dense
    p = bp.predict_proba(net, x, cost=bp.SoftmaxLogLikelihoodCost())
    np.testing.assert_array_equal(p, bp.Softmax()(net(x)))  # the same arithmetic as a final Softmax layer
    assert p.shape == (3, 7) and np.all(p > 0) and np.allclose(p.sum(axis=0), 1, rtol=0, atol=4 * np.finfo(float).eps)
    np.testing.assert_array_equal(p.argmax(axis=0), bp.predict(net, x))  # predict still gives class indices


def test_sigmoid_of_z_after_the_sigmoid_cross_entropy_cost(x):
    net = bp.mlp([4, 5, 3], rng=0)[:-1]
    p = bp.predict_proba(net, x, cost="SigmoidCrossEntropyCost")  # by name, as a Checkpoint holds it
    np.testing.assert_array_equal(p, bp.Sigmoid()(net(x)))
    assert np.all((p > 0) & (p < 1))


@pytest.mark.parametrize("cost", [None, bp.QuadraticCost(), "CrossEntropyCost"])
def test_a_cost_of_a_leaves_the_output_as_it_is(x, cost):
    net = bp.mlp([4, 5, 3], rng=0)
    np.testing.assert_array_equal(bp.predict_proba(net, x, cost=cost), net(x))
    assert output_meaning(net, cost) == "outputs of the final Sigmoid"


def test_what_is_returned_is_said_in_a_few_words():
    dense = bp.mlp([4, 5, 3], rng=0)[:-1]
    assert output_meaning(dense, bp.SoftmaxLogLikelihoodCost()) == "probabilities (softmax of the output layer's z)"
    assert output_meaning(dense, "SigmoidCrossEntropyCost") == "probabilities (sigmoid of the output layer's z)"
    softmax = bp.Sequential(bp.Dense(4, 3, rng=0), bp.Softmax())
    assert output_meaning(softmax, bp.LogLikelihoodCost()) == "probabilities (outputs of the final Softmax)"


def test_a_network_ending_in_dense_needs_its_cost(x):
    net = bp.mlp([4, 5, 3], rng=0)[:-1]
    with pytest.raises(ValueError, match=r"ends in Dense\(5, 3\), whose output z is not a probability.*cost="):
        bp.predict_proba(net, x)
    with pytest.raises(ValueError, match="unknown cost 'Softmax'"):
        bp.predict_proba(net, x, cost="Softmax")
    with pytest.raises(TypeError, match="cost must be a Cost"):
        bp.predict_proba(net, x, cost=3)

    class OwnCostOfZ(bp.Cost):
        takes = "z"

    with pytest.raises(ValueError, match="OwnCostOfZ is a cost of z, and minibp cannot tell which activation"):
        bp.predict_proba(net, x, cost=OwnCostOfZ())


def test_the_network_runs_in_evaluation_mode_and_gets_its_mode_back(x):
    net = bp.Sequential(bp.Dense(4, 5, rng=0), bp.Sigmoid(), bp.Dropout(0.5, rng=1), bp.Dense(5, 3, rng=2))
    first = bp.predict_proba(net, x, cost=bp.SoftmaxLogLikelihoodCost())
    np.testing.assert_array_equal(first, bp.predict_proba(net, x, cost=bp.SoftmaxLogLikelihoodCost()))  # no mask
    assert net.training and net[2].training


def test_a_non_finite_output_is_an_error(x):
    net = bp.mlp([4, 3], rng=0)
    net[0].w.data[0, 0] = np.nan
    with pytest.raises(bp.NonFiniteError, match="predict_proba: the network's output for example 0"):
        bp.predict_proba(net, x)


# -- minibp predict ------------------------------------------------------------------------------------


@pytest.fixture
def digit(tmp_path):
    pytest.importorskip("PIL", reason="minibp predict reads images with Pillow (pip install minibp[image])")
    from PIL import Image

    image = np.full((28, 28), 255, np.uint8)
    image[6:22, 12:16] = 0  # a dark stroke on white paper: a one
    path = tmp_path / "one.png"
    Image.fromarray(image).save(path)
    return path


@pytest.mark.parametrize(
    ("cost", "meaning"),
    [
        ("log-likelihood", "probabilities (softmax of the output layer's z)"),
        ("cross-entropy", "probabilities (sigmoid of the output layer's z)"),
        ("quadratic", "outputs of the final Sigmoid"),
    ],
)
def test_predict_prints_probabilities_and_says_which(cost, meaning, digit, tmp_path, capsys):
    model = tmp_path / "model.npz"
    argv = ["train", "--sizes", "784", "10", "--epochs", "1", "--seed", "1", "--quiet", "--cost", cost]
    assert main([*argv, "--save", str(model)]) == 0
    assert bpio.load_checkpoint(model).cost == {"log-likelihood": "SoftmaxLogLikelihoodCost",
                                                "cross-entropy": "SigmoidCrossEntropyCost",
                                                "quadratic": "QuadraticCost"}[cost]
    assert main(["predict", str(model), str(digit), "--top", "10"]) == 0
    first, line = capsys.readouterr().out.splitlines()
    assert first == f"{model}: the numbers are {meaning}"
    scores = [float(s.split(": ")[1]) for s in line.split("  (")[1].rstrip(")").split(", ")]
    assert len(scores) == 10 and all(0 <= s <= 1 for s in scores)
    if cost == "log-likelihood":
        assert sum(scores) == pytest.approx(1, abs=0.05)  # ten numbers rounded to 0.01


def test_predict_says_when_an_old_file_gives_z(digit, tmp_path, capsys):
    model = tmp_path / "old.npz"
    bpio.save(bp.mlp([784, 10], rng=0)[:-1], model)  # no cost recorded, as before format 3
    assert main(["predict", str(model), str(digit)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{model}: the numbers are the output layer's weighted inputs z, not probabilities")
