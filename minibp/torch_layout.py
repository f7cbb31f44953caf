r"""Move a network to PyTorch and back: as a ``torch.nn.Module``, or as a ``state_dict`` without importing PyTorch.

`to_torch` returns a ``torch.nn.Module`` that computes what a minibp network
computes, with copies of its parameters, for every built-in module (`Dense`,
the activations, `Dropout`, `Sequential`, `Parallel`, `Residual`, and
``Conv2d``/``MaxPool2d`` where ``minibp.conv`` is installed); `from_torch`
brings such a module back. Both import PyTorch only when called
(``pip install "minibp[torch]"``); ``import minibp`` never does.

Without PyTorch, a `Sequential` of `Dense` layers and activations corresponds
module for module to a ``torch.nn.Sequential`` of ``Linear`` layers and the
same activations. PyTorch names each parameter ``"<index>.weight"`` and
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

Left out: modules of one's own (they have no counterpart to find), PyTorch
modules minibp has no counterpart of, and, in the ``state_dict`` functions,
nested containers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ._checks import as_generator
from .containers import Parallel, Residual
from .errors import ModelFormatError, NonFiniteError, ShapeError
from .layers import Dense, Dropout, Identity, ReLU, Sigmoid, Softmax, Tanh
from .module import Module, Parameter
from .sequential import Sequential

if TYPE_CHECKING:
    import torch

__all__ = ["to_torch", "from_torch", "to_torch_state_dict", "from_torch_state_dict", "torch_code"]

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


# --- Whole networks as torch.nn modules --------------------------------------------------------------

_Layout = tuple[int, int, int] | None  # None: rows of features (m, n); (C, H, W): images (m, C, H, W)

_ELEMENTWISE: tuple[type[Module], ...] = (Sigmoid, Tanh, ReLU, Identity)  # torch.nn has a class of each name

_EXTRA = 'pip install "minibp[torch]"'


def _import_torch(what: str) -> Any:
    """Import PyTorch, or raise an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as error:
        raise ModuleNotFoundError(
            f"{what} needs PyTorch, which minibp installs as an extra: {_EXTRA}", name="torch"
        ) from error
    return torch


def _conv_classes() -> tuple[type | None, type | None]:
    """minibp's ``Conv2d`` and ``MaxPool2d``, or ``None`` for each one this installation lacks."""
    try:  # minibp.conv may be newer than this file: where it is missing, mypy need not find it either
        from .conv import Conv2d, MaxPool2d  # type: ignore[import-not-found, unused-ignore]
    except ModuleNotFoundError as error:
        if error.name != f"{__package__}.conv":
            raise  # minibp.conv exists but something it imports does not: say so
        return None, None
    return Conv2d, MaxPool2d


