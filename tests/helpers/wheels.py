"""Tiny Python packages made inside a test, so uv and pip install real wheels with no network.

A wheel is a zip holding the package's files plus a .dist-info folder with METADATA, WHEEL and
RECORD; that is all an installer needs. `offline_index_env` points uv and pip at a folder of
them and nowhere else.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import textwrap
import zipfile
from pathlib import Path


def build_wheel(folder: Path, name: str, version: str, files: dict[str, str], *,
                requires: tuple[str, ...] = (), scripts: dict[str, str] | None = None) -> Path:
    """Write `<name>-<version>-py3-none-any.whl` into `folder`; `scripts` are console scripts."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    contents = dict(files)
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    contents[f"{info}/METADATA"] = "\n".join(metadata + [f"Requires-Dist: {r}" for r in requires]) + "\n"
    contents[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: proj-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if scripts:
        contents[f"{info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{command} = {target}\n" for command, target in scripts.items())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in contents.items():
            data = text.encode()
            archive.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def build_greeting_packages(folder: Path, *, dep_versions: tuple[str, ...] = ("1.0",)) -> Path:
    """`tinygreet` (a console script of the same name) depending on `tinydep`."""
    for version in dep_versions:
        build_wheel(folder, "tinydep", version, {"tinydep/__init__.py": f"VALUE = 'tinydep {version}'\n"})
    greet = textwrap.dedent("""\
        import sys
        import tinydep


        def main():
            print("hello", " ".join(sys.argv[1:]) or "world", "from", tinydep.VALUE)
        """)
    build_wheel(folder, "tinygreet", "1.0", {"tinygreet/__init__.py": greet}, requires=("tinydep",),
                scripts={"tinygreet": "tinygreet:main"})
    return folder


def add_embedded_pip(folder: Path) -> Path:
    """Copy the pip wheel that virtualenv carries, for specs that ask for pip."""
    import virtualenv

    embedded = Path(virtualenv.__file__).parent / "seed" / "wheels" / "embed"
    newest = max(embedded.glob("pip-*.whl"))
    return Path(shutil.copy(newest, folder))


def build_slow_sdist(folder: Path, name: str = "slowpkg") -> Path:
    """An sdist whose in-tree build backend creates the file $SLOW_BUILD_MARKER, then sleeps for
    $SLOW_BUILD_SECONDS (giving up early when its parent dies): a test can kill proj in the
    middle of a build."""
    backend = textwrap.dedent(f"""\
        import os, time, zipfile

        def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
            if os.environ.get("SLOW_BUILD_MARKER"):
                open(os.environ["SLOW_BUILD_MARKER"], "w").close()
            parent = os.getppid()
            deadline = time.monotonic() + float(os.environ.get("SLOW_BUILD_SECONDS", "0"))
            while time.monotonic() < deadline and os.getppid() == parent:
                time.sleep(0.1)
            name = "{name}-1.0-py3-none-any.whl"
            info = "{name}-1.0.dist-info"
            with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
                archive.writestr("{name}.py", "DONE = True\\n")
                archive.writestr(info + "/METADATA", "Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n")
                archive.writestr(info + "/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
                archive.writestr(info + "/RECORD", "")
            return name

        def build_sdist(sdist_directory, config_settings=None):
            raise NotImplementedError
        """)
    pyproject = textwrap.dedent(f"""\
        [build-system]
        requires = []
        build-backend = "slow_backend"
        backend-path = ["."]

        [project]
        name = "{name}"
        version = "1.0"
        """)
    source = folder / f"{name}-1.0"
    source.mkdir(parents=True, exist_ok=True)
    (source / "slow_backend.py").write_text(backend)
    (source / "pyproject.toml").write_text(pyproject)
    (source / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    archive = shutil.make_archive(str(folder / f"{name}-1.0"), "gztar", folder, source.name)
    shutil.rmtree(source)
    return Path(archive)


def offline_index_env(wheelhouse: Path, config_dir: Path) -> dict[str, str]:
    """Environment variables that make uv and pip install from `wheelhouse` only."""
    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "uv.toml"
    # uv has no environment variable for --no-index; a config file says it.
    config.write_text(f'no-index = true\nfind-links = ["{wheelhouse}"]\n')
    return {"UV_CONFIG_FILE": str(config), "UV_FIND_LINKS": str(wheelhouse),
            "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)}


# Variables that would point an installer at some other index; tests remove them.
OTHER_INDEX_VARIABLES = ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL",
                         "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
