r"""`Parallel` and `Residual` as ``torch.nn.Module`` classes, for the networks `minibp.torch_layout.to_torch` makes.

PyTorch has ``torch.nn.Sequential`` but no module that runs branches side by
side or adds a shortcut, so these two compute, on PyTorch's rows, what
`minibp.Parallel` and `minibp.Residual` compute on minibp's columns:

| minibp (columns, ``(n, m)``) | here (rows, ``(m, n)``) |
|---|---|
| `minibp.Parallel`: the branches' outputs stacked along axis 0 | ``torch.cat`` along dimension 1 |
| `minibp.Residual`: ``x + f(x)`` | ``x + f(x)`` |

Importing this file imports PyTorch; ``import minibp`` does not import it.
`minibp.torch_layout.from_torch` reads these classes back into minibp's.
Deliberately left out: merges other than stacking and adding, as in minibp.
"""

from __future__ import annotations

import torch

__all__ = ["Parallel", "Residual"]


class Parallel(torch.nn.Module):
    r"""Branches that read the same input; their outputs are concatenated along dimension 1 (the features).

    $$a = \big[\, f_1(x) \;\; f_2(x) \;\; \cdots \;\; f_K(x) \,\big]$$

    Args:
        *branches: the modules, each mapping ``(m, n_in)`` to ``(m, n_k)``; at least one.

    Attributes:
        branches: a ``torch.nn.ModuleList`` of the modules, in order.
    """

    def __init__(self, *branches: torch.nn.Module) -> None:
        super().__init__()
        if not branches:
            raise ValueError("Parallel needs at least one branch")
        self.branches = torch.nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run every branch on ``x`` ``(m, n_in)``; return their outputs side by side, ``(m, n_1 + ... + n_K)``."""
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class Residual(torch.nn.Module):
    r"""A module plus a shortcut around it: $a = x + f(x)$.

    Args:
        module: $f$, which must keep the shape of its input.

    Attributes:
        module: $f$.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x + module(x)``, the shape of ``x``."""
        return x + self.module(x)
