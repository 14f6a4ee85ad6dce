"""In a notebook: sg.compile(model) builds the generated module in memory and imports it."""
import linecache
import sys
import types

from .naming import frame_variables


def compile_model(model, verify=True):
    """The module `symgrad derive` would write for model, built in memory (no file is
    written) and imported: a module object registered in sys.modules as
    symgrad_compiled_<model name>, so that pickle and inspect.getsource work; its
    intermediates are named after the caller's variables. Certified as `symgrad derive`
    certifies (symgrad.certify) unless verify=False. Exported as `sg.compile`."""
    from .certify import certify
    from .codegen import module_source
    from .derive import derive
    source = module_source(derive(model, frame_variables(sys._getframe(1))))
    if verify:
        certify(model, source)
    name = f"symgrad_compiled_{model.name}"
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    linecache.cache[module.__file__] = (len(source), None, source.splitlines(True),
                                        module.__file__)     # no mtime: kept, for inspect
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    sys.modules[name] = module
    return module
