"""The array-API target on a GPU: CuPy arrays and CUDA tensors, where a GPU exists.

`python benchmarks/gpu_array_api.py` derives the five benchmark models with
`--target array-api`, runs value_and_grad on each GPU library present (CuPy; PyTorch with
CUDA), checks the loss and gradients against the NumPy target to 1e-10 in float64, checks
that the results are arrays of that library on the GPU, and prints the time of one call.
Where no GPU library can reach a device it says so and exits 0: there is nothing to run.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symgrad.codegen import module_source  # noqa: E402
from symgrad.derive import derive  # noqa: E402
from symgrad.dims import default_dims  # noqa: E402
from symgrad.load import load  # noqa: E402
from symgrad.testing import load_module, random_instance, relative_error  # noqa: E402

MODELS = sorted((ROOT / "benchmarks" / "models").glob("*.py"))


def devices():
    """[(name, to_device, to_numpy, array type)] for the GPU libraries that reach a GPU, and
    the reasons the others do not."""
    found, missing = [], []
    if importlib.util.find_spec("cupy") is None:
        missing.append("CuPy is not installed")
    else:
        import cupy
        try:
            cupy.cuda.runtime.getDeviceCount()
            found.append(("cupy", cupy.asarray, cupy.asnumpy, cupy.ndarray))
        except Exception as e:       # no driver, no device
            missing.append(f"CuPy finds no GPU ({type(e).__name__})")
    if importlib.util.find_spec("torch") is None:
        missing.append("PyTorch is not installed")
    else:
        import torch
        if torch.cuda.is_available():
            found.append(("torch.cuda", lambda a: torch.as_tensor(a, device="cuda"),
                          lambda t: t.cpu().numpy(), torch.Tensor))
        else:
            missing.append("PyTorch has no CUDA device")
    return found, missing


def main():
    found, missing = devices()
    if not found:
        print("no GPU here: " + "; ".join(missing) + ". Nothing to run.")
        return 0
    failures = 0
    for path in MODELS:
        (model, names), = load(path)
        d = derive(model, names)
        module = load_module(module_source(d, None, "array-api"), model.name)
        reference = load_module(module_source(d), model.name)
        dims = {k: max(v, 256) for k, v in default_dims(model, seed=0).items()}
        values = random_instance(model, dims, 0)
        args = [values[n] for n in list(module.PARAMS) + list(module.INPUTS)]
        ref_loss, ref_grads = reference.value_and_grad(*args)
        for name, put, get, kind in found:
            theirs = [put(a) for a in args]
            module.value_and_grad(*theirs)                 # warm-up
            start = time.perf_counter()
            loss, grads = module.value_and_grad(*theirs)
            get(loss)                                      # waits for the device
            seconds = time.perf_counter() - start
            errors = [relative_error(get(loss), ref_loss)] + [
                relative_error(get(g), r) for g, r in zip(grads, ref_grads)]
            ok = max(errors) < 1e-10 and all(isinstance(g, kind) for g, p in zip(
                grads, module.PARAMS) if module.SHAPES[p])          # matrices, not scalars
            failures += not ok
            print(f"{model.name:16} {name:10} {seconds * 1e3:8.2f} ms  max rel. error "
                  f"{max(errors):.1e}  {'ok' if ok else 'FAILED'}")
    if missing:
        print("not run: " + "; ".join(missing))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