def _where(path: str) -> str:
    return f"module {path}" if path else "the network"


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def to_torch(net: Module) -> torch.nn.Module:
    """Return a new ``torch.nn.Module`` that computes what ``net`` computes, on rows, with copies of its parameters.

    | minibp | PyTorch |
    |---|---|
    | `Dense` | ``torch.nn.Linear`` (weight ``w``, bias ``b[:, 0]``) |
    | `Sigmoid`, `Tanh`, `ReLU`, `Identity` | the ``torch.nn`` module of that name |
    | `Softmax` | ``torch.nn.Softmax(dim=1)``: each row, as minibp normalises each column |
    | `Dropout` | ``torch.nn.Dropout`` with the same ``p`` |
    | `Sequential` | ``torch.nn.Sequential``, with ``Flatten``/``Unflatten`` where images meet features |
    | `Parallel`, `Residual` | `minibp.torch_containers.Parallel`, `minibp.torch_containers.Residual` |
    | ``Conv2d`` | ``torch.nn.Conv2d`` (weight ``w``, bias ``b[:, 0]``), stride 1, no padding |
    | ``MaxPool2d`` | ``torch.nn.MaxPool2d(size)`` |

    minibp's examples are **columns**, PyTorch's are **rows**, so
    ``to_torch(net)(torch.from_numpy(x.T))`` equals ``net(x).T``. A convolution
    reads its columns as images ``image.reshape(C, H, W)``, so a network whose
    first layer is a ``Conv2d`` starts with ``torch.nn.Unflatten(1, (C, H, W))``
    and still takes rows of ``C·H·W`` pixels, and a ``Dense`` after a
    convolution follows a ``torch.nn.Flatten()``, which orders the features
    channel first, as minibp does.

    The parameters are copies, in their own dtype; a `Parameter` held in two
    places becomes one ``torch.nn.Parameter`` held in the same two places.
    Each module's training or evaluation mode is kept. PyTorch's dropout draws
    its masks from PyTorch's random generator, not from the module's ``rng``.
    PyTorch's global random state is not touched.

    Args:
        net: a network of the built-in modules above, nested in any way; every
            parameter in one dtype (a ``torch.nn`` layer does not convert its input).

    Returns:
        The ``torch.nn.Module``, on the CPU; it expects inputs in the parameters' dtype.

    Raises:
        ModuleNotFoundError: PyTorch is not installed (``pip install "minibp[torch]"``).
        TypeError: a module has no PyTorch counterpart here (a class of one's own,
            a subclass of a built-in one, a ``forward`` replaced on the instance),
            or the parameters mix dtypes. The message names the module and where it is.

    Example:
        ``torch_net = to_torch(net)``, then ``torch_net(torch.from_numpy(x.T))``; and back with `from_torch`.
    """
    torch = _import_torch("minibp.torch_layout.to_torch")
    if not isinstance(net, Module):
        raise TypeError(f"to_torch: expected a minibp Module, got {type(net).__name__}")
    dtypes = sorted({str(p.data.dtype) for p in net.parameters()})
    if len(dtypes) > 1:
        raise TypeError(
            f"to_torch: the parameters mix dtypes {dtypes}; torch.nn layers do not convert their input's dtype "
            "as minibp's do, so make the network one dtype first"
        )
    return _ToTorch(torch).whole(net, "", None, None)


