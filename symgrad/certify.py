"""Certified emission: a generated module is written only once it agrees with the model.

The reference shares nothing with the derivation: the model's own SymPy expression,
expanded into scalar entries at tiny dimensions, evaluated at 40 digits and differentiated
numerically at that precision (`testing.sympy_reference`). The module is run at two sets of
dimensions, small ones (2 or 3) and every dimension 1, and its loss (from `value_and_grad`
and from `loss`), every gradient and every output of `forward` are compared with the
reference; no result may share memory with an argument, and no argument may change.
"""
import functools
import inspect
import warnings

import numpy as np

from .errors import SymgradError, first_line
from .testing import (RTOL, NotFinite, Reference, default_dims, disagreement, indices_fit,
                      load_module, random_instance, rounding_floor, second_order)

TRIES = 3          # points tried per set of dimensions where the model is not finite


def cases(model):
    """The dimension sets certified: small ones (2 or 3, fixed), and every dimension 1; of
    those, the ones the model's slices fit in (A[:, 1:k] needs k >= 2), else the first
    random set of dimensions up to 8 they fit in."""
    small = default_dims(model, seed=0, low=2, high=3)      # widened where slices need it
    ones = {name: 1 for name in small}
    found = [d for d in [small] + ([ones] if ones != small else []) if indices_fit(model, d)]
    if not found:
        raise SymgradError(f"model {model.name}: cannot certify the module: no dimensions up to "
                           "8 fit its slices and indices; pass --no-verify to write it unchecked")
    return found


def certify(model, source):
    """Raise SymgradError unless the module text `source` computes model's loss, gradients
    and outputs (checked against the SymPy expression at tiny dimensions)."""
    module = load_module(source, model.name)
    certified = 0
    for dims in cases(model):
        try:
            for values, reference in _references(model, dims):
                try:
                    _compare(model, module, dims, values, reference)
                except NotFinite:       # a Jacobian's output not real here: the next point
                    continue
                certified += 1
                break
        except MemoryError as e:
            raise SymgradError(
                f"model {model.name}: cannot certify the module at "
                f"{', '.join(f'{k}={v}' for k, v in dims.items()) or 'its sizes'}: out of "
                f"memory ({first_line(e)}): make a large integer dimension a symbol, or pass "
                "--no-verify to write the module unchecked") from None
    if not certified:
        raise SymgradError(
            f"model {model.name}: cannot certify the module: the model's loss (or an output of "
            f"a Jacobian) is not real and finite at any of {TRIES} random points (parameters "
            "normal, the last positive, inputs in (0, 1)); "
            "check its domain, or pass --no-verify to write the module unchecked")


def _references(model, dims):
    """(values, Reference) at each of TRIES points where the model's loss is real and finite
    (the last with positive parameters)."""
    for seed in range(TRIES):
        values = random_instance(model, dims, seed)
        if seed == TRIES - 1:
            values.update({p.name: abs(values[p.name]) for p in model.params})
        try:
            reference = Reference(model, dims, values)
        except (NotFinite, ZeroDivisionError):
            continue
        except NotImplementedError as e:
            raise SymgradError(f"model {model.name}: cannot certify the module: {e}; pass "
                               "--no-verify to write it unchecked") from e
        yield values, reference


def _refuse(model, dims, what):
    sizes = set(dims.values())
    where = ", ".join(f"{k}={v}" for k, v in dims.items()) if len(dims) <= 6 or len(sizes) > 1 \
        else f"every dimension {sizes.pop()}"
    where = where if len(where) < 80 else where[:76] + " ..."
    return SymgradError(
        f"model {model.name}: certification failed at {where}: {what}; symgrad got this model "
        "wrong, please report it (--no-verify writes the module anyway)")


def _call(model, dims, values, function, /, *args, **kwargs):
    """function(*args, **kwargs) of the module; an exception, or an argument of values
    written, is a refusal."""
    before = {k: np.copy(v) for k, v in values.items()}
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = function(*args, **kwargs)
    except Exception as e:      # any failure of generated code is a refusal
        message = str(e).splitlines()[0] if str(e) else ""
        raise _refuse(model, dims, f"{function.__name__} raises {type(e).__name__}: "
                      f"{message}") from e
    for name, a in values.items():
        if not np.array_equal(a, before[name]):
            raise _refuse(model, dims, f"{function.__name__} writes into its argument {name}")
    return result


