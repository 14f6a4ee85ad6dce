"""The helpers a generated module may need, as real functions: each is emitted with its source
(inspect.getsource) when the module uses it, and linted and tested here."""
import numpy as np


def _arrays(values, names, shapes):
    """The arguments as 2-d float arrays (matrices in shapes) or scalars (()): integers and
    booleans (a mask) and Python numbers take the float arguments' dtype, else float64
    (np.exp(0.5) is float64); complex numbers and arrays of the wrong rank are refused. (The
    fast style calls it only where an argument is not a float matrix, checked inline.)"""
    out = []
    for value, name in zip(values, names):
        want = shapes[name]
        array = np.asarray(value)
        kind = array.dtype.kind
        if kind not in "fbiu":
            raise TypeError(f"{name} must hold real numbers, not {array.dtype}"
                            + " (complex numbers are not supported)" * (kind == "c"))
        if array.ndim != len(want):
            expected = f"a matrix of shape ({', '.join(want)})" if want else "a scalar"
            raise ValueError(f"{name} must be {expected}, not an array of shape {array.shape}")
        out.append(array if want else array[()] if kind == "f" and type(value) is not float
                   else float(array))
    cast = [i for i, a in enumerate(out) if isinstance(a, np.ndarray) and a.dtype.kind != "f"]
    floats = [a for i, a in enumerate(out) if type(a) is not float and i not in cast]
    dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
    return [(dtype.type if floats or cast else float)(a) if type(a) is float
            else a.astype(dtype) if i in cast else a for i, a in enumerate(out)]


