"""The plain style's versions of the runtime helpers the fast style writes in place: the same
operations in the same order, hence the same bits, with no out= (a course's reader sees the
formula). Emitted under the fast helper's name (printing.numpy.PLAIN_HELPERS)."""
import numpy as np


@np.errstate(over="ignore")
def _sigmoid(x):
    """1/(1 + exp(-x)), accurate to the last bits for every x; exp(-x) = inf, for x below
    about -709 (-88 in float32), gives the exact limit 0 and is no error."""
    return 1 / (1 + np.exp(-x))
