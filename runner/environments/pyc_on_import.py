"""Copied by proj into the site-packages of the environments it builds, with a .pth line that
imports it only when bytecode writing is off (PYTHONDONTWRITEBYTECODE, `python -B`).

proj does not compile a whole environment at build time (for big packages that costs ten times
the install), so Python writes the bytecode of what a run imports on first use. With bytecode
writing off it never would, and every run would compile its imports again. This module makes
Python cache the bytecode of modules *inside the environment* (a cache proj owns) even then:
the first run writes what it compiled anyway, later runs read it. Files outside the environment
(the project's own code, the interpreter's standard library) still get no bytecode, as asked.

It runs inside the environment's interpreter, which may be older than proj's: standard library
only, and it does nothing when the interpreter's import internals are not the expected ones.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds at start-up; only mypy needs it
    from typing import Any

try:  # the import system's own module, always loaded; private names stable since Python 3.7
    import _frozen_importlib_external as _external
    from _frozen_importlib_external import FileFinder, SourceFileLoader, cache_from_source

    _timestamp_pyc = getattr(_external, "_code_to_timestamp_pyc")  # noqa: B009 - private
    _file_loaders = getattr(_external, "_get_supported_file_loaders")  # noqa: B009 - private
except (ImportError, AttributeError):  # pragma: no cover - other import internals: do nothing
    SourceFileLoader = None  # type: ignore[assignment,misc]


def _inside(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + os.sep)


if SourceFileLoader is not None:

    class CachingSourceLoader(SourceFileLoader):
        """A source loader that writes the bytecode it compiles even when writing is off."""

        def source_to_code(self, data: Any, path: Any, *, _optimize: int = -1) -> Any:  # type: ignore[override]
            code = super().source_to_code(data, path, _optimize=_optimize)
            if sys.dont_write_bytecode:  # otherwise the import system writes it itself
                try:
                    mtime = int(self.path_stats(path)["mtime"])
                    self.set_data(cache_from_source(path), _timestamp_pyc(code, mtime, len(data)))
                except (OSError, ValueError, NotImplementedError):
                    pass  # a read-only environment: nothing to cache, nothing lost
            return code


def install(prefix: str) -> None:
    """Import modules under `prefix` (the environment) through CachingSourceLoader."""
    if SourceFileLoader is None:
        return
    loaders = [(CachingSourceLoader if loader is SourceFileLoader else loader, suffixes)
               for loader, suffixes in _file_loaders()]
    make_finder = FileFinder.path_hook(*loaders)

    def hook(path: str) -> Any:
        if not _inside(os.path.abspath(path or "."), prefix):
            raise ImportError("outside the environment")  # the next hook handles it
        return make_finder(path)

    sys.path_hooks.insert(0, hook)
    for path in [p for p in sys.path_importer_cache if _inside(os.path.abspath(p or "."), prefix)]:
        del sys.path_importer_cache[path]  # site-packages' finder was made before the hook


def cache_own_bytecode() -> None:
    """This module was imported before its hook existed: cache it too, once."""
    spec = globals().get("__spec__")
    if SourceFileLoader is None or spec is None or not spec.cached or os.path.exists(spec.cached):
        return
    try:
        CachingSourceLoader(spec.name, spec.origin).get_code(spec.name)
    except (ImportError, OSError, SyntaxError):
        pass


if sys.flags.dont_write_bytecode:
    install(os.path.abspath(sys.prefix))
    cache_own_bytecode()