class _ToTorch:
    """One conversion to PyTorch: the torch module, minibp's convolution classes and the parameters made so far."""

    def __init__(self, torch: Any) -> None:
        self.torch = torch
        self.conv2d, self.maxpool2d = _conv_classes()
        self.made: dict[int, Any] = {}  # id(minibp Parameter) -> its torch.nn.Parameter, for tied weights

    def parameter(self, p: Parameter, shape: tuple[int, ...]) -> Any:
        if id(p) not in self.made:
            self.made[id(p)] = self.torch.nn.Parameter(self.torch.tensor(p.data.reshape(shape)))  # a copy
        return self.made[id(p)]

    def reshape(self, layout: _Layout, wanted: _Layout, training: bool) -> list[Any]:
        """The ``Flatten``/``Unflatten`` that turn rows laid out as ``layout`` into ``wanted``."""
        nn, steps = self.torch.nn, []
        if layout != wanted and layout is not None:
            steps.append(nn.Flatten())  # (m, C, H, W) -> (m, C*H*W), channel first as minibp's columns
        if layout != wanted and wanted is not None:
            steps.append(nn.Unflatten(1, wanted))
        for step in steps:
            step.train(training)
        return steps

    def whole(self, module: Module, path: str, layout: _Layout, wanted: _Layout) -> Any:
        """One torch module for ``module``, taking rows laid out as ``layout`` and returning them as ``wanted``."""
        items, out = self.convert(module, path, layout)
        items += self.reshape(out, wanted, module.training)
        if len(items) == 1:
            return items[0]
        if type(module) is Sequential:  # [its torch.nn.Sequential, reshapes...]: put them inside
            for item in items[1:]:
                items[0].append(item)
            return items[0]
        sequence = self.torch.nn.Sequential(*items)
        sequence.train(module.training)
        return sequence

    def convert(self, module: Module, path: str, layout: _Layout) -> tuple[list[Any], _Layout]:
        """The torch modules that stand for ``module`` (reshapes first) and the layout they leave."""
        nn, kind, name = self.torch.nn, type(module), type(module).__name__
        overridden = [verb for verb in ("forward", "backward") if verb in vars(module)]
        if overridden:
            raise TypeError(
                f"to_torch: {_where(path)} ({module!r}) has its own {overridden[0]} set on the instance; "
                "its PyTorch counterpart would compute something else"
            )
        pre: list[Any] = []
        made: Any
        if kind is Sequential:
            assert isinstance(module, Sequential)
            items: list[Any] = []
            for i, child in enumerate(module):
                converted, layout = self.convert(child, _child(path, str(i)), layout)
                items += converted
            made = nn.Sequential(*items)
        elif kind is Dense:
            assert isinstance(module, Dense)
            pre, layout = self.reshape(layout, None, module.training), None
            made = nn.utils.skip_init(nn.Linear, module.n_in, module.n_out, dtype=_torch_dtype(self.torch, module))
            made.weight = self.parameter(module.w, (module.n_out, module.n_in))
            made.bias = self.parameter(module.b, (module.n_out,))
        elif kind is self.conv2d:
            in_shape, f, k = _conv_settings(module)
            pre, layout = self.reshape(layout, in_shape, module.training), (f, in_shape[1] - k + 1, in_shape[2] - k + 1)
            made = nn.utils.skip_init(nn.Conv2d, in_shape[0], f, k, dtype=_torch_dtype(self.torch, module))
            made.weight = self.parameter(module.w, (f, in_shape[0], k, k))  # type: ignore[attr-defined]
            made.bias = self.parameter(module.b, (f,))  # type: ignore[attr-defined]
        elif kind is self.maxpool2d:
            in_shape, size = _pool_settings(module)
            pre, layout = self.reshape(layout, in_shape, module.training), (in_shape[0], *_pooled(in_shape, size))
            made = nn.MaxPool2d(size)  # stride = size: non-overlapping windows
        elif kind in _ELEMENTWISE:
            made = getattr(nn, name)()
        elif kind is Dropout:
            assert isinstance(module, Dropout)
            made = nn.Dropout(p=module.p)
        elif kind is Softmax:
            pre, layout = self.reshape(layout, None, module.training), None
            made = nn.Softmax(dim=1)  # minibp normalises each column, PyTorch each row
        elif kind is Parallel:
            assert isinstance(module, Parallel)
            pre, layout = self.reshape(layout, None, module.training), None
            made = _torch_containers().Parallel(
                *(self.whole(branch, _child(path, str(i)), None, None) for i, branch in enumerate(module.branches))
            )
        elif kind is Residual:
            assert isinstance(module, Residual)
            made = _torch_containers().Residual(self.whole(module.module, _child(path, "0"), layout, layout))
        else:
            raise TypeError(
                f"to_torch: {_where(path)} ({module!r}) is a {kind.__module__}.{kind.__qualname__}, which has no "
                "PyTorch counterpart here; to_torch converts minibp's built-in Dense, Conv2d, MaxPool2d, Sigmoid, "
                "Tanh, ReLU, Identity, Softmax, Dropout, Sequential, Parallel and Residual"
            )
        made.training = module.training  # this module's mode; its children carry their own
        return [*pre, made], layout


def _torch_dtype(torch: Any, module: Module) -> Any:
    return getattr(torch, str(module.parameters()[0].data.dtype))  # float32 or float64: Parameter allows no other


def _torch_containers() -> Any:
    from . import torch_containers  # imports PyTorch, so only when a conversion runs

    return torch_containers


def _conv_settings(module: Module) -> tuple[tuple[int, int, int], int, int]:
    """``(in_shape, out_channels, kernel_size)`` of a minibp ``Conv2d``."""
    c, h, w = (int(s) for s in module.in_shape)  # type: ignore[attr-defined]
    return (c, h, w), int(module.out_channels), int(module.kernel_size)  # type: ignore[attr-defined]


