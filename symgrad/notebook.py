"""The Python API, for a notebook or a script: sg.derive, sg.latex, sg.picture and sg.compile, each
naming intermediates after the caller's variables as `symgrad derive` names them after the
model file's."""
import hashlib
import linecache
import sys
import types

from .certify import certify
from .codegen import check_target, check_workspace, module_source
from .derive import derive
from .naming import frame_variables
from .picture import Picture


def derive_model(model):
    """The right-to-left derivation of model's gradients (a Derivation: its steps, its
    LaTeX); the same as model.derivation(). Exported as `sg.derive`."""
    return derive(model, frame_variables(sys._getframe(1)))


def latex(model, fmt="tex", at=None, steps=False):
    """The derivation as `symgrad latex` writes it: a standalone LaTeX document (fmt="tex")
    or Markdown ("md"), the summary or with steps=True the full trace; `at` maps a scalar
    model's leaves to numbers to show values. Exported as `sg.latex`."""
    return derive(model, frame_variables(sys._getframe(1))).latex(fmt, at, steps)


def picture(model, at=None, seed=0):
    """The computational graph as `symgrad graph` draws it: a Picture, which a notebook
    displays as SVG (Graphviz's dot); `.dot` is its DOT source, `.svg()` and `.png()` its
    drawings. `at` ({name: number}, or the text 'a=5,b=3,c=2') gives the dimensions and
    scalars at which every node shows its value and adjoint (matrices random, seed).
    Exported as `sg.picture`."""
    return Picture([derive(model, frame_variables(sys._getframe(1)))], at, seed)


def compile_model(model, verify=True, style=None, target="numpy", workspace=False):
    """The module `symgrad derive` would write for model, built in memory (no file is
    written) and imported: a module object registered in sys.modules as
    symgrad_compiled_<model name>_<12 hex digits of its source's sha256>, so that pickle and
    inspect.getsource work (the same source compiled again is the same module); its
    intermediates are named after the caller's variables. Certified as `symgrad derive`
    certifies (symgrad.certify) unless verify=False; style "plain" writes the code of a
    course's solution (codegen.STYLES; None: the target's default); target "array-api" code
    for any array-API library (codegen.TARGETS); workspace: with workspace() (see `symgrad
    derive --workspace`). Exported as `sg.compile`."""
    style = check_target(target, style)
    check_workspace(workspace, target, style)
    source = module_source(derive(model, frame_variables(sys._getframe(1))), style, target,
                           workspace)
    if verify:
        certify(model, source)
    # a name of its own per source: a model compiled again (changed, in another style), must
    # not replace the first module in sys.modules, where pickle finds its functions, nor the
    # lines inspect and tracebacks show for it; the same source compiled again is that module
    name = f"symgrad_compiled_{model.name}_{hashlib.sha256(source.encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    linecache.cache[module.__file__] = (len(source), None, source.splitlines(True),
                                        module.__file__)     # no mtime: kept, for inspect
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    sys.modules[name] = module
    return module
