"""The seeds' computation graph: J = 3(a + b c), with u = b c and v = a + u."""
import sympy as sp

import symgrad as sg

a, b, c = sg.Param("a"), sg.Param("b"), sg.Param("c")
with sp.evaluate(False):        # keep 3*(a + b*c) as written, so each step shows
    u = b * c
    v = a + u
    J = 3 * v

model = sg.Model("graph", loss=J, params=[a, b, c])
