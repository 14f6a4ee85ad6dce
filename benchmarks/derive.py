"""Bridge to symgrad: run `symgrad derive` on a model file and load the generated module."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Outcome:
    """How one command run went."""

    ok: bool
    seconds: float
    message: str  # the command's output when it failed


def symgrad_missing() -> str | None:
    """Why symgrad cannot be imported from this repo (put first on sys.path), or None."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        import symgrad  # noqa: F401
    except Exception as error:  # an unfinished package may fail with anything
        return f"`import symgrad` failed: {type(error).__name__}: {error}"
    return None


def symgrad_version() -> str:
    import symgrad

    return getattr(symgrad, "__version__", "unknown version")


def _command() -> list[str]:
    """The `symgrad` console script's entry point (`symgrad.cli:main`), run from this repo."""
    return [sys.executable, "-c", "import sys; from symgrad.cli import main; sys.exit(main())"]


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def run_python(code: str, timeout: float = 120) -> Outcome:
    """Run a Python snippet in a fresh interpreter that sees this repo (a startup baseline)."""
    return _run([sys.executable, "-c", code], timeout)


def derive(model_file: Path, out_dir: Path, timeout: float = 600,
           workspace: bool = False) -> Outcome:
    """`symgrad derive model_file -o out_dir [--workspace]`, timed as a whole (interpreter
    start included)."""
    return _run([*_command(), "derive", str(model_file), "-o", str(out_dir)]
                + ["--workspace"] * workspace, timeout)


def _run(command: list[str], timeout: float) -> Outcome:
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, env=_env(), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(False, time.perf_counter() - start, f"timed out after {timeout:.0f} s")
    seconds = time.perf_counter() - start
    output = (done.stdout + done.stderr).strip()
    return Outcome(done.returncode == 0, seconds, output[-2000:] if done.returncode else "")


def load_module(path: Path):
    """Import a generated module from its file."""
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
