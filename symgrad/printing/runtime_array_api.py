"""The helpers of a module for `--target array-api`, as real functions (emitted with their
source when a module uses them, linted and tested here). Each takes the array namespace from
its arguments; none imports an array library: array-api-compat, where installed, gives the
namespace of libraries without `__array_namespace__` (PyTorch, Dask) and of NumPy."""
import sys

try:                    # the namespaces of PyTorch's and Dask's arrays (and NumPy's, wrapped)
    from array_api_compat import array_namespace, device as compat_device, is_dask_array
except ImportError:     # without it: __array_namespace__ (NumPy >= 2, JAX, array-api-strict)
    array_namespace = compat_device = is_dask_array = None      # type: ignore[assignment]


def _namespace(*values):
    """The array namespace of the arrays among values (Python numbers and None skipped):
    array-api-compat's where installed, else their `__array_namespace__()`; one array of
    each type is enough (the namespace follows the type). Numbers alone (Python's, or
    NumPy's float64, a float, as a NumPy sum gives) are NumPy's, imported then, as the NumPy
    target computes them."""
    arrays = list({type(v): v for v in values
                   if v is not None and not isinstance(v, (int, float))}.values())
    if not arrays:
        import numpy
        arrays = [numpy.asarray(0.0)]
    if array_namespace is None:
        spaces = {id(x): x for x in (_own_namespace(a) for a in arrays)}
        if len(spaces) == 1:
            return next(iter(spaces.values()))
    else:
        try:
            return array_namespace(*arrays)
        except TypeError:       # its message lists the namespaces' modules, on many lines
            pass
    raise TypeError("the arguments come from several array libraries (%s): pass arrays of "
                    "one library" % ", ".join(sorted({_library(a) for a in arrays})))


def _library(a):
    """The name of the library a's type comes from (torch, numpy, dask, jaxlib)."""
    return type(a).__module__.partition(".")[0]


def _own_namespace(a):
    """a's __array_namespace__(), or a TypeError naming the fix (array-api-compat)."""
    if not hasattr(a, "__array_namespace__"):
        raise TypeError(f"{type(a).__module__}.{type(a).__name__} has no __array_namespace__: "
                        "pip install array-api-compat (PyTorch and Dask need it)")
    return a.__array_namespace__()


def _one_library(values, names):
    """Raise TypeError naming the first argument of another library than the first array's
    (values: _arrays' own, Python floats among them)."""
    named = [(n, v) for n, v in zip(names, values) if type(v) is not float]
    try:
        _namespace(*(v for _, v in named))
    except TypeError:
        (first, a), xp = named[0], _namespace(named[0][1])
        name, b = next((n, v) for n, v in named if _namespace(v) is not xp)
        raise TypeError(f"{name} is a {_library(b)} array, {first} a {_library(a)} one: pass "
                        "arrays of one library") from None


def _not_an_array(value, name):
    """The TypeError for an argument that is not an array (None, a list), naming the fix."""
    what = "None" if value is None else f"a {type(value).__name__}"
    return TypeError(f"{name} must be an array, not {what}: pass an array of the other "
                     f"arguments' library (xp.asarray({name}))")


def _device(x):
    """The device x lives on (array-api-compat's device(), which knows Dask's, else x.device);
    None, the default device, for a Python number (a model of scalars called with floats)."""
    if type(x) is float:
        return None
    return compat_device(x) if compat_device is not None else x.device


def _arrays(values, names, shapes):
    """The arguments as 2-d real floating arrays (matrices in shapes) or scalars (()):
    integer and boolean arrays (a dropout mask) and Python numbers take the dtype of the
    floating arrays among them (float64 where there is none), a number as a 0-d array of the
    arrays' library and device (PyTorch's exp takes no float) or, without arrays, a Python
    float; complex numbers and arrays of the wrong rank are refused. A Dask array of unknown
    chunk sizes is refused: its shape must be known to check it."""
    out, cast = [], []          # cast: the positions of integers, booleans and numbers
    for value, name in zip(values, names):
        want = shapes[name]
        if isinstance(value, (bool, int, float)):
            if want:
                raise ValueError(f"{name} must be a matrix of shape ({', '.join(want)}), "
                                 "not a number: pass an array")
            cast.append(len(out))
            out.append(float(value))
            continue
        if not hasattr(value, "shape"):
            raise _not_an_array(value, name)
        if len(value.shape) != len(want):
            expected = f"a matrix of shape ({', '.join(want)})" if want else "a scalar"
            raise ValueError(f"{name} must be {expected}, not an array of shape {value.shape}")
        if any(n != n for n in value.shape if n is not None):        # Dask's nan
            raise ValueError(f"{name} has chunks of unknown size: call "
                             f"{name}.compute_chunk_sizes() first")
        kind = value.dtype           # the common case first: NumPy's dtypes and PyTorch's
        if getattr(kind, "kind", None) == "f" or getattr(kind, "is_floating_point", False):
            out.append(value)
            continue
        xp = _namespace(value)
        if xp.isdtype(value.dtype, ("integral", "bool")):
            cast.append(len(out))
        elif not xp.isdtype(value.dtype, "real floating"):
            raise TypeError(f"{name} must hold real numbers, not {value.dtype}"
                            + " (complex numbers are not supported)"
                            * xp.isdtype(value.dtype, "complex floating"))
        out.append(value)
    arrays = [a for a in out if type(a) is not float]
    if len({type(a) for a in arrays}) > 1:
        _one_library(out, names)
    if cast and arrays:
        xp, floats = _namespace(*arrays), [a for i, a in enumerate(out) if i not in cast]
        dtype, device = xp.result_type(*floats) if floats else xp.float64, _device(arrays[0])
        for i in cast:
            out[i] = xp.asarray(out[i], dtype=dtype, device=device) if type(out[i]) is float \
                else xp.astype(out[i], dtype)
    return out


