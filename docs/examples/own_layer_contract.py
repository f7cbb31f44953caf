"""Run minibp's module contract kit on the two layers of the own-layer tutorial.

python docs/examples/own_layer_contract.py

The section between the markers is the tutorial's block after the one that defines `Scale`; on the
page, `Tanh` and `Scale` come from the blocks above it, here from own_layer.py.
"""

from __future__ import annotations

from own_layer import Scale, Tanh


def main() -> bool:
    # --8<-- [start:contract]
    from minibp.testing import check_module

    for layer in (Tanh(), Scale(4)):
        report = check_module(layer, (4, 5))  # a standard normal batch of 5 columns with 4 features
        print(report)
    # --8<-- [end:contract]
    return report.ok


if __name__ == "__main__":
    main()
