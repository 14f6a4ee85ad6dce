"""Printers: NumPy source for generated modules."""
