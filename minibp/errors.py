"""The exceptions minibp raises.

Every error is a subclass of [`MinibpError`][minibp.errors.MinibpError], so
``except minibp.MinibpError`` catches anything the library raises on purpose.
Each one also derives from the built-in exception a caller would expect:
a bad shape or value is a ``ValueError``, a failed download is an
``OSError``. Messages name the thing at fault (the layer, the file, the
mirror) and the values involved.

```
MinibpError
├── ShapeError            (ValueError)  wrong number of dimensions or sizes
├── NonFiniteError        (ValueError)  NaN or infinity in data, gradients, parameters
│   └── DivergedError                   training produced a non-finite cost or gradient
├── LabelError            (ValueError)  labels not integers in [0, n_classes)
├── HyperparameterError   (ValueError)  eta, epochs, mini_batch_size, ... out of range
├── DataFormatError       (ValueError)  a corrupt, truncated or wrong data file
├── ModelFormatError      (ValueError)  a corrupt, unsafe or too new model file
│   └── ModelNestingError               a model file nesting modules too deep (also a NestingError)
├── NestingError          (ValueError)  modules nested more than MAX_DEPTH (64) containers deep
├── DownloadError         (OSError)     no mirror delivered a file
│   └── ChecksumError                   a mirror delivered the wrong bytes
└── minibp.data.DataNotFoundError (FileNotFoundError)  a data set is not on disk
```

Besides these, minibp raises only built-in exceptions with their usual
meaning: ``TypeError`` for an argument of the wrong kind (a complex or object
array, a non-`Module`), ``ValueError`` for other bad arguments,
``RuntimeError`` for ``backward`` called before ``forward``,
``FileNotFoundError`` for a missing file, ``PermissionError`` for a save
through a symbolic link another user planted in a shared directory such as
``/tmp``, and the ``OSError`` of a failed write. A save that fails for any
reason leaves the previous file as it was.
"""

from __future__ import annotations

__all__ = [
    "MinibpError",
    "ShapeError",
    "NonFiniteError",
    "DivergedError",
    "LabelError",
    "HyperparameterError",
    "DataFormatError",
    "ModelFormatError",
    "NestingError",
    "ModelNestingError",
    "DownloadError",
    "ChecksumError",
]


class MinibpError(Exception):
    """Base class of every exception minibp raises deliberately."""


class ShapeError(MinibpError, ValueError):
    """An array has the wrong number of dimensions or the wrong size.

    The message names the module or function and both shapes.
    """


class NonFiniteError(MinibpError, ValueError):
    """An input, a gradient or a parameter holds NaN or infinity."""


class DivergedError(NonFiniteError):
    """Training produced a non-finite cost or gradient.

    Raised before the failing update is applied, so the parameters are left as
    they were after the last good step. A smaller learning rate ``eta`` is the
    usual cure.

    Attributes:
        epoch: the epoch in which training diverged (``None`` if not known).
        mini_batch: the mini-batch of that epoch, counted from 0.
    """

    def __init__(self, message: str, *, epoch: int | None = None, mini_batch: int | None = None) -> None:
        super().__init__(message)
        self.epoch, self.mini_batch = epoch, mini_batch

    @classmethod
    def at(cls, epoch: int, mini_batch: int, what: str, eta: object) -> DivergedError:
        """The error `minibp.train` raises, on either path, when mini-batch ``mini_batch`` of ``epoch`` diverges."""
        return cls(
            f"training diverged in epoch {epoch}, mini-batch {mini_batch}: {what}. The parameters are as they "
            f"were after the previous step. Try a smaller learning rate than {eta}.",
            epoch=epoch,
            mini_batch=mini_batch,
        )


class LabelError(MinibpError, ValueError):
    """Class labels are not integers in ``[0, n_classes)``."""


class HyperparameterError(MinibpError, ValueError):
    """A setting such as ``eta``, ``epochs`` or ``mini_batch_size`` is out of range."""


class DataFormatError(MinibpError, ValueError):
    """A data file (for example an IDX file) is truncated, corrupt or of the wrong kind."""


class ModelFormatError(MinibpError, ValueError):
    """A saved model file is corrupt, of an unknown version, or unsafe to load."""


class NestingError(MinibpError, ValueError):
    """Modules nested more than ``MAX_DEPTH`` (64) containers deep.

    Raised when such a container is built, and by ``train``, ``gradcheck``,
    ``check_module``, ``save`` and ``load``; the message names the path to
    the module that is too deep.
    """


class ModelNestingError(NestingError, ModelFormatError):
    """A model file whose modules nest more than ``MAX_DEPTH`` deep: a `NestingError` and a `ModelFormatError`."""


class DownloadError(MinibpError, OSError):
    """No mirror could deliver a file; the message lists each mirror and why it failed."""


class ChecksumError(DownloadError):
    """A downloaded file's SHA-256 digest differs from the pinned one."""