def _labels(value, name, want):
    """Integer class labels checked and kept integer: a vector (m,), as cs231n's y, is shaped
    as want, the labels' shape in SHAPES, (1, m) or (m, 1)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, not {array.dtype}: pass e.g. "
                        f"{name}.astype(int)")
    if array.ndim == 1:
        array = array.reshape((1, -1) if want[0] == "1" else (-1, 1))
    if array.ndim != 2:
        raise ValueError(f"{name} must be a vector of labels or a matrix of shape "
                         f"({', '.join(want)}), not an array of shape {array.shape}")
    return array


def _check_labels(labels, name, classes):
    """Raise ValueError unless every entry of labels is a class index, 0 to classes - 1."""
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)].flat[0]
        raise ValueError(f"{name} holds the label {bad}, which is not a class index: the "
                         f"scores have {classes} classes, 0 to {classes - 1}")


def _shape_error(shapes, names, values):
    """Raise ValueError naming the first argument of the wrong rank (by _arrays) or dimension
    that disagrees, each read from the first of the arguments (None: not given) that has it."""
    axes, bound = ("rows", "columns"), {}
    for name, value in zip(names, values):
        if value is not None and len(value.shape) != len(shapes[name]):
            _arrays((value,), (name,), shapes)        # raises its error for the wrong rank
        for axis, (dim, got) in enumerate(zip(shapes[name], getattr(value, "shape", ()))):
            if dim.isidentifier() and dim not in bound:
                bound[dim] = got, f"{name} has {got} {axes[axis]}"
            elif dim.isidentifier() or dim.isdigit():
                want, where = bound.get(dim) or (int(dim), f"it must be {dim}")
                if got != want:
                    raise ValueError(f"{dim}: {name} has {got} {axes[axis]} but {where}")
    raise ValueError(f"the shapes of {', '.join(names)} disagree with {shapes}")


@np.errstate(over="ignore")
def _sigmoid(x, out=None):
    """1/(1 + exp(-x)) in one new array (or out), accurate to the last bits for every x;
    exp(-x) = inf, for x below about -709 (-88 in float32), gives the exact limit 0."""
    s = np.negative(x, out)
    if type(s) is not np.ndarray:         # a scalar
        return 1 / (1 + np.exp(s))
    np.exp(s, s)
    s += 1.0
    return np.divide(1.0, s, s)


def _logcosh(x):
    """log(cosh(x)) to full relative accuracy, without overflow: log1p(2 sinh(x/2)**2) for
    |x| < 1 (cosh(x) - 1 without cancellation), |x| + log1p(exp(-2|x|)) - log 2 beyond."""
    y = np.abs(x)
    near = np.sinh(np.minimum(y, 1) / 2)
    return np.where(y < 1, np.log1p(2 * near * near),
                    y + np.log1p(np.exp(-2 * y)) - 0.6931471805599453)


def _xlogx(x):
    """x*log(x), and 0 where x = 0, its limit (as torch.xlogy(x, x)); NaN for x < 0."""
    return x * np.log(np.where(x == 0, 1, x))


def _matmul(a, b, out=None):
    """a @ b (into out, if given) by np.dot, by np.matmul (which zeroes no matrix first) from
    2**14 entries but for a column times a row; a new wide one column-major if faster (_Layout)."""
    rows, cols = a.shape[0], b.shape[1]
    if rows * cols < 16384:
        return np.dot(a, b, out)
    product = np.dot if a.shape[1] == 1 else np.matmul
    if out is not None or rows >= cols or not _Layout.columns(product, a, b):
        return product(a, b, out)
    out = np.empty((rows, cols), np.result_type(a, b), order="F")
    product(b.T, a.T, out.T)
    return out


class _Layout:
    """Whether a wide product is faster stored column-major (b.T @ a.T into the result's
    transpose) on this machine and BLAS: timed on the first of each pair of dtypes and kind (a
    product or a column times a row), 5 times each way, alternating; the fastest of each
    compared. (Keyed by the dtypes themselves: np.result_type costs M2 2%.)"""
    faster: dict = {}

    @classmethod
    def columns(cls, product, a, b):
        key = a.dtype, b.dtype, product is np.dot
        if key not in cls.faster:
            import time
            out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b), order="F")
            ways = (lambda: product(a, b), lambda: product(b.T, a.T, out.T))
            times: list = [[], []]
            for _ in range(5):
                for way, run in zip(times, ways):
                    start = time.perf_counter()
                    run()
                    way.append(time.perf_counter() - start)
            cls.faster[key] = min(times[1]) < min(times[0])
        return cls.faster[key]


def _logsumexp(x, axis):
    """log(sum(exp(x))) along axis (-2: per column, -1: per row, (-2, -1): of every entry),
    keeping dims, the maximum along it subtracted first."""
    c, u = _logsumexp_parts(x, axis)
    return c + u


def _minus_logsumexp(a, x, axis):
    """a - logsumexp(x) along axis as (a - c) - u (see _logsumexp_parts): exact where a is
    near the maximum c (a confident logit), where a - (c + u) cancels."""
    c, u = _logsumexp_parts(x, axis)
    return (a - c) - u


def _logsumexp_parts(x, axis):
    """(c, u): x's maximum along axis and log(sum(exp(x - c))), logsumexp(x) = c + u."""
    c = x.max(axis=axis, keepdims=True)
    return c, np.log(np.exp(x - c).sum(axis=axis, keepdims=True))


