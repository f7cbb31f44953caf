"""Backpropagation through a convolution: max-pooling and a convolutional layer written from the equations.

python docs/examples/conv_backprop.py

Writes a small MaxPool and Conv on minibp's protocol, holds them against minibp.MaxPool2d and
minibp.Conv2d, checks the gradients, shows that the input's delta is a full convolution with the
flipped kernel, trains the book's chapter-6 network for one epoch on the bundled digits and draws
its first layer's filters into ``conv-filters.png`` in the current folder. The sections between
the markers are the tutorial's Python blocks, in page order.
"""

from __future__ import annotations

# --8<-- [start:pool]
import numpy as np

import minibp as bp
from minibp.module import saved


class MaxPool(bp.Module):
    """Max-pooling over s x s windows of images (C, H, W), one image per column: (C*H*W, m) -> (C*H/s*W/s, m)."""

    def __init__(self, in_shape, s=2):
        self.in_shape, self.s = in_shape, s
        self.first = None  # where the maximum of each window is, kept for backward

    def windows(self, x):
        """View (C*H*W, m) as (C, H/s, W/s, m, s*s): the s*s numbers of each window last, row by row."""
        (c, h, w), s, m = self.in_shape, self.s, x.shape[1]
        blocks = x.reshape(c, h // s, s, w // s, s, m)  # axes: c, i, p, j, q, example
        return blocks.transpose(0, 1, 3, 5, 2, 4).reshape(c, h // s, w // s, m, s * s)

    def forward(self, x):
        windows = self.windows(x)
        self.first = windows.argmax(axis=-1)  # argmax returns the first maximum when several are equal
        return windows.max(axis=-1).reshape(-1, x.shape[1])  # a_{c,i,j} = max over the window

    def backward(self, grad_output):
        first = saved(self, self.first)  # the one "backward before forward" error
        (c, h, w), s, m = self.in_shape, self.s, grad_output.shape[1]
        delta = np.zeros((c, h // s, w // s, m, s * s))
        g = grad_output.reshape(c, h // s, w // s, m, 1)
        np.put_along_axis(delta, first[..., None], g, axis=-1)  # the window's dC/da to its first maximum
        return delta.reshape(c, h // s, w // s, m, s, s).transpose(0, 1, 4, 2, 5, 3).reshape(-1, m)


# --8<-- [end:pool]


# --8<-- [start:conv]
class Conv(bp.Module):
    """Valid cross-correlation, stride 1: F filters of shape (C, k, k) slid over images (C, H, W)."""

    def __init__(self, in_shape, filters, k, rng):
        c, h, w = in_shape
        self.in_shape, self.k = in_shape, k
        self.out_shape = (filters, h - k + 1, w - k + 1)
        self.w = bp.Parameter(rng.normal(0.0, np.sqrt(2 / (c * k * k)), size=(filters, c, k, k)))
        self.b = bp.Parameter(np.zeros((filters, 1)))
        self.a = None  # the input images, kept for BP4

    def forward(self, x):
        (c, h, w), k, m = self.in_shape, self.k, x.shape[1]
        _, h_out, w_out = self.out_shape
        a = x.reshape(c, h, w, m)
        self.a = a
        z = np.zeros((*self.out_shape, m)) + self.b.data.reshape(-1, 1, 1, 1)  # b_f at every position
        for p in range(k):
            for q in range(k):  # add w_{f,c,p,q} a_{c,i+p,j+q} for every f, c and position (i, j) at once
                z += np.tensordot(self.w.data[:, :, p, q], a[:, p : p + h_out, q : q + w_out], axes=(1, 0))
        return z.reshape(-1, m)

    def backward(self, grad_output):
        a, k, m = saved(self, self.a), self.k, grad_output.shape[1]
        _, h_out, w_out = self.out_shape
        delta = grad_output.reshape(*self.out_shape, m)  # delta_{f,i,j}(x)
        self.b.grad += delta.sum(axis=(1, 2, 3)).reshape(-1, 1)  # BP3: sum of delta_f over positions and examples
        grad_a = np.zeros_like(a)
        for p in range(k):
            for q in range(k):
                patch = a[:, p : p + h_out, q : q + w_out]  # a_{c,i+p,j+q}: what w_{f,c,p,q} saw at (i, j)
                self.w.grad[:, :, p, q] += np.tensordot(delta, patch, axes=([1, 2, 3], [1, 2, 3]))  # BP4
                grad_a[:, p : p + h_out, q : q + w_out] += np.tensordot(self.w.data[:, :, p, q], delta, axes=(0, 0))
        return grad_a.reshape(-1, m)  # dC/da_{c,u,v} = sum_f sum_{p,q} w_{f,c,p,q} delta_{f,u-p,v-q}


# --8<-- [end:conv]


def main() -> float:
    # --8<-- [start:compare]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(2 * 8 * 8, 5)).astype(float)  # 5 images of 2 x 8 x 8, small integers: many ties

    ours, theirs = Conv((2, 8, 8), 3, 3, rng), bp.Conv2d((2, 8, 8), 3, 3)
    theirs.w.data = ours.w.data  # the same filters (assigning copies into minibp's own array)
    theirs.b.data = rng.standard_normal((3, 1))
    ours.b.data[:] = theirs.b.data
    z = ours(x)
    print(f"Conv2d,    z:     largest difference {np.abs(z - theirs(x)).max():.1e}")
    delta = rng.standard_normal(z.shape)  # some dC/dz
    grads = ours.backward(delta), theirs.backward(delta)
    print(f"Conv2d,    dC/da: largest difference {np.abs(grads[0] - grads[1]).max():.1e}")
    print(f"Conv2d,    dC/dw: largest difference {np.abs(ours.w.grad - theirs.w.grad).max():.1e}")
    print(f"Conv2d,    dC/db: largest difference {np.abs(ours.b.grad - theirs.b.grad).max():.1e}")

    pool, pool2d = MaxPool((2, 8, 8)), bp.MaxPool2d((2, 8, 8))
    print("MaxPool2d, a:     equal:", np.array_equal(pool(x), pool2d(x)))
    g = rng.standard_normal((2 * 4 * 4, 5))
    print("MaxPool2d, dC/dz: equal:", np.array_equal(pool.backward(g), pool2d.backward(g)))
    # --8<-- [end:compare]

    # --8<-- [start:full]
    from scipy.signal import correlate2d

    d = delta.reshape(3, 6, 6, 5)  # delta_{f,i,j}(x) of the three 6 x 6 feature maps
    w = ours.w.data
    image = 0  # the first example
    full = [
        sum(correlate2d(d[f, :, :, image], np.flip(w[f, c]), mode="full") for f in range(3)) for c in range(2)
    ]  # one 8 x 8 map per input channel
    difference = np.abs(np.stack(full) - grads[0].reshape(2, 8, 8, 5)[:, :, :, image]).max()
    print(f"full correlation with the flipped kernel: largest difference from backward {difference:.1e}")
    # --8<-- [end:full]

    # --8<-- [start:gradcheck]
    from minibp.gradcheck import gradcheck

    small = bp.Sequential(  # the chapter-6 network in miniature: 1 x 10 x 10 images, 3 and 4 filters
        bp.Conv2d((1, 10, 10), 3, 3, rng=0),
        bp.ReLU(),
        bp.MaxPool2d((3, 8, 8)),
        bp.Conv2d((3, 4, 4), 4, 3, rng=1),
        bp.ReLU(),
        bp.Dense(4 * 2 * 2, 5, rng=2),
    )
    images = rng.standard_normal((100, 3))  # 3 examples
    print(gradcheck(small, images))
    print(gradcheck(bp.Sequential(Conv((1, 10, 10), 3, 3, rng), MaxPool((3, 8, 8))), images))
    # --8<-- [end:gradcheck]

    # --8<-- [start:train]
    from minibp.data import load_sample

    data = load_sample()
    rng = np.random.default_rng(0)
    net = bp.Sequential(
        bp.Conv2d((1, 28, 28), 20, 5, rng=rng),  # 20 feature maps of 24 x 24
        bp.ReLU(),
        bp.MaxPool2d((20, 24, 24)),  # -> 20 x 12 x 12
        bp.Conv2d((20, 12, 12), 40, 5, rng=rng),  # 40 feature maps of 8 x 8
        bp.ReLU(),
        bp.MaxPool2d((40, 8, 8)),  # -> 40 x 4 x 4 = 640 numbers per image
        bp.Dense(640, 100, init="scaled", rng=rng),
        bp.ReLU(),
        bp.Dense(100, 10, init="scaled", rng=rng),
    )
    bp.train(
        net,
        data.training,  # the sample's 4,000 training digits
        optimizer=bp.SGD(net.parameters(), eta=0.1),
        cost=bp.SoftmaxLogLikelihoodCost(),
        epochs=1,
        mini_batch_size=10,
        evaluation_data=data.validation,
        rng=0,
    )
    print(f"test: {bp.accuracy(net, *data.test):.1%} of the 500 test digits")
    # --8<-- [end:train]

    # --8<-- [start:filters]
    from minibp.plot import plot_filters

    plot_filters(net[0], path="conv-filters.png")  # the first layer's 20 filters, after one epoch
    # --8<-- [end:filters]
    return bp.accuracy(net, *data.test)


if __name__ == "__main__":
    main()
