"""proj: run MLproject projects reproducibly.

Importing this package must stay cheap: `proj` starts on every run, and projects may import
`runner` only to log metrics. Heavy modules are imported where they are used.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # `runner.log_metric(...)` without importing the rest of proj until first use.
    if name in ("log_metric", "log_artifact"):
        from runner import log

        return getattr(log, name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
