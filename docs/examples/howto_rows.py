"""How-to: hand minibp's column arrays to PyTorch or scikit-learn, and take theirs.

python docs/examples/howto_rows.py

The sections between the markers are the guide's Python blocks. On the page they run in the order
imports and to-rows, from-rows, torch, export; this script leaves out the PyTorch block, which
needs PyTorch (the tests run it where PyTorch is installed).
"""

from __future__ import annotations

# --8<-- [start:imports]
import numpy as np

import minibp as bp
from minibp.data import load_sample

# --8<-- [end:imports]


def main():
    # --8<-- [start:to-rows]
    X, y = load_sample().training  # minibp: (784, 4000), one example per column
    X_rows = X.T  # (4000, 784): one example per row, as scikit-learn and PyTorch expect; no copy
    print("minibp columns:", X.shape, " rows for sklearn/torch:", X_rows.shape)
    print("row 0 is column 0:", np.array_equal(X_rows[0], X[:, 0]))
    # --8<-- [end:to-rows]

    # --8<-- [start:from-rows]
    X_rows = np.random.default_rng(0).random((1000, 784))  # data from elsewhere, one example per row
    X_cols = np.asfortranarray(X_rows.T)  # (784, 1000); each example stays contiguous in memory
    print("columns:", X_cols.shape, " each example contiguous:", X_cols.flags.f_contiguous)
    net = bp.mlp([784, 30, 10], rng=0)
    print("output:", net(X_cols).shape, " predictions:", bp.predict(net, X_cols).shape)
    # --8<-- [end:from-rows]

    # --8<-- [start:export]
    from minibp.torch_layout import to_torch_state_dict, torch_code

    state = to_torch_state_dict(net)  # plain numpy arrays under PyTorch's names and shapes
    print({name: array.shape for name, array in state.items()})
    print(torch_code(net))
    # --8<-- [end:export]
    return X, y, net


def torch_part(X, y, net):
    """The PyTorch block, with the page's `X`, `y` and `net` (what `main` returns)."""
    # --8<-- [start:torch]
    import torch

    inputs = torch.from_numpy(np.ascontiguousarray(X.T))  # (N, 784), C-contiguous, as torch.from_numpy wants
    labels = torch.from_numpy(y)  # (N,) int64
    outputs = torch.from_numpy(net(X).T.copy())  # minibp's (10, N) output as PyTorch's (N, 10)
    print(inputs.shape, inputs.dtype, labels.shape, outputs.shape)
    # --8<-- [end:torch]
    return outputs.shape == (y.size, 10)


if __name__ == "__main__":
    main()
