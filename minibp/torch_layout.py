r"""Move a network to and from PyTorch's ``state_dict`` layout, without importing PyTorch.

A `Sequential` of `Dense` layers and activations corresponds module for
module to a ``torch.nn.Sequential`` of ``Linear`` layers and the same
activations. PyTorch names each parameter ``"<index>.weight"`` and
``"<index>.bias"``, where the index counts every module, activations
included:

| minibp | shape | PyTorch | shape |
|---|---|---|---|
| ``net[i].w`` | ``(n_out, n_in)`` | ``"i.weight"`` | ``(out_features, in_features)`` |
| ``net[i].b`` | ``(n_out, 1)`` | ``"i.bias"`` | ``(out_features,)`` |

The weight matrices are the same; only the bias loses its column axis. What
differs is the data: minibp's examples are **columns** (``x`` is
``(n_in, m)``), PyTorch's are **rows** (``(m, n_in)``), so
``torch_net(torch.from_numpy(x.T))`` equals ``net(x).T``.

```python
import torch
state = {k: torch.from_numpy(v) for k, v in to_torch_state_dict(net).items()}
torch_net = eval(torch_code(net), {"torch": torch})   # or write the Sequential by hand
torch_net.load_state_dict(state)
```

and back: ``from_torch_state_dict(torch_net.state_dict(), [784, 30, 10])``
(tensors are read with ``numpy.asarray``).

Left out: modules other than `Dense` that have parameters, and nested
containers; they have no single PyTorch counterpart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .errors import ModelFormatError, NonFiniteError, ShapeError
from .layers import Dense
from .module import Module, Parameter
from .sequential import Sequential

__all__ = ["to_torch_state_dict", "from_torch_state_dict", "torch_code"]

_ACTIVATIONS = {  # minibp class name -> the torch.nn constructor call, examples as rows
    "Sigmoid": "Sigmoid()",
    "Tanh": "Tanh()",
    "ReLU": "ReLU()",
    "Identity": "Identity()",
    "Softmax": "Softmax(dim=1)",  # minibp normalises each column, PyTorch each row
}


def _modules(net: Module) -> list[Module]:
    if not isinstance(net, Sequential):
        raise TypeError(f"expected a Sequential of Dense layers and activations, got {type(net).__name__}")
    for i, module in enumerate(net):
        if not isinstance(module, Dense) and module.parameters():
            raise TypeError(
                f"module {i} ({module!r}) has parameters but is not a Dense layer; it has no PyTorch equivalent here"
            )
    return list(net)


def to_torch_state_dict(net: Sequential) -> dict[str, NDArray]:
    """Return the parameters of ``net`` under the names and shapes of ``torch.nn.Sequential.state_dict()``.

    Args:
        net: a `Sequential` of `Dense` layers and parameter-free modules.

    Returns:
        ``{"0.weight": (n_out, n_in) array, "0.bias": (n_out,) array, "2.weight": ..., ...}``,
        copies in the parameters' dtype, C-contiguous.

    Raises:
        TypeError: ``net`` is not a `Sequential`, or one of its modules other
            than `Dense` has parameters.

    Example:
        >>> from minibp import mlp
        >>> {k: v.shape for k, v in to_torch_state_dict(mlp([784, 30, 10], rng=0)).items()}
        {'0.weight': (30, 784), '0.bias': (30,), '2.weight': (10, 30), '2.bias': (10,)}
    """
    state: dict[str, NDArray] = {}
    for i, module in enumerate(_modules(net)):
        if isinstance(module, Dense):
            state[f"{i}.weight"] = np.array(module.w.data, order="C")  # same (out, in) matrix
            state[f"{i}.bias"] = module.b.data.reshape(-1).copy()  # (n_out, 1) -> (n_out,)
    return state


def torch_code(net: Sequential) -> str:
    """Return Python source of the ``torch.nn.Sequential`` that matches ``net`` (PyTorch itself is not imported).

    Args:
        net: a `Sequential` of `Dense` layers and `Sigmoid`, `Tanh`, `ReLU`,
            `Identity`, `Softmax` or `Dropout` modules.

    Returns:
        For example ``"torch.nn.Sequential(torch.nn.Linear(784, 30), torch.nn.Sigmoid(), ...)"``;
        float32 layers add ``dtype=torch.float32``, float64 ones ``dtype=torch.float64``.

    Raises:
        TypeError: a module has no PyTorch counterpart listed here.
    """
    parts = []
    for i, module in enumerate(_modules(net)):
        name = type(module).__name__
        if isinstance(module, Dense):
            dtype = "float64" if module.w.data.dtype == np.float64 else "float32"
            parts.append(f"torch.nn.Linear({module.n_in}, {module.n_out}, dtype=torch.{dtype})")
        elif name in _ACTIVATIONS:
            parts.append(f"torch.nn.{_ACTIVATIONS[name]}")
        elif name == "Dropout" and isinstance(p := getattr(module, "p", None), float):
            parts.append(f"torch.nn.Dropout(p={p!r})")
        else:
            raise TypeError(f"module {i} ({module!r}) has no PyTorch counterpart in torch_code")
    return "torch.nn.Sequential(" + ", ".join(parts) + ")"


def from_torch_state_dict(
    state: Mapping[str, object],
    template: Sequential | Sequence[int],
    *,
    dtype: DTypeLike | None = None,
) -> Sequential:
    """Load a PyTorch ``state_dict`` of a ``Sequential`` of ``Linear`` layers and activations.

    Args:
        state: ``{"0.weight": (out, in), "0.bias": (out,), ...}``; values
            are numpy arrays or anything ``numpy.asarray`` accepts (CPU tensors).
        template: either a `Sequential` whose `Dense` parameters are
            overwritten in place (its layout must match ``state``), or the
            layer sizes, in which case ``mlp(sizes)`` (Dense + Sigmoid) is
            built: ``[784, 30, 10]`` reads ``"0.*"`` and ``"2.*"``.
        dtype: the parameters' dtype when building from sizes (default: that
            of ``state["0.weight"]`` if it is float32 or float64, else float64).
            A template keeps its own dtype.

    Returns:
        The network (the template itself, when one was given).

    Raises:
        ModelFormatError: the names in ``state`` differ from the layout
            (missing or unexpected keys are listed).
        ShapeError: an array has the wrong shape (a transposed weight is pointed out).
        NonFiniteError: an array holds NaN or infinity.
        TypeError: an array is not real-valued.
    """
    from .sequential import mlp

    if isinstance(template, Sequential):
        net = template
    else:
        sizes = [int(s) for s in template]
        if dtype is None:
            first = np.asarray(state["0.weight"]) if "0.weight" in state else None
            dtype = first.dtype if first is not None and first.dtype in (np.float32, np.float64) else np.float64
        net = mlp(sizes, rng=0, dtype=dtype)
    modules = _modules(net)
    expected: dict[str, tuple[Parameter, tuple[int, ...]]] = {}
    for i, module in enumerate(modules):
        if isinstance(module, Dense):
            expected[f"{i}.weight"] = (module.w, (module.n_out, module.n_in))
            expected[f"{i}.bias"] = (module.b, (module.n_out,))
    keys = set(state)
    if keys != set(expected):
        raise ModelFormatError(
            "from_torch_state_dict: the state does not match the network's layout: "
            f"missing {sorted(set(expected) - keys)}, unexpected {sorted(keys - set(expected), key=str)}"
        )
    values = {}
    for key, (_, shape) in expected.items():
        value = np.asarray(state[key])
        if value.dtype.kind not in "fiu":
            raise TypeError(f"from_torch_state_dict: {key} has dtype {value.dtype}, not a real number type")
        if value.shape != shape:
            hint = (
                " (transposed? PyTorch's weight is (out_features, in_features))" if value.shape == shape[::-1] else ""
            )
            raise ShapeError(f"from_torch_state_dict: {key} has shape {value.shape}, expected {shape}{hint}")
        if not np.isfinite(value).all():
            raise NonFiniteError(f"from_torch_state_dict: {key} holds NaN or infinity")
        values[key] = value
    for key, (param, _) in expected.items():  # copy only once everything has been checked
        param.data[...] = values[key].reshape(param.data.shape)
    return net
