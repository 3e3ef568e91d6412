"""proj: run MLproject projects reproducibly, and script against the runs it records.

The public Python API (docs/python-api.md):

    import runner
    runner.log_metric("rmse", 0.71, step=3)            # from a project's own code
    run = runner.run(".", parameters={"alpha": 0.5})   # run a project, get its record
    runs = runner.search_runs(filter="metrics.rmse < 0.8", order_by=["metrics.rmse"])

Importing this package must stay cheap: `proj` starts on every run, and projects import `runner`
only to log. Every public name is an attribute loaded on first use; `dir(runner)` lists them, and
type checkers read them from `__init__.pyi` beside this file (the lazy-loading convention of
scientific Python's SPEC 1), which also keeps its imports out of proj's own import graph.
"""

__version__ = "0.1.0"

# Each public name, and the module that defines it.
_PUBLIC = {
    "log_metric": "runner.log", "log_metrics": "runner.log", "log_param": "runner.log",
    "log_params": "runner.log", "set_tag": "runner.log", "set_tags": "runner.log", "log_artifact": "runner.log",
    "run": "runner.python_api", "search_runs": "runner.python_api", "RunFailedError": "runner.python_api",
    "RunRecord": "runner.tracking.base", "RunStatus": "runner.tracking.base", "ProjError": "runner.errors",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> object:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'runner' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})
