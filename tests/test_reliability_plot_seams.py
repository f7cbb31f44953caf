"""'minibp plot' on crafted history files and output names: a drawing, or a typed error and exit 2.

Every malformed history (wrong types, NaN or infinity, lengths that do not
match the epochs, huge lists, deep nesting) is refused before anything is
drawn, with a message naming the field; never "internal error".
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minibp as bp
from minibp.cli import main

pytest.importorskip("matplotlib")


def _no_controls(text):
    return all(ch == "\n" or ch.isprintable() for ch in text)


FUZZ = settings(
    max_examples=int(os.environ.get("MINIBP_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _good_history():
    history = bp.History(evaluation_size=100, training_size=1000)
    for j, eta in enumerate((3.0, 3.0, 1.5)):
        history.record_epoch(j, seconds=0.5, eta=eta, training_cost=1.0 / (j + 1), training=(900 + j, 0.3),
                             evaluation=(80 + j, 0.4))  # fmt: skip
    doc = history.to_dict()
    doc["learning_speed"] = [[0.1, 0.01], [0.05, 0.02], [0.04, 0.03]]
    doc["saturation"] = [[0.2, None], [0.25, None], [0.3, None]]
    doc["initial_learning_speed"] = [0.2, 0.02]
    return doc


def run_plot(argv):
    """``main(argv)``'s exit status, whether it returns it or raises SystemExit as a usage error does."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def assert_drawn_or_refused(history_path, kind, out_path, capsys):
    code = run_plot(["plot", kind, str(history_path), "-o", str(out_path)])
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err, err
    assert _no_controls(err), repr(err)
    if code == 0:
        assert out_path.stat().st_size > 0
    elif kind == "speed" and code == 1:  # a well-formed history without the fields the picture needs
        assert "holds no learning speed" in err
    else:
        assert code == 2 and err.startswith("minibp plot: error: "), (code, err)
    return code


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)
KEYS = st.sampled_from([*_good_history(), "x_cost", "$\\frac{_cost", "\x1b[31m_accuracy", "initial_saturation"])
MUTATION = st.one_of(
    st.tuples(st.just("set"), KEYS, JSON),
    st.tuples(st.just("truncate"), KEYS, st.integers(0, 4)),
    st.tuples(st.just("append"), KEYS, JSON),
    st.tuples(st.just("element"), KEYS, st.integers(0, 3), JSON),
    st.tuples(st.just("root"), JSON),
)


def _mutate(doc, mutation):
    kind, *rest = mutation
    if kind == "root":
        return rest[0]
    if not isinstance(doc, dict):
        return doc
    key = rest[0]
    value = doc.get(key)
    if kind == "set":
        doc[key] = rest[1]
    elif isinstance(value, list) and kind == "truncate":
        doc[key] = value[: rest[1]]
    elif isinstance(value, list) and kind == "append":
        value.append(rest[1])
    elif isinstance(value, list) and kind == "element" and rest[1] < len(value):
        value[rest[1]] = rest[2]
    return doc


@FUZZ
@given(mutations=st.lists(MUTATION, min_size=1, max_size=3), kind=st.sampled_from(["curves", "speed"]))
def test_plot_of_any_mutated_history_draws_it_or_exits_2_with_a_typed_error(mutations, kind, tmp_path, capsys):
    doc = _good_history()
    for mutation in mutations:
        doc = _mutate(doc, mutation)
    history = tmp_path / "history.json"
    history.write_text(json.dumps(doc, allow_nan=True), encoding="utf-8")
    output = tmp_path / "out.png"
    output.unlink(missing_ok=True)
    assert_drawn_or_refused(history, kind, output, capsys)


def _huge(doc, what):
    n = 1_000_001
    if what == "epochs":
        doc.update({key: list(range(n)) if key == "epoch" else [] for key, v in doc.items() if isinstance(v, list)})
        doc.pop("eta")  # a series of its own: the epochs alone are huge
    elif what == "series":
        doc.update({f"s{i}_cost": [] for i in range(65)})
    elif what == "layers":
        doc["learning_speed"][0] = [0.5] * 10_001
    elif what == "big int":
        doc["epoch"][1] = 10**400
    elif what == "NaN":
        doc["training_cost"][1] = float("nan")
    elif what == "infinity":
        doc["evaluation_accuracy"][2] = float("inf")
    elif what == "mismatched":
        doc["evaluation_cost"].pop()
    return doc


@pytest.mark.parametrize("what", ["epochs", "series", "layers", "big int", "NaN", "infinity", "mismatched"])
@pytest.mark.parametrize("kind", ["curves", "speed"])
def test_plot_refuses_huge_or_non_finite_or_mismatched_histories_with_exit_2(what, kind, tmp_path, capsys):
    history = tmp_path / "history.json"
    history.write_text(json.dumps(_huge(_good_history(), what), allow_nan=True), encoding="utf-8")
    assert assert_drawn_or_refused(history, kind, tmp_path / "out.png", capsys) == 2


def test_plot_refuses_deeply_nested_json_with_exit_2(tmp_path, capsys):
    history = tmp_path / "history.json"
    history.write_text('{"epoch": [0], "training_cost": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    assert assert_drawn_or_refused(history, "curves", tmp_path / "out.png", capsys) == 2


@pytest.mark.parametrize("name", ["out.xyz", "out.pgf", "out.\x1b[31m", "out.avif"])
def test_plot_refuses_an_output_name_it_cannot_write_with_exit_2(name, tmp_path, capsys):
    history = tmp_path / "history.json"
    history.write_text(json.dumps(_good_history()), encoding="utf-8")
    assert assert_drawn_or_refused(history, "curves", tmp_path / name, capsys) == 2
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("name", ["$\\frac{_cost", "$\\frac{$_cost", "$x$_cost", "a_b^c_accuracy"])
def test_plot_draws_series_whose_names_look_like_mathtext(name, tmp_path, capsys):
    doc = _good_history()
    doc[name] = [0.5, 0.4, 0.3]
    history = tmp_path / "history.json"
    history.write_text(json.dumps(doc), encoding="utf-8")
    assert assert_drawn_or_refused(history, "curves", tmp_path / "out.png", capsys) == 0
