"""The `pip:` list of a conda environment: installed by uv into the environment's own Python.

uv installs the list the way pip would inside the environment, keeping Python packages that
conda already installed when they satisfy it. To lock what it added, the new distributions are
looked up again with `uv pip compile --no-deps` (pylock.toml output carries each file's URL and
sha256), and the wheel whose tags match the installed one is the locked file. A locked pip list
installs by URL with `--require-hashes`, so uv checks every hash.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from runner.environments.condalock import LockedPackage
from runner.errors import EnvironmentSetupError
from runner.locations import cache_dir
from runner.process import ToolError, run_tool

OnLine = Callable[[str], None]
# Lines of a pip list that configure where packages come from (kept for the lookup step).
_SOURCE_OPTION = re.compile(r"^(--index-url|-i|--extra-index-url|--find-links|-f|--no-index)\b")


def install_requirements(python: Path, lines: Iterable[str], cwd: Path,
                         on_line: OnLine | None) -> tuple[LockedPackage, ...]:
    """Install the pip list; return lock entries for the distributions it installed or changed."""
    lines = list(lines)
    site = site_packages(python)
    before = installed_distributions(site)
    with tempfile.TemporaryDirectory(prefix="proj-conda-pip-") as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text("\n".join(lines) + "\n")
        _uv(["pip", "install", "--python", str(python), "-r", str(requirements)], cwd, on_line)
        added = {name: version for name, version in installed_distributions(site).items()
                 if before.get(name) != version}
        if not added:
            return ()
        return _lock_entries(python, site, added, [x for x in lines if _SOURCE_OPTION.match(x)],
                             Path(folder), cwd, on_line)


def install_locked(python: Path, packages: Iterable[LockedPackage], cwd: Path,
                   on_line: OnLine | None) -> None:
    """Install exactly the locked distributions, by URL, with their hashes checked by uv."""
    packages = list(packages)
    hashed = all(p.sha256 for p in packages)
    lines = [f"{p.name} @ {p.url}" + (f" --hash=sha256:{p.sha256}" if hashed else "")
             for p in packages]
    with tempfile.TemporaryDirectory(prefix="proj-conda-pip-") as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text("\n".join(lines) + "\n")
        argv = ["pip", "install", "--python", str(python), "--no-deps", "-r", str(requirements)]
        _uv(argv + (["--require-hashes"] if hashed else []), cwd, on_line)


def site_packages(python: Path) -> Path:
    prefix = python.parent.parent
    found = sorted(prefix.glob("lib/python*/site-packages"))
    if not found:
        raise EnvironmentSetupError(f"The environment's Python has no site-packages under {prefix}/lib")
    return found[-1]


def installed_distributions(site: Path) -> dict[str, str]:
    """Normalised name → version of every distribution installed in `site`."""
    return {name: version for name, (version, _info) in _dist_infos(site).items()}


def _dist_infos(site: Path) -> dict[str, tuple[str, Path]]:
    found = {}
    for info in site.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        if name:
            found[_normalise(name)] = (version, info)
    return found


def _lock_entries(python: Path, site: Path, added: dict[str, str], source_lines: list[str],
                  folder: Path, cwd: Path, on_line: OnLine | None) -> tuple[LockedPackage, ...]:
    entries, lookup = [], {}
    for name, version in sorted(added.items()):
        direct = _direct_url(site, name)
        if direct is not None:
            entries.append(LockedPackage("pip", name, version, direct[0], sha256=direct[1]))
        else:
            lookup[name] = version
    if lookup:
        wanted = folder / "locked.in"
        wanted.write_text("\n".join(source_lines + [f"{n}=={v}" for n, v in lookup.items()]) + "\n")
        pylock = folder / "pylock.toml"
        _uv(["pip", "compile", "--quiet", "--python", str(python), "--no-deps",
             "-o", str(pylock), str(wanted)], cwd, on_line)
        entries += _from_pylock(pylock, site, lookup)
    return tuple(sorted(entries, key=lambda e: e.name))


def _from_pylock(pylock: Path, site: Path, wanted: dict[str, str]) -> list[LockedPackage]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib

    data = tomllib.loads(pylock.read_text())
    entries = []
    for package in data.get("packages", []):
        name = _normalise(package["name"])
        if name not in wanted:
            continue
        chosen = _installed_file(package, site, name, pylock.parent)
        if chosen is None:
            raise EnvironmentSetupError(f"Cannot lock pip package {name} {wanted[name]}: uv found "
                                        "no file for it to record")
        url, sha256 = chosen
        entries.append(LockedPackage("pip", name, wanted[name], url, sha256=sha256))
    return entries


def _installed_file(package: dict[str, Any], site: Path, name: str, base: Path) -> tuple[str, str | None] | None:
    """The wheel uv installed (by its tags), else the sdist it was built from."""
    tags = _installed_tags(site, name)
    wheels = package.get("wheels") or []
    for wheel in wheels:
        location = _location(wheel, base)
        if tags & _file_tags(location):
            return location, (wheel.get("hashes") or {}).get("sha256")
    sdist = package.get("sdist")
    if sdist:
        return _location(sdist, base), (sdist.get("hashes") or {}).get("sha256")
    if wheels:
        return _location(wheels[0], base), (wheels[0].get("hashes") or {}).get("sha256")
    return None


def _installed_tags(site: Path, name: str) -> set[str]:
    wheel = _dist_infos(site).get(name, ("", site / "-"))[1] / "WHEEL"
    if not wheel.is_file():
        return set()
    return {line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines()
            if line.startswith("Tag:")}


def _file_tags(location: str) -> set[str]:
    """`x-1.0-py2.py3-none-any.whl` → {"py2-none-any", "py3-none-any"}."""
    stem = location.rsplit("/", 1)[-1].removesuffix(".whl")
    parts = stem.split("-")
    if len(parts) < 5:
        return set()
    pythons, abis, platforms = (part.split(".") for part in parts[-3:])
    return {f"{p}-{a}-{x}" for p in pythons for a in abis for x in platforms}


def _location(entry: dict[str, Any], base: Path) -> str:
    if "url" in entry:
        return str(entry["url"])
    return (base / str(entry["path"])).resolve().as_uri()


def _direct_url(site: Path, name: str) -> tuple[str, str | None] | None:
    """A distribution installed from a URL or path records it (PEP 610)."""
    path = _dist_infos(site).get(name, ("", site / "-"))[1] / "direct_url.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    hashes = (data.get("archive_info") or {}).get("hashes") or {}
    return data["url"], hashes.get("sha256")


def _uv(args: list[str], cwd: Path, on_line: OnLine | None) -> None:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # every command names its target Python itself
    env.setdefault("UV_CACHE_DIR", str(cache_dir("uv")))  # not ~/.cache, unless the user says so
    env["UV_NO_PROGRESS"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    argv = [_uv_executable(), *args]
    if on_line is not None:
        on_line("$ " + shlex.join(argv))
    try:
        run_tool(argv, cwd=cwd, env=env, on_line=on_line)
    except ToolError as err:
        raise EnvironmentSetupError(f"uv failed to install the pip packages of the conda "
                                    f"environment ({' '.join(args[:2])})", output=err.output) from err


def _uv_executable() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return "uv"  # on PATH, if at all; run_tool reports it when it is not


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
