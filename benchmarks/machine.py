"""What the machine is: CPU, BLAS and its kernel, threads, load; for RESULTS.md."""
from __future__ import annotations

import ctypes
import os
import platform
import re
import sys

import numpy as np


def first_match(path: str, pattern: str) -> str:
    """The first group of the first line of a file matching pattern, or "unknown"."""
    try:
        with open(path) as lines:
            for line in lines:
                if found := re.match(pattern, line):
                    return found.group(1).strip()
    except OSError:
        pass
    return "unknown"


def load_average() -> float:
    """The 1-minute load average: above ~0.5, other work shares the cores."""
    return os.getloadavg()[0]


def numpy_blas() -> str:
    """NumPy's BLAS (from its build config) and, for OpenBLAS, the kernel it runs: the core
    it detected, or the one OPENBLAS_CORETYPE forced."""
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    text = f"{blas.get('name')} {blas.get('version')}"
    core = openblas_core()
    return f"{text}, kernel {core}" if core else text


def openblas_core() -> str | None:
    """OpenBLAS's core name (SkylakeX, Haswell, Zen...) read from the loaded library."""
    try:
        maps = open("/proc/self/maps").read()
    except OSError:
        return None
    for path in sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps))):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                       "openblas_get_corename64_", "openblas_get_corename"):
            function = getattr(library, symbol, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return function().decode()
    return None


def _torch_blas() -> str:
    import torch

    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version (\S+)", config)
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    name = blas.group(1) if blas else "unknown"
    return f"{name} {mkl.group(1)}" if name == "mkl" and mkl else name


def facts(versions: dict[str, str]) -> dict[str, str]:
    """{fact: value} of this process: the machine, NumPy's BLAS, the peers' versions."""
    mem_kb = first_match("/proc/meminfo", r"MemTotal:\s*(\d+)")
    threads = ", ".join(f"{var}={os.environ.get(var, 'unset')}"
                        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                    "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE"))
    found = {
        "CPU": first_match("/proc/cpuinfo", r"model name\s*:(.*)"),
        "cores": f"{os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})",
        "memory": f"{int(mem_kb) / 2**20:.1f} GiB" if mem_kb.isdigit() else "unknown",
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "NumPy": f"{np.__version__} (BLAS: {numpy_blas()})",
        "threads": threads,
    }
    for name, version in versions.items():
        if name == "PyTorch eager":
            found["PyTorch"] = f"{version} (BLAS: {_torch_blas()}), CPU"
        elif name != "torch.compile":
            found[name] = version
    return found