def _run(model, module, dims, values):
    """value_and_grad, loss and forward at values; and value_and_grad with a workspace, if
    the module has one (its own statements), at the second call (the buffers reused), else
    None."""
    forward = inspect.signature(module.forward).parameters
    args = [values[name] for name in list(module.PARAMS) + list(module.INPUTS)]
    value, grads = _call(model, dims, values, module.value_and_grad, *args)
    alone = _call(model, dims, values, module.loss, *args)
    outputs = _call(model, dims, values, module.forward,
                    **{name: values[name] for name in forward})
    held = None
    if hasattr(module, "workspace"):
        ws = module.workspace()
        for _ in range(2):
            held = _call(model, dims, values, module.value_and_grad, *args, workspace=ws)
    return value, grads, alone, outputs, held


def _agree(model, dims, checks):
    """Refuse unless each (what, result, reference, floor) agrees (testing.disagreement)."""
    _accept(model, dims, [(what, *disagreement(result, ref, floor))
                          for what, result, ref, floor in checks])


def _accept(model, dims, rows):
    """Refuse unless each (what, relative error, problem) has no problem and an error within
    RTOL."""
    for what, err, problem in rows:
        if problem:
            raise _refuse(model, dims, f"{what} {problem}")
        if not err <= RTOL:
            raise _refuse(model, dims, f"{what} disagrees with the model's SymPy expression "
                          f"(relative error {err:.1e})")


def _along_agrees(reference, directions, grads, rounding):
    """Whether sum <g, v> over the gradients equals the model's derivative along the
    directions v (any wrong entry shows, but for a chance cancellation of measure zero);
    compared on the scale of |g| |v| where the dot product cancels, and to rounding (as
    rounding_floor) per unit of |v|_1 where the gradient is 0 or near it."""
    dot = sum(float(np.sum(np.multiply(g, v))) for g, v in zip(grads, directions.values()))
    scale = 1e-6 * sum(float(np.linalg.norm(g) * np.linalg.norm(v))
                       for g, v in zip(grads, directions.values()))
    ref = reference.directional(directions)
    along = sum(float(np.sum(np.abs(v))) for v in directions.values())
    return abs(dot - ref) <= max(RTOL * max(abs(ref), scale), rounding * along)


def _compare(model, module, dims, values, reference):
    """Refuse unless the module agrees with the reference: the loss, each gradient along a
    random direction (one central difference of the model's loss: any wrong entry shows),
    each output; no argument written, no result sharing an argument's memory."""
    value, grads, alone, outputs, held = _run(model, module, dims, values)
    rng = np.random.default_rng(14)
    for p, g in zip(model.params, grads):
        if np.shape(g) != np.shape(values[p.name]):
            raise _refuse(model, dims, f"d{p.name} has shape {np.shape(g)}, not "
                          f"{np.shape(values[p.name])}")
    directions = {p: rng.standard_normal(np.shape(g)) for p, g in zip(model.params, grads)}
    # the reference is exact to about 1e-25 of the loss: the module's rounding is the floor
    rounding = rounding_floor(values, reference.loss)
    floor = rounding / RTOL
    _agree(model, dims, [("the loss", value, reference.loss, floor),
                         ("loss()", alone, reference.loss, floor)])
    if not _along_agrees(reference, directions, grads, rounding):     # find the wrong one
        wrong = [p for p, g in zip(model.params, grads)
                 if not _along_agrees(reference, {p: directions[p]}, [g], rounding)]
        raise _refuse(model, dims, f"the gradient {', '.join('d' + p.name for p in wrong)} "
                      "disagrees with the model's SymPy expression" if wrong else
                      "the gradients disagree with the model's SymPy expression")
    _agree(model, dims, [(f"output {name!r}", outputs[name], ref, floor)
                         for name, ref in reference.outputs().items()])
    if held is not None:                 # the workspace's results: the default call's
        _agree(model, dims, [("the loss with a workspace", held[0], value, floor)] + [
            (f"d{p.name} with a workspace", h, g, floor)
            for p, g, h in zip(model.params, grads, held[1])])
    _accept(model, dims, second_order(model, module, values, reference, rng, rounding,
                                      functools.partial(_call, model, dims, values)))
    returned = [a for a in [*grads, *outputs.values()] if isinstance(a, np.ndarray)]
    for name, a in values.items():
        if any(np.shares_memory(r, a) for r in returned):
            raise _refuse(model, dims, f"the module returns memory of its argument {name}")
