"""docs/tour.ipynb runs from top to bottom (nbclient, a real kernel), so it cannot rot: the
graph draws as SVG, the derivation displays as LaTeX with the notebook's names, the module
compiles in memory, training reaches the course's accuracy and the boundary plot is a PNG."""
import os
import shutil

import pytest

from conftest import ROOT

if not os.environ.get("SYMGRAD_REQUIRE_NOTEBOOK"):      # .ci/run installs them: never skip
    for package in ("nbformat", "nbclient", "matplotlib", "ipykernel"):
        pytest.importorskip(package)
import nbclient  # noqa: E402
import nbformat  # noqa: E402


@pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get(
    "SYMGRAD_REQUIRE_GRAPHVIZ"), reason="Graphviz's dot is not installed (.ci/run installs it)")
def test_the_notebook_tour_executes(tmp_path):
    nb = nbformat.read(ROOT / "docs" / "tour.ipynb", as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "commit the tour without outputs"
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert {"image/svg+xml", "text/latex", "image/png"} <= kinds, kinds
    latex = next(o["data"]["text/latex"] for o in outputs if "text/latex" in o.get("data", {}))
    assert "Z^{[1]}" in latex and "cost" in latex          # the notebook's own names
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream"
                   and o.name == "stdout")
    assert "dZ2 = (A2 - Y)/m" in text                       # the module's docstring
    accuracy = float(text.split("training accuracy ")[1].split("%")[0])
    assert accuracy >= 85                                   # the course reports about 90%
    assert not any(o.output_type == "error" for o in outputs)
