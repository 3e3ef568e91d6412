"""Bytecode in the Python environments proj builds: written on first import, not at build time.

Compiling every module of an environment at build time costs about ten times the install for
big packages (scikit-learn, pandas, mlflow: thousands of modules, of which a run imports a few
hundred). So builds compile nothing, and Python caches what each run imports on first use.
Where Python would not write bytecode (PYTHONDONTWRITEBYTECODE, `python -B`), the hook in
pyc_on_import.py still caches the environment's own modules, so runs do not recompile their
imports every time. `UV_COMPILE_BYTECODE=1` compiles everything at build time (for an
environment that will be read-only to the users who run it); it applies to pip builds as well.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

HOOK_MODULE = "_proj_pyc_on_import"
# A .pth line starting with `import` runs at interpreter start; the hook loads only when needed,
# and never on an interpreter older than the import internals it relies on (3.7).
HOOK_LINE = (f"import sys; sys.version_info >= (3, 7) and sys.flags.dont_write_bytecode "
             f"and __import__({HOOK_MODULE!r})\n")


def compile_at_build() -> bool:
    """Whether the user asked for every module to be compiled at build time."""
    return os.environ.get("UV_COMPILE_BYTECODE", "").strip().lower() in ("1", "true", "yes", "on")


def add_bytecode_hook(environment: Path) -> None:
    """Install the hook into the environment's site-packages (after every package is in)."""
    site = site_packages(environment)
    shutil.copyfile(Path(__file__).with_name("pyc_on_import.py"), site / f"{HOOK_MODULE}.py")
    (site / f"{HOOK_MODULE}.pth").write_text(HOOK_LINE)


def site_packages(environment: Path) -> Path:
    found = sorted(environment.glob("lib/*/site-packages")) or sorted(environment.glob("Lib/site-packages"))
    if len(found) != 1:
        raise FileNotFoundError(f"no single site-packages folder in {environment}: {found}")
    return found[0]