@np.errstate(all="ignore")
def _erf(x, complement=False):
    """erf(x), or erfc(x) with complement, elementwise, within 1e-15 relative of math.erf:
    W. J. Cody's rational approximations (netlib specfun CALERF), on |x| <= 0.46875, up to
    4 and beyond; exp(-x**2) is exp(-t**2)*exp(-(|x| - t)*(|x| + t)), t = |x| rounded down
    to a sixteenth, so that rounding x**2 loses no digits of erfc."""
    y = np.abs(x)
    z = y * y
    num, den = 1.85777706184603153e-1 * z, z
    for a, b in ((3.16112374387056560e00, 2.36012909523441209e01),
                 (1.13864154151050156e02, 2.44024637934444173e02),
                 (3.77485237685302021e02, 1.28261652607737228e03)):
        num, den = (num + a) * z, (den + b) * z
    small = x * (num + 3.20937758913846947e03) / (den + 2.84423683343917062e03)
    num, den = 2.15311535474403846e-8 * y, y
    for c, d in ((5.64188496988670089e-1, 1.57449261107098347e01),
                 (8.88314979438837594e00, 1.17693950891312499e02),
                 (6.61191906371416295e01, 5.37181101862009858e02),
                 (2.98635138197400131e02, 1.62138957456669019e03),
                 (8.81952221241769090e02, 3.29079923573345963e03),
                 (1.71204761263407058e03, 4.36261909014324716e03),
                 (2.05107837782607147e03, 3.43936767414372164e03)):
        num, den = (num + c) * y, (den + d) * y
    middle = (num + 1.23033935479799725e03) / (den + 1.23033935480374942e03)
    r = 1 / z
    num, den = 1.63153871373020978e-2 * r, r
    for p, q in ((3.05326634961232344e-1, 2.56852019228982242e00),
                 (3.60344899949804439e-1, 1.87295284992346047e00),
                 (1.25781726111229246e-1, 5.27905102951428412e-1),
                 (1.60837851487422766e-2, 6.05183413124413191e-2)):
        num, den = (num + p) * r, (den + q) * r
    large = (0.5641895835477562869 - r * (num + 6.58749161529837803e-4)
             / (den + 2.33520497626869185e-3)) / y
    t = np.trunc(np.minimum(y, 30) * 16) / 16              # erfc(30) underflows to 0
    tail = np.exp(-t * t) * np.exp(-(y - t) * (y + t)) * np.where(y <= 4, middle, large)
    if complement:
        return np.where(y <= 0.46875, 1 - small, np.where(x < 0, 2 - tail, tail))
    return np.where(y <= 0.46875, small, np.copysign((0.5 - tail) + 0.5, x))


def _put_at_arg(g, x, axis, find):
    """g at the first maximum (find=np.argmax) or minimum (np.argmin) of each slice of x along
    axis (-2: each column, -1: each row, None: all of x), zeros elsewhere: the adjoint of a
    max or min. g has the reduced shape, or a leading axis of seeds before it."""
    dtype = np.result_type(g, x)            # before asarray: a Python float adds no precision
    g = np.asarray(g)
    batch = g.shape[:-2] if g.ndim > 2 else ()
    out = np.zeros(batch + x.shape, dtype)
    if axis is None:
        out.reshape(batch + (-1,))[..., find(x)] = g.reshape(batch)
        return out
    index = np.expand_dims(find(x, axis=axis), axis)
    np.put_along_axis(out, np.broadcast_to(index, batch + index.shape), g, axis=axis)
    return out


def _take_at_arg(t, x, axis, find):
    """The entries of t (x's shape, or a leading axis of seeds before it) at the first maximum
    (find=np.argmax) or minimum of each slice of x along axis (-2, -1, None: all of x): the
    tangent of a max or min."""
    t = np.asarray(t)
    batch = t.shape[:-2] if t.ndim > 2 else ()
    t = np.broadcast_to(t, batch + x.shape)
    if axis is None:
        taken = t.reshape(batch + (-1,))[..., find(x)]
        return taken.reshape(batch + (1, 1)) if batch else taken
    index = np.expand_dims(find(x, axis=axis), axis)
    return np.take_along_axis(t, np.broadcast_to(index, batch + index.shape), axis=axis)


def _diagonal_matrix(d):
    """The square matrix with the column d (n, 1) on its diagonal and zeros elsewhere (d may
    hold a leading axis of seeds): the adjoint of a diagonal."""
    n = d.shape[-2]
    out = np.zeros(d.shape[:-2] + (n, n), d.dtype)
    np.einsum("...ii->...i", out)[...] = d[..., 0]
    return out


