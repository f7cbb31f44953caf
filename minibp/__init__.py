"""minibp: the network of *Neural Networks and Deep Learning*, chapters 1–2, as composable modules.

```python
import minibp as bp

net = bp.mlp([784, 30, 10], rng=0)
optimizer = bp.SGD(net.parameters(), eta=3.0)
bp.train(net, training_data, optimizer=optimizer, epochs=30, mini_batch_size=10)
```
"""

from ._version import __version__
from .callbacks import Callback, EarlyStopping, HalveOnPlateau, LearningSpeed
from .containers import Parallel, Residual
from .conv import Conv2d, MaxPool2d
from .costs import (
    Cost,
    CrossEntropyCost,
    LogLikelihoodCost,
    QuadraticCost,
    SigmoidCrossEntropyCost,
    SoftmaxLogLikelihoodCost,
)
from .errors import (
    ChecksumError,
    DataFormatError,
    DivergedError,
    DownloadError,
    HyperparameterError,
    LabelError,
    MinibpError,
    ModelFormatError,
    ModelNestingError,
    NestingError,
    NonFiniteError,
    ShapeError,
)
from .history import History
from .io import Checkpoint, load, load_checkpoint, load_network2, register_module, save, save_network2
from .layers import Dense, Dropout, Identity, ReLU, Sigmoid, Softmax, Tanh
from .module import Module, Parameter
from .optim import SGD, Adam, Momentum, Nesterov, Optimizer
from .outputs import predict_proba
from .regularization import L1, L2, WeightDecay
from .sequential import Sequential, mlp
from .summary import summary
from .train import accuracy, evaluate, predict, train

__all__ = [
    "Parameter",
    "Module",
    "Dense",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "Identity",
    "Softmax",
    "Dropout",
    "Conv2d",
    "MaxPool2d",
    "Cost",
    "QuadraticCost",
    "CrossEntropyCost",
    "LogLikelihoodCost",
    "SigmoidCrossEntropyCost",
    "SoftmaxLogLikelihoodCost",
    "Sequential",
    "mlp",
    "Parallel",
    "Residual",
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "Adam",
    "History",
    "Callback",
    "EarlyStopping",
    "HalveOnPlateau",
    "LearningSpeed",
    "L2",
    "L1",
    "WeightDecay",
    "train",
    "evaluate",
    "accuracy",
    "predict",
    "predict_proba",
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
    "save",
    "load",
    "load_checkpoint",
    "load_network2",
    "save_network2",
    "Checkpoint",
    "register_module",
    "summary",
    "__version__",
]
