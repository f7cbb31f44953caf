"""Data: MNIST and Fashion-MNIST loaders, the bundled sample, IDX files, downloads, mini-batches.

```python
from minibp.data import expand, load_sample, load_mnist

data = load_sample()            # 4,000 / 500 / 500 real MNIST digits, bundled, offline
data = load_mnist(download=True)  # the book's 50,000 / 10,000 / 10,000 split
X, y = data.training            # X: (784, N) floats in [0, 1], y: (N,) int64 labels
X5, y5 = expand(X, y, max_bytes=None)  # each image and its 4 one-pixel shifts: (784, 5 N), 1.6 GB
```

MNIST takes 440 MB in float64 (220 MB in float32); every loader refuses, before reading a pixel,
data that would take more than its ``max_bytes`` (1 GiB by default).
"""

from ._common import DEFAULT_MAX_BYTES, DataNotFoundError, Splits, data_home
from .batches import check_mini_batch_size, minibatch_indices
from .book import from_book
from .digit import example_digits, image_to_column, images_to_columns
from .expand import expand
from .idx import is_pickle, read_idx, read_idx_header, write_idx
from .mnist import load_dataset, load_fashion_mnist, load_idx_directory, load_mnist
from .remote import download
from .sample import load_sample

__all__ = [
    "Splits",
    "DataNotFoundError",
    "load_sample",
    "load_mnist",
    "load_fashion_mnist",
    "load_idx_directory",
    "load_dataset",
    "data_home",
    "download",
    "read_idx",
    "read_idx_header",
    "write_idx",
    "is_pickle",
    "DEFAULT_MAX_BYTES",
    "check_mini_batch_size",
    "minibatch_indices",
    "image_to_column",
    "images_to_columns",
    "example_digits",
    "expand",
    "from_book",
]
