"""proj's version: one place, read by the package build (pyproject.toml) and by proj's records.

A module of its own so that proj's modules can name it without importing the `runner` package's
public API (runner/__init__.py imports that API for type checkers).
"""

__version__ = "0.1.0"
