"""proj: run MLproject projects reproducibly, and script against the runs it records.

The public Python API (docs/python-api.md):

    import runner
    runner.log_metric("rmse", 0.71, step=3)            # from a project's own code
    run = runner.run(".", parameters={"alpha": 0.5})   # run a project, get its record
    runs = runner.search_runs(filter="metrics.rmse < 0.8", order_by=["metrics.rmse"])

Importing this package must stay cheap: `proj` starts on every run, and projects import `runner`
only to log. Every public name is an attribute loaded on first use; `dir(runner)` lists them.
Type checkers and IDEs read them from the imports under TYPE_CHECKING below, which never run.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (10 ms): type checkers take it as True

if TYPE_CHECKING:
    from runner.errors import ProjError as ProjError
    from runner.log import log_artifact as log_artifact
    from runner.log import log_metric as log_metric
    from runner.log import log_metrics as log_metrics
    from runner.log import log_param as log_param
    from runner.log import log_params as log_params
    from runner.log import set_tag as set_tag
    from runner.log import set_tags as set_tags
    from runner.python_api import RunFailedError as RunFailedError
    from runner.python_api import run as run
    from runner.python_api import search_runs as search_runs
    from runner.tracking.base import RunRecord as RunRecord
    from runner.tracking.base import RunStatus as RunStatus
    from runner.version import __version__ as __version__

# Each public name, and the module that defines it (the imports above, for type checkers).
_PUBLIC = {
    "log_metric": "runner.log", "log_metrics": "runner.log", "log_param": "runner.log",
    "log_params": "runner.log", "set_tag": "runner.log", "set_tags": "runner.log", "log_artifact": "runner.log",
    "run": "runner.python_api", "search_runs": "runner.python_api", "RunFailedError": "runner.python_api",
    "RunRecord": "runner.tracking.base", "RunStatus": "runner.tracking.base", "ProjError": "runner.errors",
    "__version__": "runner.version",
}
__all__ = [
    "__version__", "log_metric", "log_metrics", "log_param", "log_params", "set_tag", "set_tags", "log_artifact",
    "run", "search_runs", "RunFailedError", "RunRecord", "RunStatus", "ProjError",
]


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