def _pool_settings(module: Module) -> tuple[tuple[int, int, int], int]:
    """``(in_shape, size)`` of a minibp ``MaxPool2d`` (its window's side, ``size``, also read as ``kernel_size``)."""
    c, h, w = (int(s) for s in module.in_shape)  # type: ignore[attr-defined]
    size = getattr(module, "size", None)
    return (c, h, w), int(size if size is not None else module.kernel_size)  # type: ignore[attr-defined]


def _pooled(in_shape: tuple[int, int, int], size: int) -> tuple[int, int]:
    return in_shape[1] // size, in_shape[2] // size


def from_torch(
    module: torch.nn.Module,
    *,
    in_shape: tuple[int, int, int] | None = None,
    rng: np.random.Generator | int | None = None,
) -> Module:
    """Return a minibp network that computes what ``module`` computes, on columns, with copies of its parameters.

    The inverse of `to_torch`: ``from_torch(to_torch(net))`` has ``net``'s
    parameters, bit for bit, and its outputs. It reads a ``torch.nn.Sequential``
    (nested in any way) of ``Linear``, ``Conv2d`` (stride 1, no padding, one
    group, with a bias), ``MaxPool2d`` (stride equal to its square window, no
    padding), ``Sigmoid``, ``Tanh``, ``ReLU``, ``Identity``, ``Softmax(dim=1)``,
    ``Dropout``, ``Flatten``, ``Unflatten`` and the `minibp.torch_containers`
    classes. ``Flatten`` and ``Unflatten`` compute nothing on minibp's columns
    and are left out; they tell a ``Conv2d`` its image shape. Parameters are
    copied in their dtype (float32 or float64), a parameter held in two places
    stays shared, and each module's training or evaluation mode is kept.

    Args:
        module: the PyTorch module (on any device; it is not changed).
        in_shape: ``(C, H, W)`` if ``module`` takes images ``(m, C, H, W)``
            rather than rows of features (``None``, the default); the minibp
            network then takes their columns ``(C·H·W, m)``.
        rng: a `numpy.random.Generator` or an int seed for the `Dropout` modules' masks.

    Returns:
        The minibp module: a `Sequential` for a ``torch.nn.Sequential``, and so on.

    Raises:
        ModuleNotFoundError: PyTorch is not installed (``pip install "minibp[torch]"``).
        TypeError: a module has no minibp counterpart (the message names it and
            where it is), or a parameter is not float32 or float64.
        ShapeError: a layer receives what minibp's counterpart would not
            accept: a ``Linear`` given images, a ``Conv2d`` with no known image shape
            or the wrong number of channels, a pooling window that does not divide the image.
    """
    torch = _import_torch("minibp.torch_layout.from_torch")
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    layout: _Layout = None if in_shape is None else _shape3(in_shape)
    return _FromTorch(torch, as_generator(rng)).whole(module, "", layout)[0]


def _shape3(shape: Sequence[int]) -> tuple[int, int, int]:
    c, h, w = (int(s) for s in shape)
    return c, h, w


