"""Integer class labels (sg.Labels) and the score each picks (sg.pick), as SymPy classes:
the model, the losses and the oracle read them."""
import sympy as sp


class _Labels(sp.MatrixSymbol):
    """Integer class labels, one per example: a row (1, m) or a column (m, 1)."""


class Pick(sp.MatrixExpr):
    """The score of each example's label: scores[y_j, j] per column j (axis 0, a row (1, m))
    or scores[j, y_j] per row j (axis 1, a column (m, 1)), for integer labels y (sg.Labels).
    Its gradient scatters into the class axis; no one-hot matrix is formed."""

    def __new__(cls, scores, labels, axis):
        return super().__new__(cls, scores, labels, sp.Integer(axis))

    @property
    def shape(self):
        rows, cols = self.args[0].shape
        return (sp.S.One, cols) if self.args[2] == 0 else (rows, sp.S.One)
