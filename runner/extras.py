"""proj's optional parts: a light `pip install proj-runner` validates and runs projects with a
Python environment (uv or virtualenv) or none; conda, docker and the browser UI each come with
an extra. Code that needs one asks here first, so a missing extra is one clear message naming
it (exit 126), never an ImportError from deep inside a build."""

from __future__ import annotations

import importlib

from runner.errors import MissingExtraError

# extra -> the modules it installs (imported, not only looked up: a broken install counts as missing)
EXTRAS: dict[str, tuple[str, ...]] = {
    "conda": ("rattler", "conda_lock"),
    "docker": ("docker",),
    "ui": ("starlette", "uvicorn", "jinja2"),
}


def require_extra(extra: str, what: str) -> None:
    """Raise MissingExtraError unless every module of `extra` imports; `what` needs it."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError(
                f"{what} needs the {extra} extra, which is not installed (missing: {module})",
                extra=extra, hint=f"install it with: {install_hint(extra)}") from None


def install_hint(extra: str) -> str:
    return f"pip install 'proj-runner[{extra}]'"