def _init_params(shapes, params, dims, scheme, seed, fan_in, ones=()):
    """Initial values of params (init_params): each weight (a name in fan_in, which gives the
    axis of its shape that counts its inputs) random by scheme, N(0, 2/fan-in) for "he",
    N(0, 1/fan-in) for "xavier", 0.01 N(0, 1) for "small", zeros for "zeros"; a parameter in
    ones 1 (a scale), every other 0 (a bias). shapes: SHAPES, whose sizes are dimensions,
    numbers or sums and products of them ('n + 1', Python over the dimensions' names, which
    are identifiers: evaluated with no builtins); dims: dimension -> size."""
    variances = {"he": 2.0, "xavier": 1.0, "small": None, "zeros": 0.0}
    if scheme not in variances:
        raise ValueError(f"scheme must be one of {', '.join(map(repr, variances))}, "
                         f"not {scheme!r}")
    sizes = {d: compile(d, "<SHAPES>", "eval") for name in params for d in shapes[name]}
    needed = {x for code in sizes.values() for x in code.co_names}
    missing = sorted(needed - set(dims))
    if missing:
        raise ValueError(f"init_params needs the size of {', '.join(missing)} in dims")
    bad = [d for d in sorted(needed) if isinstance(dims[d], bool)
           or not isinstance(dims[d], (int, np.integer)) or dims[d] < 1]
    if bad:
        raise ValueError(f"init_params: {bad[0]}={dims[bad[0]]!r} in dims: give each "
                         "dimension a positive integer, e.g. dims={'%s': 3}" % bad[0])
    at = {x: int(dims[x]) for x in needed}
    rng = np.random.default_rng(seed)
    values = []
    for name in params:
        shape = tuple(int(eval(sizes[d], {"__builtins__": {}}, at)) for d in shapes[name])
        if any(s < 1 for s in shape):
            raise ValueError(f"init_params: {name} would be of shape {shape} "
                             f"({', '.join(shapes[name])}): give dims that make each size positive")
        if name in fan_in and scheme != "zeros":
            variance = variances[scheme]
            scale = 0.01 if variance is None else np.sqrt(variance / shape[fan_in[name]])
            values.append(scale * rng.standard_normal(shape))
        else:
            values.append(np.full(shape, float(name in ones)) if shape else float(name in ones))
    return tuple(values)


class _Workspace:
    """Buffers for value_and_grad(..., workspace=ws): its intermediates and gradients, made at
    its first call with arguments of a shape and dtype and written again at each call with
    the same (the arrays it returns are these: the next call overwrites them). One call at a
    time uses it: give each thread its own."""

    def __init__(self):
        self._key, self._arrays, self._ids, self._free = None, [], set(), [True]

    def take(self, floats, masks, arrays):
        """Buffers of these shapes, floats of the arrays' one dtype then masks, made anew
        unless the last call's were these and no argument is one of them or shares memory
        with one (a gradient the last call returned, passed back in, or any view of it)."""
        dtype = arrays[0].dtype
        if any(a.dtype != dtype for a in arrays):
            raise TypeError("with a workspace the arrays must have one dtype, not "
                            + " and ".join(sorted({str(a.dtype) for a in arrays}))
                            + ": convert them (x.astype(np.float64)) or drop workspace=")
        if (dtype, floats, masks) != self._key or any(
                id(a) in self._ids or a.base is not None          # a view: of a buffer?
                and any(np.may_share_memory(a, b) for b in self._arrays) for a in arrays):
            self._arrays = [np.empty(s, dtype) for s in floats] \
                + [np.empty(s, np.bool_) for s in masks]
            self._key, self._ids = (dtype, floats, masks), {id(b) for b in self._arrays}
        return self._arrays

    def __enter__(self):
        try:
            self._free.pop()          # atomic: a second caller finds the list empty
        except IndexError:
            raise RuntimeError("this workspace is in use by another call: give each thread "
                               "its own workspace()") from None
        return self

    def __exit__(self, *exc):
        self._free.append(True)


def _in_workspace(workspace, function, *args):
    """function(workspace, *args), the workspace held meanwhile (see _Workspace)."""
    if not isinstance(workspace, _Workspace):
        raise TypeError(f"workspace must be one that this module's workspace() made, not "
                        f"{type(workspace).__name__}")
    with workspace:
        return function(workspace, *args)
