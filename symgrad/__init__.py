"""symgrad: symbolic right-to-left gradients of SymPy models, emitted as NumPy modules."""
from .errors import SymgradError
from .functions import sigmoid as Sigmoid, softplus as Softplus
from .model import Input, Model, Param, tex
from .nn import (binary_cross_entropy, cross_entropy, dense, exp, leaky_relu, log,
                 log_softmax, logsumexp, mean, mse, relu, sigmoid, softmax, softplus, sum,
                 tanh)
from .notebook import compile_model as compile

__version__ = "0.1.0"

__all__ = [
    "Input", "Model", "Param", "Sigmoid", "Softplus", "SymgradError", "binary_cross_entropy",
    "cross_entropy", "dense", "exp", "leaky_relu", "log", "log_softmax", "logsumexp", "mean",
    "mse", "relu", "sigmoid", "softmax", "softplus", "sum", "tanh", "tex",
    "compile",
]
