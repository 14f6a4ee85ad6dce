"""symgrad: symbolic right-to-left gradients of SymPy models, emitted as NumPy modules."""
__version__ = "0.1.0"          # first: codegen, imported below, stamps it in modules

from .errors import SymgradError
from .functions import sigmoid as Sigmoid, softplus as Softplus
from .losses import (bce_with_logits, binary_cross_entropy, cross_entropy, huber, kl_div,
                     log_cosh, mse, multiclass_hinge, nll, pick, smooth_l1)
from .model import Input, Labels, Model, Param, tex
from .nn import (batch_norm, dense, dropout, elu, exp, gelu, hardtanh, l2, layer_norm,
                 leaky_relu, log, log_softmax, logsumexp, mean, mish, prelu, relu, selu,
                 sigmoid, softmax, softplus, softsign, sum, swish, tanh)
from .ops import (abs, concat, cos, greater, greater_equal, less, less_equal, matrix_power,
                  max, maximum, min, minimum, norm, sin, sqrt, where)
from .notebook import compile_model as compile
from .notebook import derive_model as derive
from .notebook import latex, picture


__all__ = [
    "Input", "Labels", "Model", "Param", "Sigmoid", "Softplus", "SymgradError",
    "batch_norm", "bce_with_logits", "binary_cross_entropy", "cross_entropy", "dense",
    "dropout", "elu", "exp", "gelu", "hardtanh", "huber", "kl_div", "l2", "layer_norm",
    "leaky_relu", "log", "log_cosh", "log_softmax", "logsumexp", "mean", "mish", "mse",
    "multiclass_hinge", "nll", "pick", "prelu", "relu", "selu", "sigmoid", "smooth_l1",
    "softmax", "softplus", "softsign", "sum", "swish", "tanh", "tex",
    # symgrad/ops.py
    "abs", "concat", "cos", "greater", "greater_equal", "less", "less_equal", "matrix_power",
    "max", "maximum", "min", "minimum", "norm", "sin", "sqrt", "where",
    "compile", "derive", "latex", "picture",
]
