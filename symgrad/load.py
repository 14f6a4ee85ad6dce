"""Loading a model file: run it in its own namespace and collect its Models and names."""
import contextlib
import hashlib
import runpy
import sys
import traceback
from pathlib import Path

import sympy as sp
from sympy.matrices.exceptions import NonSquareMatrixError

from .array import _short
from .errors import SymgradError, first_line
from .model import Model
from .naming import Recorder, variables


def load(path):
    """[(model, names)] for every module-level Model in the file; names maps the file's
    variable names to the SymPy expressions they held (to name graph nodes): each layer's
    for a variable rebound in a loop (naming.variables)."""
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file (a pipe or a device)" \
            if path.exists() else "no such file"
        raise SymgradError(f"{path}: {what}: give the path of a model file (e.g. "
                           "examples/two_layer.py)")
    if not path.name.isprintable():
        raise SymgradError(f"model file name {path.name!r} contains a control character or a "
                           "line break (it is written into generated files): rename the file")
    try:
        text = path.read_bytes()
    except OSError as e:
        raise SymgradError(f"{path}: cannot read it ({e.strerror}): check its permissions") from e
    try:
        compile(text, str(path), "exec")
    except SyntaxError as e:
        raise SymgradError(f"{path}:{e.lineno or 1}: syntax error: {e.msg}: fix the model "
                           "file") from e
    with Recorder(path) as recorder:          # the name the file runs under
        namespace = _run(path)
    models = [v for v in namespace.values() if isinstance(v, Model)]
    if not models:
        raise SymgradError(f"{path}: no symgrad Model found: define one at module level, e.g. "
                           "model = sg.Model('name', loss=..., params=[...])")
    seen = {}
    for model in models:
        if model.name in seen and seen[model.name] is not model:
            raise SymgradError(f"{path}: two models are named {model.name!r}: give each "
                               "Model a distinct name (it names the generated module)")
        seen[model.name] = model
    digest = hashlib.sha256(text).hexdigest()
    names = variables(recorder.bindings + [(k, v, None) for k, v in namespace.items()])
    unique = list(dict.fromkeys(models))
    for model in unique:
        model.source = (path.name, digest)
    return [(model, names) for model in unique]


def _run(path):
    """Run the model file as Python runs a script: its own folder importable (a sibling
    layers.py), for the duration of the run."""
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        with contextlib.redirect_stdout(sys.stderr):   # its prints: not in a document on stdout
            return runpy.run_path(str(path), run_name=f"symgrad_model_{path.stem}")
    except SymgradError as e:
        raise SymgradError(f"{path}:{_line_in(path)}: {e}") from e
    except sp.ShapeError as e:
        raise SymgradError(f"{path}:{_line_in(path)}: {_shape_mismatch(e)}") from e
    except RecursionError as e:
        raise SymgradError(f"{path}:{_line_in(path)}: an expression nests too deep for Python's "
                           f"recursion limit ({sys.getrecursionlimit()}; SymPy recurses once per "
                           "level): put `import sys; sys.setrecursionlimit(20000)` at the top "
                           "of the model file") from e
    except SystemExit as e:
        raise SymgradError(f"{path}:{_line_in(path)}: the model file called sys.exit({e.code!r}) "
                           "(symgrad runs it to find its Models): remove the call, or guard it "
                           "with if __name__ == '__main__'") from e
    except KeyboardInterrupt:
        raise
    except BaseException as e:      # also GeneratorExit, or the file's own BaseException
        raise SymgradError(f"{path}:{_line_in(path)}: the model file raised "
                           f"{type(e).__name__}: {first_line(e)}: fix the model file") from e
    finally:
        if folder in sys.path:
            sys.path.remove(folder)


def _shape_mismatch(e):
    """SymPy's ShapeError, with the two operands it does not name: found in the frame of
    the check that raised it (its `args`)."""
    if isinstance(e, NonSquareMatrixError):
        return (f"{first_line(e)}: SymPy's ** on a plain matrix is a matrix power: for the "
                "elementwise power write sp.HadamardPower(X, k), or make the matrices symgrad "
                "arrays (sg.Input/sg.Param) and write **")
    product = "aligned" in str(e)
    for frame, _ in reversed(list(traceback.walk_tb(e.__traceback__))):
        args = frame.f_locals.get("args")
        if not isinstance(args, (tuple, list)) or not all(hasattr(a, "shape") for a in args):
            continue
        for a, b in zip(args, args[1:]):
            if (a.shape[1] != b.shape[0]) if product else (a.shape != b.shape):
                what = "a matrix product" if product else "a sum or elementwise product"
                fix = ("the inner dimensions must agree (SymPy's `*` of plain matrices is the "
                       "matrix product: for the elementwise one write sp.HadamardProduct, or "
                       "make them symgrad arrays, sg.Input/sg.Param)") if product \
                    else "the shapes must agree"
                return (f"shape mismatch in {what}: {_short(a)} is {tuple(a.shape)} but "
                        f"{_short(b)} is {tuple(b.shape)}; {fix}")
    return f"shape mismatch: {first_line(e)}: fix the model file"


def _line_in(path):
    """The line of the model file where the exception being handled was raised."""
    tb = sys.exc_info()[2]
    line = "?"
    for frame, lineno in traceback.walk_tb(tb):
        if Path(frame.f_code.co_filename).resolve() == path.resolve():
            line = lineno
    return line
