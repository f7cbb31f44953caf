"""How-to: from a photo of a handwritten digit to the network's guess.

Runs from any folder (the example photos come with minibp); needs Pillow:

    pip install minibp[image]
    python docs/examples/howto_own_digit.py
"""

from __future__ import annotations

# --8<-- [start:imports]
import numpy as np

import minibp as bp
from minibp.data import example_digits, images_to_columns, load_sample

# --8<-- [end:imports]


def main() -> list[int]:
    # --8<-- [start:train]
    data = load_sample()  # 4,000 real MNIST digits to learn from, bundled with minibp
    net = bp.mlp([784, 30, 10], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(net, data.training, optimizer=optimizer, epochs=10, mini_batch_size=10, rng=0, verbose=False)
    print(f"validation accuracy: {bp.accuracy(net, *data.validation):.1%}")
    # --8<-- [end:train]

    # --8<-- [start:convert]
    photos = example_digits()  # the paths of the five photos that come with minibp
    x = images_to_columns(photos)  # image_to_column of each photo, side by side: one column per photo
    print("photos:", [photo.name for photo in photos])
    print("input:", x.shape, x.dtype, f"pixels in [{x.min():g}, {x.max():g}]")
    # --8<-- [end:convert]

    # --8<-- [start:predict]
    a = net(x)  # (10, m): one output activation per digit and photo
    guesses = bp.predict(net, x)
    for photo, guess, scores in zip(photos, guesses, a.T):
        top = np.argsort(scores)[::-1][:3]
        runners = ", ".join(f"{k}: {scores[k]:.2f}" for k in top)
        print(f"{photo.name:10} -> {guess}   (outputs {runners})")
    # --8<-- [end:predict]
    return [int(g) for g in guesses]


if __name__ == "__main__":
    main()
