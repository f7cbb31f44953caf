"""How minibp writes numbers in what it prints: hyper-parameters as a person types them, counts in the singular.

``eta = 0.3`` and not ``eta = 0.29999999999999993`` (the float that ``3.0 * (1 - 0.9)`` is), ``1 epoch``
and not ``1 epochs``. Every printed hyper-parameter and count of the library and of the ``minibp``
command goes through these two functions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_typed", "count"]


def as_typed(x: object) -> str:
    """Return the number ``x`` as a person would type it: at most 10 significant digits, no float noise.

    Anything but a float (an int, a string, ``None``) is returned as ``str`` gives it.

    >>> as_typed(3.0 * (1 - 0.9)), as_typed(3.0), as_typed(1e-3), as_typed(0.9000000000000001), as_typed(7)
    ('0.3', '3.0', '0.001', '0.9', '7')
    """
    if not isinstance(x, (float, np.floating)):
        return str(x)
    value = float(str(x)) if isinstance(x, np.floating) else x  # float32(0.1) is 0.1, not 0.10000000149
    return repr(float(f"{value:.10g}"))  # shortest repr of the rounded value: 3.0, 0.3, 1e-05, inf


def count(n: int, word: str) -> str:
    """Return ``"1 epoch"``, ``"2 epochs"``: ``n`` and ``word``, plural unless ``n`` is 1.

    >>> count(1, "epoch"), count(0, "epoch"), count(30, "epoch")
    ('1 epoch', '0 epochs', '30 epochs')
    """
    return f"{n} {word}" + ("" if n == 1 else "s")
