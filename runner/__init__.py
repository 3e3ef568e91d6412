"""proj: run MLproject projects reproducibly.

Importing this package must stay cheap: `proj` starts on every run, and projects may import
`runner` only to log metrics. Heavy modules are imported where they are used.
"""

__version__ = "0.1.0"