def _labels(value, name, want):
    """Integer class labels checked and kept integer: a vector (m,), as cs231n's y, is shaped
    as want, the labels' shape in SHAPES, (1, m) or (m, 1)."""
    if not hasattr(value, "shape"):
        raise _not_an_array(value, name)
    xp = _namespace(value)
    if not xp.isdtype(value.dtype, "integral"):
        raise TypeError(f"{name} must hold integer class labels, not {value.dtype}: pass "
                        f"integers, e.g. xp.astype({name}, xp.int64)")
    if len(value.shape) == 1:
        value = xp.reshape(value, (1, -1) if want[0] == "1" else (-1, 1))
    if len(value.shape) != 2:
        raise ValueError(f"{name} must be a vector of labels or a matrix of shape "
                         f"({', '.join(want)}), not an array of shape {value.shape}")
    return value


def _check_labels(labels, name, classes):
    """Raise ValueError unless every entry of labels is a class index, 0 to classes - 1; a
    traced array (under jax.jit or torch.compile) has no values to check and passes, and a
    Dask array, lazy, is not checked (bool() would compute it)."""
    if is_dask_array is not None and is_dask_array(labels):
        return
    xp = _namespace(labels)
    compiler = getattr(sys.modules.get("torch"), "compiler", None)   # never imported here
    if getattr(compiler, "is_compiling", bool)():       # (torch < 2.3 has no is_compiling)
        return
    try:
        bad = bool(xp.any((labels < 0) | (labels >= classes)))
    except TypeError:           # a tracer: bool() needs a concrete value
        return
    if bad:
        raise ValueError(f"{name} holds a label that is not a class index: the scores have "
                         f"{classes} classes, 0 to {classes - 1}")


def _sigmoid(x):
    """1/(1 + exp(-x)) from t = exp(-|x|), which never overflows (no warning, whatever the
    library): 1/(1 + t) for x >= 0, t/(1 + t) below, each to full relative accuracy."""
    xp = _namespace(x)
    t = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + t), t / (1 + t))


def _inv(x):
    """xp.linalg.inv(x) in x's dtype (Dask's inverse of float32 is float64)."""
    xp = _namespace(x)
    return xp.astype(xp.linalg.inv(x), x.dtype, copy=False)


def _number(value, like):
    """value as a 0-d array of like's dtype and device: a Python number beside an array makes
    array-api-compat's PyTorch functions (maximum, where, logaddexp) call torch.result_type,
    which torch.compile cannot trace (fullgraph fails); a Python float where like is one."""
    if type(like) is float:
        return float(value)
    return _namespace(like).asarray(value, dtype=like.dtype, device=_device(like))


def _softplus(x):
    """log(1 + exp(x)) = logaddexp(0, x), stable."""
    return _namespace(x).logaddexp(_number(0.0, x), x)


def _logsumexp_parts(x, axis):
    """(c, u): x's maximum along axis and log(sum(exp(x - c))), logsumexp(x) = c + u (the
    NumPy runtime's _logsumexp and _minus_logsumexp call it: the target's own)."""
    xp = _namespace(x)
    c = xp.max(x, axis=axis, keepdims=True)
    return c, xp.log(xp.sum(xp.exp(x - c), axis=axis, keepdims=True))


def _logcosh(x):
    """log(cosh(x)) to full relative accuracy, without overflow: log1p(2 sinh(x/2)**2) for
    |x| < 1 (cosh(x) - 1 without cancellation), |x| + log1p(exp(-2|x|)) - log 2 beyond."""
    xp = _namespace(x)
    y = xp.abs(x)
    near = xp.sinh(xp.minimum(y, _number(1.0, y)) / 2)
    return xp.where(y < 1, xp.log1p(2 * near * near),
                    y + xp.log1p(xp.exp(-2 * y)) - 0.6931471805599453)


def _xlogx(x):
    """x*log(x), and 0 where x = 0, its limit (as torch.xlogy(x, x)); NaN for x < 0."""
    xp = _namespace(x)
    return x * xp.log(xp.where(x == 0, _number(1.0, x), x))
