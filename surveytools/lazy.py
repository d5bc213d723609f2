"""Deferred imports for modules that must load without their heavy dependencies.

The QGIS plugin imports the operation registry (every ``ops`` module) inside QGIS's own Python,
where only the standard library is promised; the operations themselves run in a child process
with numpy, pandas, pyarrow … installed.  A module that declares operations therefore names its
heavy dependencies through :func:`lazy_module` / :func:`lazy_function`: nothing is imported until
an operation actually runs.
"""
from __future__ import annotations

import importlib


class _LazyModule:
    """A module imported on first attribute access."""

    def __init__(self, name: str):
        self.__dict__["_name"] = name

    def _load(self):
        return importlib.import_module(self.__dict__["_name"])

    def __getattr__(self, attr):
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_name']!r}>"


def lazy_module(name: str):
    """``np = lazy_module("numpy")``: ``np.array`` imports numpy the first time it is used."""
    return _LazyModule(name)


def lazy_function(module: str, name: str):
    """A function of ``module`` imported when first called (``write_layer = lazy_function(
    "surveytools.gpkg", "write_layer")``)."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name} (imported when first called)"
    return call


__all__ = ["lazy_function", "lazy_module"]