class _FromTorch:
    """One conversion from PyTorch: the torch module, minibp's convolution classes and the parameters made so far."""

    def __init__(self, torch: Any, rng: np.random.Generator) -> None:
        self.torch = torch
        self.rng = rng
        self.conv2d, self.maxpool2d = _conv_classes()
        self.made: dict[int, Parameter] = {}  # id(torch.nn.Parameter) -> its minibp Parameter, for tied weights

    def parameter(self, tensor: Any, shape: tuple[int, ...]) -> Parameter:
        if id(tensor) not in self.made:
            self.made[id(tensor)] = Parameter(tensor.detach().cpu().numpy().reshape(shape))  # Parameter copies
        return self.made[id(tensor)]

    def dtype(self, module: Any, path: str) -> np.dtype:
        """The numpy dtype of ``module``'s weight: float32 or float64, else a TypeError."""
        dtype = module.weight.dtype
        if dtype not in (self.torch.float32, self.torch.float64):
            raise TypeError(
                self.refused(
                    module,
                    path,
                    f"has {dtype} parameters; minibp computes in float32 or float64 "
                    "(convert with .double() or .float() first)",
                )
            )
        return np.dtype(np.float32 if dtype == self.torch.float32 else np.float64)

    def whole(self, module: Any, path: str, layout: _Layout) -> tuple[Module, _Layout]:
        """One minibp module for ``module`` (an `Identity` if it only reshapes) and the layout it leaves."""
        items, layout = self.convert(module, path, layout)
        if not items:
            items = [Identity()]
            items[0].training = module.training
        return items[0], layout

    def refused(self, module: Any, path: str, why: str) -> str:
        """The message of the TypeError that refuses ``module``: what it is, where, and why."""
        return f"from_torch: {_where(path)} ({module!r}) {why}"

    def convert(self, module: Any, path: str, layout: _Layout) -> tuple[list[Module], _Layout]:
        """The minibp modules (none or one) that stand for ``module``, and the layout it leaves."""
        nn, kind = self.torch.nn, type(module)
        containers = _torch_containers()
        made: Module
        if kind is nn.Sequential:
            items: list[Module] = []
            for name, child in module.named_children():
                converted, layout = self.convert(child, _child(path, name), layout)
                items += converted
            made = Sequential(*items) if items else Identity()
        elif kind is nn.Flatten:
            if (module.start_dim, module.end_dim) != (1, -1):
                raise TypeError(
                    self.refused(module, path, "flattens other dimensions than 1 to the last; minibp cannot")
                )
            return [], None
        elif kind is nn.Unflatten:
            size = tuple(module.unflattened_size)
            if module.dim != 1 or len(size) != 3 or layout is not None:
                raise TypeError(
                    self.refused(module, path, "is not Unflatten(1, (C, H, W)) applied to rows of features")
                )
            return [], _shape3(size)
        elif kind is nn.Linear:
            if layout is not None:
                raise ShapeError(
                    f"from_torch: {_where(path)} ({module!r}) receives images {layout}; "
                    "put torch.nn.Flatten() before it"
                )
            if module.bias is None:
                raise TypeError(self.refused(module, path, "has no bias; minibp's Dense always has one"))
            n_out, n_in = module.weight.shape
            made = Dense(n_in, n_out, init=_zeros, dtype=self.dtype(module, path))
            made.w = self.parameter(module.weight, (n_out, n_in))
            made.b = self.parameter(module.bias, (n_out, 1))
        elif kind is nn.Conv2d:
            made, layout = self.conv(module, path, layout)
        elif kind is nn.MaxPool2d:
            made, layout = self.pool(module, path, layout)
        elif any(kind is getattr(nn, cls.__name__) for cls in _ELEMENTWISE):
            made = next(cls for cls in _ELEMENTWISE if cls.__name__ == kind.__name__)()
        elif kind is nn.Dropout:
            made = Dropout(module.p, rng=self.rng)
        elif kind is nn.Softmax:
            if layout is not None or module.dim not in (1, -1):
                raise TypeError(self.refused(module, path, "is not a softmax over the features of rows (dim=1)"))
            made = Softmax()
        elif kind is containers.Parallel:
            if layout is not None:
                raise ShapeError(
                    f"from_torch: {_where(path)} receives images {layout}; put torch.nn.Flatten() "
                    "before it (minibp's Parallel stacks features)"
                )
            branches = []
            for i, branch in enumerate(module.branches):
                inner, out = self.whole(branch, _child(path, f"branches.{i}"), None)
                if out is not None:
                    raise ShapeError(
                        f"from_torch: branch {i} of {_where(path)} returns images {out}; end it with "
                        "torch.nn.Flatten() (minibp's Parallel stacks features)"
                    )
                branches.append(inner)
            made = Parallel(*branches)
        elif kind is containers.Residual:
            inner, out = self.whole(module.module, _child(path, "module"), layout)
            if out != layout:
                raise ShapeError(f"from_torch: {_where(path)} adds x laid out as {layout} to f(x) laid out as {out}")
            made = Residual(inner)
        else:
            raise TypeError(
                self.refused(
                    module,
                    path,
                    f"is a {kind.__module__}.{kind.__qualname__}, which has no minibp counterpart; from_torch reads "
                    "torch.nn.Sequential, Linear, Conv2d, MaxPool2d, Sigmoid, Tanh, ReLU, Identity, Softmax, Dropout, "
                    "Flatten, Unflatten and minibp.torch_containers' Parallel and Residual",
                )
            )
        made.training = module.training
        return [made], layout

    def conv(self, module: Any, path: str, layout: _Layout) -> tuple[Module, _Layout]:
        if self.conv2d is None:
            raise TypeError(self.refused(module, path, "needs minibp.conv, which this installation of minibp lacks"))
        k = module.kernel_size
        settings = (module.stride, module.padding, module.dilation, module.groups, module.padding_mode)
        if (
            k[0] != k[1]
            or settings[:3] not in (((1, 1), (0, 0), (1, 1)), ((1, 1), "valid", (1, 1)))
            or settings[3:] != (1, "zeros")
        ):
            raise TypeError(
                self.refused(module, path, "is not a square, stride-1, unpadded, ungrouped convolution as minibp's")
            )
        if module.bias is None:
            raise TypeError(self.refused(module, path, "has no bias; minibp's Conv2d always has one"))
        if layout is None or layout[0] != module.in_channels:
            raise ShapeError(
                f"from_torch: {_where(path)} ({module!r}) receives "
                + ("rows of features" if layout is None else f"images {layout}")
                + f"; it needs images of {module.in_channels} channels: put torch.nn.Unflatten(1, (C, H, W)) "
                "before it, or pass in_shape for a network that takes images"
            )
        f, k = module.out_channels, k[0]
        made = self.conv2d(layout, f, k, rng=0, dtype=self.dtype(module, path))
        made.w = self.parameter(module.weight, (f, layout[0], k, k))
        made.b = self.parameter(module.bias, (f, 1))
        return made, (f, layout[1] - k + 1, layout[2] - k + 1)

    def pool(self, module: Any, path: str, layout: _Layout) -> tuple[Module, _Layout]:
        if self.maxpool2d is None:
            raise TypeError(self.refused(module, path, "needs minibp.conv, which this installation of minibp lacks"))
        k = module.kernel_size
        size = k if isinstance(k, int) else k[0] if len(set(k)) == 1 else None
        stride = module.stride if module.stride is not None else k
        stride = stride if isinstance(stride, int) else stride[0] if len(set(stride)) == 1 else None
        padding, dilation = module.padding, module.dilation
        if (
            size is None
            or stride != size
            or padding not in (0, (0, 0))
            or dilation not in (1, (1, 1))
            or module.ceil_mode
            or module.return_indices
        ):
            raise TypeError(self.refused(module, path, "is not a non-overlapping square max-pooling as minibp's"))
        if layout is None or layout[1] % size or layout[2] % size:
            raise ShapeError(
                f"from_torch: {_where(path)} ({module!r}) receives "
                + ("rows of features" if layout is None else f"images {layout}")
                + f"; minibp's MaxPool2d needs images whose height and width {size} divides"
            )
        return self.maxpool2d(layout, size=size), (layout[0], *_pooled(layout, size))


def _zeros(n_in: int, n_out: int, rng: np.random.Generator, dtype: DTypeLike) -> tuple[NDArray, NDArray]:
    """An initialiser for layers whose parameters are about to be replaced: nothing random is drawn."""
    return np.zeros((n_out, n_in), dtype=dtype), np.zeros((n_out, 1), dtype=dtype)
