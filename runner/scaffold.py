"""`proj init`: a new project's files, written into a folder without touching what is there.

    MLproject          a typed `main` entry point (alpha: float, epochs: int) and its environment
    python_env.yaml    the Python version, for a virtualenv built with uv (or conda.yaml)
    train.py           a small script that logs a metric per epoch (standard library only)
    .gitignore         `.proj/`, the local store (added to an existing .gitignore)

Every file is checked absent before any is written, so a folder that already holds one of them
gets nothing. The scaffold validates with `proj validate --strict` and runs with `proj run .`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runner.errors import UsageError

EnvironmentChoice = Literal["python", "conda"]
ENVIRONMENTS: tuple[EnvironmentChoice, ...] = ("python", "conda")
ENV_FILES = {"python": "python_env.yaml", "conda": "conda.yaml"}
STORE_IGNORE = ".proj/"
_VERSION = re.compile(r"^3\.\d{1,2}(\.\d{1,2})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}


@dataclass(frozen=True)
class Scaffold:
    name: str
    environment: EnvironmentChoice = "python"
    python: str = "3.11"

    def files(self) -> dict[str, str]:
        """The new files, by name (the .gitignore line is handled on its own)."""
        return {"MLproject": self.mlproject(), ENV_FILES[self.environment]: self.environment_file(),
                "train.py": TRAIN_PY}

    def mlproject(self) -> str:
        section = "python_env: python_env.yaml" if self.environment == "python" else "conda_env: conda.yaml"
        return MLPROJECT.format(name=_yaml_text(self.name), environment=section)

    def environment_file(self) -> str:
        if self.environment == "python":
            return PYTHON_ENV.format(python=json.dumps(self.python))
        return CONDA_ENV.format(name=_yaml_text(self.name), python=self.python)


def _yaml_text(text: str) -> str:
    """A YAML string: plain when YAML 1.1 reads it as that text, quoted otherwise (yes, 3.10, a: b)."""
    plain = _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS
    return text if plain else json.dumps(text)


@dataclass(frozen=True)
class Written:
    files: list[str]  # created
    gitignore: Literal["created", "added", "present"]


def check_scaffold(scaffold: Scaffold) -> None:
    """Refuse a name or a Python version the files could not hold."""
    if not scaffold.name.strip() or _CONTROL.search(scaffold.name):
        raise UsageError(f"Invalid project name {scaffold.name!r}: give a non-empty name without control characters")
    if scaffold.environment not in ENVIRONMENTS:
        raise UsageError(f"Unknown environment {scaffold.environment!r}", hint=f"choose {' or '.join(ENVIRONMENTS)}")
    if not _VERSION.match(scaffold.python):
        raise UsageError(f"Invalid Python version {scaffold.python!r}", hint="give a version such as 3.11 or 3.11.7")


def write_scaffold(folder: Path, scaffold: Scaffold) -> Written:
    """Write the scaffold into `folder` (created if missing); UsageError, and nothing written,
    when any of its files is already there."""
    check_scaffold(scaffold)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder")
    files = scaffold.files()
    present = sorted(name for name in files if (folder / name).exists() or (folder / name).is_symlink())
    if present:
        raise UsageError(f"{folder} already has {', '.join(present)}: proj init never overwrites a file",
                         hint="run it in an empty folder, or move those files aside")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    try:
        for name, text in files.items():
            _create(folder / name, text)
            written.append(name)
    except BaseException:
        for name in written:  # all or nothing
            (folder / name).unlink()
        raise
    return Written(written, _ignore_store(folder / ".gitignore"))


def _create(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)  # never over a file
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _ignore_store(path: Path) -> Literal["created", "added", "present"]:
    """`.proj/` in .gitignore: a new file, a line added at its end, or already there."""
    if not path.exists():
        _create(path, f"# proj's local tracking store\n{STORE_IGNORE}\n")
        return "created"
    text = path.read_text(encoding="utf-8", errors="replace")
    if any(line.strip().rstrip("/") in (".proj", "/.proj") for line in text.splitlines()):
        return "present"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(("" if not text or text.endswith("\n") else "\n") + f"{STORE_IGNORE}\n")
    return "added"


MLPROJECT = """\
name: {name}

{environment}

entry_points:
  main:
    parameters:
      alpha: {{type: float, default: 0.5}}
      epochs: {{type: int, default: 10}}
    command: "python train.py --alpha {{alpha}} --epochs {{epochs}}"
"""

PYTHON_ENV = """\
# The environment proj builds for this project with uv. Add the packages train.py needs under
# dependencies (pip requirement strings, or -r requirements.txt).
python: {python}
dependencies: []
"""

CONDA_ENV = """\
# The environment proj builds for this project with rattler (no conda needed).
name: {name}
channels:
  - conda-forge
dependencies:
  - python={python}
"""

TRAIN_PY = '''\
"""A stand-in for training: replace the loop with your own.

proj passes the entry point's parameters (see MLproject) as options, and gives each run a
folder, $PROJ_OUTPUT_DIR: its metrics.jsonl holds the run's metrics and its other files are
the run's artifacts. With proj installed in this environment, runner.log_metric writes the
same lines; run without proj, the script only prints.
"""

import argparse
import json
import os
import time


def log_metric(key, value, step=None):
    folder = os.environ.get("PROJ_OUTPUT_DIR")
    if folder:
        line = {"key": key, "value": value, "timestamp": time.time()}
        if step is not None:
            line["step"] = step
        with open(os.path.join(folder, "metrics.jsonl"), "a") as metrics:
            metrics.write(json.dumps(line) + "\\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=0.5, help="how fast the loss falls")
    parser.add_argument("--epochs", type=int, default=10)
    options = parser.parse_args()
    loss = 1.0
    for epoch in range(options.epochs):
        loss *= 1 - options.alpha / 10
        log_metric("loss", loss, step=epoch)
    print(f"loss after {options.epochs} epochs: {loss:.4f}")


if __name__ == "__main__":
    main()
'''
