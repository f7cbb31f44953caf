r"""Several optimizers, one per group of a network's parameters, stepped as one by `minibp.train`.

``train(net, data, optimizer=[SGD(net[0].parameters(), eta=0.5), SGD(net[2].parameters(), eta=2.0)], ...)``
gives each group of parameters its own optimizer (one learning rate per layer). `train` wraps the list in
an `OptimizerGroups`, which checks it against the network before training:

* the optimizers' parameter lists must not overlap (`ValueError` naming the parameter as
  ``net.named_parameters()`` names it);
* every parameter must belong to the network (a foreign `Parameter` is refused);
* parameters in no optimizer stay **frozen**: never changed (`frozen` names them, and `train` says so).

**One step.** Each mini-batch, `step` hands every optimizer the regularisers restricted to its own
parameters (a copy of each regulariser whose ``weights`` keeps only those), so an `L2` or `L1` gradient is
added exactly once to each trained weight, and `WeightDecay` shrinks each weight with the ``eta`` of the
optimizer that owns it; `minibp.optim.step_together` then steps them all, or none if one fails.

**Learning rates.** ``eta`` is the list of the optimizers' $\eta$. Setting it to one number $\eta$ (as a
schedule's result is set) gives the first optimizer $\eta$ and each other optimizer $k$ the learning rate
$\eta\, \eta_k^{(0)} / \eta_0^{(0)}$: the ratios they had when the groups were made are kept, so
``HalveOnPlateau(eta=eta_0)`` halves every one.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from ._checks import check_positive
from .module import Module, Parameter
from .optim import Optimizer, step_together
from .regularization import Regularizer

__all__ = ["OptimizerGroups"]


class OptimizerGroups:
    """A list of optimizers over disjoint groups of ``net``'s parameters, used by `train` like one optimizer.

    Args:
        net: the network the optimizers train.
        optimizers: one or more `Optimizer` objects; their parameter lists must not overlap.

    Attributes:
        optimizers: the optimizers, in the order given.
        parameters: every trained parameter, the first optimizer's first.
        frozen: the names (as in ``net.named_parameters()``) of the parameters no optimizer holds.

    Raises:
        TypeError: an item is not an `Optimizer`.
        ValueError: the list is empty, two optimizers hold the same parameter, or an optimizer holds a
            parameter that is not the network's.
    """

    def __init__(self, net: Module, optimizers: Sequence[Optimizer]) -> None:
        self.optimizers = list(optimizers)
        if not self.optimizers:
            raise ValueError("train: optimizer is an empty list; give at least one optimizer")
        names = {id(p): name for name, p in net.named_parameters()}
        owner: dict[int, int] = {}
        for k, optimizer in enumerate(self.optimizers):
            if not isinstance(optimizer, Optimizer):
                raise TypeError(f"train: optimizer[{k}] is {type(optimizer).__name__}, not an Optimizer")
            for i, p in enumerate(optimizer.parameters):
                if id(p) not in names:
                    raise ValueError(
                        f"train: optimizer[{k}] ({optimizer!r}) holds parameter {i} {p.shape}, which is not "
                        "a parameter of the network (see net.named_parameters())"
                    )
                if id(p) in owner:
                    raise ValueError(
                        f"train: parameter {names[id(p)]!r} is in optimizer[{owner[id(p)]}] and in optimizer[{k}]; "
                        "each parameter may have one optimizer only"
                    )
                owner[id(p)] = k
        self.parameters: list[Parameter] = [p for optimizer in self.optimizers for p in optimizer.parameters]
        self.frozen: list[str] = [name for name, p in net.named_parameters() if id(p) not in owner]
        self._frozen_parameters = [p for p in net.parameters() if id(p) not in owner]
        first = getattr(self.optimizers[0], "eta", None)
        self._ratios = [None if first is None else getattr(o, "eta", None) for o in self.optimizers]
        if first is not None:
            self._ratios = [None if e is None else e / first for e in self._ratios]
        self._owned = [{id(p) for p in o.parameters} for o in self.optimizers]

    @property
    def eta(self) -> list[float | None]:
        """Each optimizer's learning rate (``None`` for one without ``eta``)."""
        return [getattr(o, "eta", None) for o in self.optimizers]

    @eta.setter
    def eta(self, eta: float) -> None:
        eta = check_positive("train: schedule", "eta", eta)
        if any(r is None for r in self._ratios):
            missing = [k for k, r in enumerate(self._ratios) if r is None]
            raise TypeError(f"train: a schedule sets every optimizer's eta, but optimizer[{missing[0]}] has none")
        for optimizer, ratio in zip(self.optimizers, self._ratios):
            optimizer.eta = eta * ratio  # type: ignore[operator]

    def check_regularizers(self, regularizers: Sequence[Regularizer]) -> None:
        """Refuse a regulariser whose parameters cannot be split among the optimizers (no ``weights`` list)."""
        for r in regularizers:
            weights = getattr(r, "weights", None)
            if not isinstance(weights, list) or not all(isinstance(p, Parameter) for p in weights):
                raise TypeError(
                    f"train: with several optimizers each regulariser must list its parameters in a 'weights' "
                    f"attribute (as L2, L1 and WeightDecay do), so that each parameter's optimizer applies it; "
                    f"{r!r} has none"
                )

    def zero_grad(self) -> None:
        """Zero the gradients of every parameter, frozen ones included."""
        for optimizer in self.optimizers:
            optimizer.zero_grad()
        for p in self._frozen_parameters:
            p.zero_grad()

    def step(self, regularizers: Sequence[Regularizer] = ()) -> None:
        """Step every optimizer with the regularisers restricted to its own parameters (see the module docstring).

        The restricted copies are made at each step, so a regulariser changed between steps acts as it is now.
        """
        self.check_regularizers(regularizers)
        step_together([(o, _restrict(regularizers, own)) for o, own in zip(self.optimizers, self._owned)])

    def __repr__(self) -> str:
        return f"[{', '.join(repr(o) for o in self.optimizers)}]"


def _restrict(regularizers: Sequence[Regularizer], own: set[int]) -> list[Regularizer]:
    """Copies of ``regularizers`` whose ``weights`` keep only the parameters in ``own`` (ids), if any."""
    restricted = []
    for r in regularizers:
        weights = [p for p in r.weights if id(p) in own]  # type: ignore[attr-defined]
        if weights:
            r = copy.copy(r)
            r.weights = weights  # type: ignore[attr-defined]
            restricted.append(r)
    return restricted
