"""Build real conda packages and a local conda channel for tests.

conda-forge is not reachable from the test machines, so every conda test
installs from a channel that the test builds itself, in a temporary folder.
The packages written here are ordinary conda packages: a ``.tar.bz2`` archive
(or a ``.conda`` archive when ``zstandard`` is importable) holding the payload
files plus an ``info/`` folder with ``index.json``, ``paths.json``, ``files``
and, when needed, ``has_prefix`` and ``link.json``.  Any conda installer
(rattler, conda, mamba) can install them.

Layout of a channel::

    channel_dir/
        noarch/repodata.json          written by :func:`index_channel`
        noarch/libgreet-1.0-0.tar.bz2
        linux-64/repodata.json
        linux-64/python-3.11.7-0_fixture.tar.bz2

Prefix placeholders
    A file whose content contains :data:`PREFIX_PLACEHOLDER` is recorded in
    ``paths.json`` with ``prefix_placeholder`` and ``file_mode`` (``text``, or
    ``binary`` when the content has a NUL byte).  The installer rewrites the
    placeholder to the real environment prefix, exactly as it does for packages
    built by conda-build.

Only the standard library is needed to build ``.tar.bz2`` packages.
:func:`index_channel` uses py-rattler's own indexer (``rattler.index.index_fs``)
and imports rattler lazily; :func:`write_repodata` is a dependency-free
fallback that writes the same ``repodata.json`` by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import platform as _platform
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "PREFIX_PLACEHOLDER",
    "BuiltPackage",
    "FixtureChannel",
    "build_fixture_channel",
    "build_package",
    "build_python_package",
    "current_subdir",
    "index_channel",
    "write_repodata",
]

#: The build prefix that packages in the fixture channel pretend to have been
#: built in.  255 characters long, like the placeholder of conda-build, so
#: that it is also usable in ``binary`` mode: there the installer can only
#: replace the placeholder by a prefix that is not longer than it.
PREFIX_PLACEHOLDER = ("/opt/proj-fixture-build/env" + "_placehold" * 30)[:255]

#: Fixed modification time of every archive member, so that the same inputs
#: always give byte-identical packages (and therefore the same sha256).
_MTIME = 1_700_000_000

#: The ``timestamp`` written to ``index.json`` (milliseconds since the epoch).
_TIMESTAMP_MS = _MTIME * 1000

Content = bytes | str


@dataclasses.dataclass(frozen=True)
class BuiltPackage:
    """A package archive written by :func:`build_package`."""

    path: Path  # the archive inside the channel, e.g. <channel>/noarch/x-1.0-0.tar.bz2
    name: str
    version: str
    build: str
    subdir: str
    sha256: str  # hex digest of the archive
    md5: str  # hex digest of the archive
    size: int  # bytes

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def dist_name(self) -> str:
        """``name-version-build``, the name conda uses for extracted packages."""
        return f"{self.name}-{self.version}-{self.build}"


def current_subdir() -> str:
    """The conda subdir of this machine, e.g. ``linux-64`` or ``osx-arm64``."""
    system = sys.platform
    machine = _platform.machine().lower()
    if system.startswith("linux"):
        arch = {
            "x86_64": "64",
            "amd64": "64",
            "aarch64": "aarch64",
            "arm64": "aarch64",
            "ppc64le": "ppc64le",
            "s390x": "s390x",
            "i686": "32",
        }.get(machine, machine)
        return f"linux-{arch}"
    if system == "darwin":
        return "osx-arm64" if machine == "arm64" else "osx-64"
    if system == "win32":
        return "win-arm64" if machine == "arm64" else "win-64"
    raise RuntimeError(f"no conda subdir known for {system}/{machine}")


def _subdir_arch_platform(subdir: str) -> tuple[str | None, str | None]:
    """The ``arch`` and ``platform`` fields of index.json for a subdir."""
    if subdir == "noarch":
        return None, None
    plat, _, arch = subdir.partition("-")
    arch = {"64": "x86_64", "32": "x86"}.get(arch, arch)
    return arch, plat


def _as_bytes(content: Content) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else bytes(content)


def _json_bytes(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _tar_add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = _MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _tar_add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    info.mtime = _MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info)


def _check_relpath(path: str) -> str:
    norm = path.replace("\\", "/")
    if not norm or norm.startswith(("/", "info/")) or ".." in norm.split("/"):
        raise ValueError(f"not a valid path inside a conda package: {path!r}")
    return norm


def build_package(
    channel_dir: str | os.PathLike[str],
    name: str,
    version: str,
    *,
    build: str = "0",
    build_number: int = 0,
    depends: Iterable[str] = (),
    constrains: Iterable[str] = (),
    files: Mapping[str, Content] | None = None,
    executables: Iterable[str] | None = None,
    symlinks: Mapping[str, str] | None = None,
    prefix_placeholder_files: Iterable[str] = (),
    subdir: str = "noarch",
    noarch: str | None = None,
    entry_points: Iterable[str] = (),
    license: str = "MIT",
    archive_format: str = "tar.bz2",
    extra_index: Mapping[str, object] | None = None,
) -> BuiltPackage:
    """Write one conda package into ``<channel_dir>/<subdir>/``.

    Arguments:
        channel_dir: root of the channel; the subdir folder is created.
        name, version, build, build_number: the package identity.  The file
            is named ``{name}-{version}-{build}.{archive_format}``.
        depends, constrains: match specs, as in ``index.json``.
        files: payload, relative path inside the prefix -> content.  ``str``
            content is written as UTF-8.  A file that contains
            :data:`PREFIX_PLACEHOLDER` is recorded with a prefix placeholder
            (file mode ``binary`` when it contains a NUL byte, else ``text``),
            so the installer rewrites it to the environment's prefix.
        executables: paths (keys of ``files``) written with mode 0755.  When
            omitted, every file under ``bin/`` is executable.
        symlinks: relative path -> link target (usually relative, e.g.
            ``{"bin/python": "python3.11"}``), recorded as ``softlink``;
            conda packages may hold symlinks and rattler recreates them.
        prefix_placeholder_files: paths that MUST contain the placeholder; a
            ``ValueError`` is raised if one does not (catches fixture typos).
        subdir: ``noarch`` (default) or a platform such as ``linux-64``.
        noarch: ``"generic"`` (default for subdir ``noarch``) or ``"python"``.
            A ``noarch: python`` package puts modules under ``site-packages/``
            and scripts under ``python-scripts/``; the installer moves them to
            the environment's Python (so the environment must contain a
            ``python`` package).
        entry_points: for ``noarch: python`` only, console scripts such as
            ``"greet-py = greetpy:main"``; the installer writes ``bin/greet-py``.
        archive_format: ``"tar.bz2"`` or ``"conda"`` (needs ``zstandard``).
        extra_index: extra keys merged into ``index.json``.

    Returns the :class:`BuiltPackage` with the archive's path and hashes.
    """
    files = {_check_relpath(p): _as_bytes(c) for p, c in (files or {}).items()}
    symlinks = {_check_relpath(p): t for p, t in (symlinks or {}).items()}
    if set(files) & set(symlinks):
        raise ValueError(
            f"paths given both as file and symlink: {sorted(set(files) & set(symlinks))}"
        )
    if executables is None:
        exec_set = {p for p in files if p.startswith("bin/")}
    else:
        exec_set = {_check_relpath(p) for p in executables}
        missing = exec_set - set(files)
        if missing:
            raise ValueError(f"executables not among files: {sorted(missing)}")
    placeholder_bytes = PREFIX_PLACEHOLDER.encode()
    for path in prefix_placeholder_files:
        if placeholder_bytes not in files.get(_check_relpath(path), b""):
            raise ValueError(f"{path} does not contain PREFIX_PLACEHOLDER")
    if noarch is None and subdir == "noarch":
        noarch = "generic"
    if noarch is not None and subdir != "noarch":
        raise ValueError("noarch packages must go to subdir 'noarch'")
    if noarch not in (None, "generic", "python"):
        raise ValueError(f"unknown noarch type {noarch!r}")
    entry_points = list(entry_points)
    if entry_points and noarch != "python":
        raise ValueError("entry_points are only supported for noarch: python packages")
    if archive_format not in ("tar.bz2", "conda"):
        raise ValueError(f"unknown archive format {archive_format!r}")

    constrains = list(constrains)
    arch, plat = _subdir_arch_platform(subdir)
    index: dict[str, object] = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": build_number,
        "depends": list(depends),
        "license": license,
        "subdir": subdir,
        "timestamp": _TIMESTAMP_MS,
        "arch": arch,
        "platform": plat,
    }
    if constrains:
        index["constrains"] = constrains
    if noarch is not None:
        index["noarch"] = noarch
    index.update(extra_index or {})

    # paths.json: one entry per payload file, sorted like conda-build does.
    paths: list[dict[str, object]] = []
    has_prefix_lines: list[str] = []
    for path in sorted(set(files) | set(symlinks)):
        if path in symlinks:
            # The sha256/size of a softlink are those of the link text itself.
            target = symlinks[path].encode()
            paths.append(
                {
                    "_path": path,
                    "path_type": "softlink",
                    "sha256": hashlib.sha256(target).hexdigest(),
                    "size_in_bytes": len(target),
                }
            )
            continue
        data = files[path]
        entry: dict[str, object] = {
            "_path": path,
            "path_type": "hardlink",
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_in_bytes": len(data),
        }
        if placeholder_bytes in data:
            mode = "binary" if b"\x00" in data else "text"
            entry["file_mode"] = mode
            entry["prefix_placeholder"] = PREFIX_PLACEHOLDER
            has_prefix_lines.append(f"{PREFIX_PLACEHOLDER} {mode} {path}")
        paths.append(entry)

    info: dict[str, bytes] = {
        "info/index.json": _json_bytes(index),
        "info/paths.json": _json_bytes({"paths": paths, "paths_version": 1}),
        "info/files": ("".join(f"{p}\n" for p in sorted(set(files) | set(symlinks)))).encode(),
        "info/about.json": _json_bytes(
            {"summary": f"{name} (test fixture package)", "license": license}
        ),
    }
    if has_prefix_lines:
        info["info/has_prefix"] = ("\n".join(has_prefix_lines) + "\n").encode()
    if noarch == "python":
        link: dict[str, object] = {"type": "python"}
        if entry_points:
            link["entry_points"] = entry_points
        info["info/link.json"] = _json_bytes({"noarch": link, "package_metadata_version": 1})

    def write_members(tar: tarfile.TarFile, *, with_info: bool, with_payload: bool) -> None:
        if with_payload:
            for path in sorted(set(files) | set(symlinks)):
                if path in symlinks:
                    _tar_add_symlink(tar, path, symlinks[path])
                else:
                    _tar_add_file(tar, path, files[path], 0o755 if path in exec_set else 0o644)
        if with_info:
            for path in sorted(info):
                _tar_add_file(tar, path, info[path], 0o644)

    out_dir = Path(channel_dir) / subdir
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{version}-{build}"
    target = out_dir / f"{stem}.{archive_format}"
    tmp = target.with_name(target.name + ".part")
    if archive_format == "tar.bz2":
        with tarfile.open(tmp, "w:bz2", format=tarfile.PAX_FORMAT) as tar:
            write_members(tar, with_info=True, with_payload=True)
    else:
        try:
            import zstandard
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise RuntimeError("building .conda packages needs the 'zstandard' module") from exc

        def zst_tar(*, with_info: bool, with_payload: bool) -> bytes:
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                write_members(tar, with_info=with_info, with_payload=with_payload)
            return zstandard.ZstdCompressor(level=3).compress(raw.getvalue())

        # A .conda file is an uncompressed zip of metadata.json plus two
        # zstd-compressed tarballs, one for info/ and one for the payload.
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for member, data in (
                ("metadata.json", json.dumps({"conda_pkg_format_version": 2}).encode()),
                (f"pkg-{stem}.tar.zst", zst_tar(with_info=False, with_payload=True)),
                (f"info-{stem}.tar.zst", zst_tar(with_info=True, with_payload=False)),
            ):
                zinfo = zipfile.ZipInfo(member, date_time=(2023, 11, 14, 22, 13, 20))
                zf.writestr(zinfo, data)
    os.replace(tmp, target)

    blob = target.read_bytes()
    return BuiltPackage(
        path=target,
        name=name,
        version=version,
        build=build,
        subdir=subdir,
        sha256=hashlib.sha256(blob).hexdigest(),
        md5=hashlib.md5(blob).hexdigest(),
        size=len(blob),
    )


def _ensure_subdirs(channel_dir: Path, subdirs: Iterable[str]) -> None:
    for sub in {"noarch", *subdirs}:
        (channel_dir / sub).mkdir(parents=True, exist_ok=True)


def index_channel(
    channel_dir: str | os.PathLike[str], *, subdirs: Iterable[str] | None = None
) -> None:
    """Write ``repodata.json`` for every subdir of the channel with rattler's indexer.

    ``noarch`` and the current platform's subdir are always created (possibly
    empty).  rattler itself only requires ``noarch/repodata.json`` and skips a
    missing platform subdir, but other clients expect both.  Only plain ``repodata.json`` is
    written (no ``.zst``, no shards), and every subdir is re-indexed, so the
    function can be called again after adding packages.
    """
    import asyncio

    from rattler.index import index_fs

    channel = Path(channel_dir)
    _ensure_subdirs(channel, subdirs if subdirs is not None else [current_subdir()])
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))


def write_repodata(
    channel_dir: str | os.PathLike[str], *, subdirs: Iterable[str] | None = None
) -> None:
    """Fallback indexer that needs no rattler: ``repodata.json`` from the archives' ``index.json``.

    Produces the fields a solver needs (everything from ``index.json`` plus
    ``sha256``, ``md5`` and ``size``) under ``packages`` (``.tar.bz2``) and
    ``packages.conda`` (``.conda``).
    """
    channel = Path(channel_dir)
    _ensure_subdirs(channel, subdirs if subdirs is not None else [current_subdir()])
    for sub_dir in sorted(p for p in channel.iterdir() if p.is_dir()):
        repodata: dict[str, object] = {
            "info": {"subdir": sub_dir.name},
            "packages": {},
            "packages.conda": {},
            "removed": [],
            "repodata_version": 1,
        }
        for archive in sorted(sub_dir.iterdir()):
            if archive.name.endswith(".tar.bz2"):
                key = "packages"
                with tarfile.open(archive, "r:bz2") as tar:
                    member = tar.extractfile("info/index.json")
                    assert member is not None
                    record = json.load(member)
            elif archive.name.endswith(".conda"):
                key = "packages.conda"
                import zstandard

                with zipfile.ZipFile(archive) as zf:
                    info_name = next(n for n in zf.namelist() if n.startswith("info-"))
                    raw = (
                        zstandard.ZstdDecompressor().decompressobj().decompress(zf.read(info_name))
                    )
                with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                    member = tar.extractfile("info/index.json")
                    assert member is not None
                    record = json.load(member)
            else:
                continue
            blob = archive.read_bytes()
            record.update(
                sha256=hashlib.sha256(blob).hexdigest(),
                md5=hashlib.md5(blob).hexdigest(),
                size=len(blob),
            )
            repodata[key][archive.name] = record  # type: ignore[index]
        (sub_dir / "repodata.json").write_text(
            json.dumps(repodata, indent=2, sort_keys=True) + "\n"
        )


# ---------------------------------------------------------------------------
# A Python interpreter packaged as a conda package
# ---------------------------------------------------------------------------


def _probe_interpreter(exe: Path) -> dict[str, str]:
    """Ask an interpreter about its version and layout (runs it once, ~20 ms)."""
    import subprocess

    code = (
        "import json, sys, sysconfig\n"
        "print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3],"
        " 'xy': '%d.%d' % sys.version_info[:2],"
        " 'base_prefix': sys.base_prefix,"
        " 'stdlib': sysconfig.get_path('stdlib'),"
        " 'scheme': sysconfig.get_default_scheme(),"
        " 'shared': str(sysconfig.get_config_var('Py_ENABLE_SHARED') or 0),"
        " 'ldlibrary': sysconfig.get_config_var('INSTSONAME') or '',"
        " 'libdir': sysconfig.get_config_var('LIBDIR') or ''}))\n"
    )
    out = subprocess.run([str(exe), "-I", "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


#: Standard-library folders left out of a ``layout="full"`` python package:
#: not needed to run a project or install wheels, and they double the size.
_STDLIB_SKIP = {
    "site-packages",
    "dist-packages",
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "__pycache__",
    "lib2to3",
    "EXTERNALLY-MANAGED",
}


def build_python_package(
    channel_dir: str | os.PathLike[str],
    *,
    base_executable: str | os.PathLike[str] | None = None,
    version: str | None = None,
    build: str = "0_fixture",
    subdir: str | None = None,
    layout: str = "venv",
    archive_format: str = "tar.bz2",
) -> BuiltPackage:
    """Package an interpreter of this machine as a conda package named ``python``.

    Installed into a prefix, ``<prefix>/bin/python`` is a working interpreter
    whose ``sys.prefix`` is the prefix and whose site-packages is
    ``<prefix>/lib/pythonX.Y/site-packages``: ``uv pip install --python
    <prefix>/bin/python ...`` installs there, and the installer puts
    ``noarch: python`` packages there too.

    Layouts:

    ``"venv"`` (default, ~5 KB to 2.5 MB, built in well under a second)
        a copy of the interpreter executable, a ``pyvenv.cfg`` whose ``home``
        is the base installation, ``bin/python`` and ``bin/python3`` links and
        an empty site-packages.  The prefix is a virtual environment: the
        standard library is read from the base installation (so the package
        only works on a machine that has it, which is all a test needs), and
        ``sys.base_prefix`` is that installation.  Works with both the pyenv
        interpreters (shared libpython, found through their absolute RUNPATH)
        and Debian's ``/usr/bin/python3.11`` (libpython linked in statically).
    ``"full"`` (~50 MB, ~1 s as ``.conda``, ~4 s as ``.tar.bz2``)
        the executable, libpython (when the interpreter uses a shared one) and
        the standard library without tests/tkinter/idlelib/ensurepip, like a
        real conda python: ``sys.base_prefix == sys.prefix``.  Note that the
        copied executable still loads libpython through its original absolute
        RUNPATH when that exists.  Not possible with Debian's interpreter,
        whose patched ``sysconfig`` installs into ``<prefix>/local/lib/
        python3.X/dist-packages`` (the ``posix_local`` scheme) and whose stdlib
        is marked EXTERNALLY-MANAGED; a ``ValueError`` says so.

    Arguments:
        base_executable: the interpreter to package; defaults to the base
            interpreter of the running Python (``sys._base_executable``,
            symlinks resolved, so running inside a venv works too).
        version: conda version; defaults to the interpreter's ``X.Y.Z``, so
            that ``python=X.Y`` specs match.
        build, subdir, archive_format: as for :func:`build_package`
            (``subdir`` defaults to :func:`current_subdir`).
    """
    exe = Path(base_executable or getattr(sys, "_base_executable", sys.executable)).resolve()
    info = _probe_interpreter(exe)
    xy = info["xy"]
    site = f"lib/python{xy}/site-packages"
    files: dict[str, Content] = {f"bin/python{xy}": exe.read_bytes()}
    executables = [f"bin/python{xy}"]
    if layout == "venv":
        # The keys `python -m venv` writes.  `home` is where the interpreter
        # looks for its standard library (home/../lib/pythonX.Y).
        files["pyvenv.cfg"] = (
            f"home = {exe.parent}\n"
            "include-system-site-packages = false\n"
            f"version = {info['version']}\n"
            f"executable = {exe}\n"
        )
    elif layout == "full":
        if info["scheme"] != "posix_prefix":
            raise ValueError(
                f"{exe} installs with the {info['scheme']!r} sysconfig scheme (a distribution's "
                "patched Python); a full copy would not install into <prefix>/lib/pythonX.Y/"
                "site-packages. Use layout='venv' or a pyenv/python.org interpreter."
            )
        stdlib = Path(info["stdlib"])
        for path in sorted(stdlib.rglob("*")):
            rel = path.relative_to(stdlib)
            if (
                _STDLIB_SKIP & set(rel.parts)
                or path.suffix in (".pyc", ".pyo")
                or not path.is_file()
            ):
                continue
            if rel.parts[0].startswith("config-"):
                continue  # static library and Makefile for building extensions
            if path.is_symlink():
                continue
            files[f"lib/python{xy}/{rel.as_posix()}"] = path.read_bytes()
            if os.access(path, os.X_OK):
                executables.append(f"lib/python{xy}/{rel.as_posix()}")
        if info["shared"] == "1" and info["ldlibrary"]:
            lib = Path(info["libdir"]) / info["ldlibrary"]
            files[f"lib/{lib.name}"] = lib.read_bytes()
            executables.append(f"lib/{lib.name}")
    else:
        raise ValueError(f"unknown layout {layout!r}; expected 'venv' or 'full'")
    # A file keeps site-packages in the package (conda packages hold files,
    # not empty folders).
    files[f"{site}/README.proj-fixture"] = "site-packages of a proj test environment\n"
    return build_package(
        channel_dir,
        "python",
        version or info["version"],
        build=build,
        subdir=subdir or current_subdir(),
        files=files,
        executables=executables,
        symlinks={"bin/python": f"python{xy}", "bin/python3": f"python{xy}"},
        extra_index={"python_site_packages_path": site},
        archive_format=archive_format,
    )


# ---------------------------------------------------------------------------
# The standard fixture channel
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FixtureChannel:
    """What :func:`build_fixture_channel` built."""

    path: Path
    packages: dict[str, BuiltPackage]  # keyed by "name-version" (and "python")

    @property
    def url(self) -> str:
        """``file://`` URL of the channel (what goes into a conda.yaml ``channels:`` list)."""
        return self.path.resolve().as_uri()


def _greet_script(version: str) -> str:
    # The placeholder in PREFIX is rewritten at install time; `greet` then
    # reports the prefix it was installed into, and reads libgreet's data file.
    return (
        "#!/bin/sh\n"
        f'PREFIX="{PREFIX_PLACEHOLDER}"\n'
        'MESSAGE="$(cat "$PREFIX/share/libgreet/message.txt")"\n'
        f'echo "greet-tool {version}: $MESSAGE from $PREFIX"\n'
    )


def build_fixture_channel(
    channel_dir: str | os.PathLike[str],
    *,
    with_python: bool = False,
    python_layout: str = "venv",
    archive_format: str = "tar.bz2",
) -> FixtureChannel:
    """Build and index a small, realistic channel in ``channel_dir``.

    Packages (all ``noarch: generic`` unless said otherwise):

    ``libgreet 1.0``
        data file ``share/libgreet/message.txt`` (``hello``).
    ``greet-tool 1.0`` and ``greet-tool 2.0``
        depend on ``libgreet``; ship ``bin/greet``, an executable shell script
        whose ``PREFIX=`` line holds the prefix placeholder.  Running it prints
        ``greet-tool <version>: hello from <prefix>``.
    ``greet-env 1.0``
        ``etc/conda/activate.d/greet-env.sh`` exports ``GREET_ENV_ACTIVE=1``
        and ``GREET_HOME=<prefix>`` (placeholder rewritten), plus a matching
        ``deactivate.d`` script.
    ``conflict-a 1.0`` / ``conflict-b 1.0``
        ``conflict-a`` depends on ``libgreet >=2``, which does not exist;
        ``conflict-b`` depends on ``conflict-a`` and ``libgreet <1``: asking
        for ``conflict-a`` alone, or for ``conflict-b``, is unsatisfiable.
    ``clash-x 1.0`` / ``clash-y 1.0``
        ``clash-x`` constrains ``clash-y <1`` (``constrains``, not a
        dependency): installable alone, unsatisfiable together.
    ``python`` (only with ``with_python=True``; subdir of this machine)
        the running interpreter, see :func:`build_python_package`
        (``python_layout`` is passed on as its ``layout``).
    ``greetpy 1.0`` (only with ``with_python=True``; ``noarch: python``)
        module ``greetpy`` in site-packages and an entry point ``greet-py``
        that prints ``greetpy from <sys.prefix>``.
    ``pip 24.0`` (only with ``with_python=True``; ``noarch: python``)
        an empty stand-in so that specs listing ``pip`` solve.

    To let an unchanged MLproject ``conda.yaml`` that says ``channels:
    [conda-forge]`` resolve here, build into ``<root>/conda-forge`` and give
    rattler ``Channel("conda-forge", ChannelConfig(channel_alias=<root as
    file:// URL with trailing slash>))``.

    Every archive is deterministic (fixed mtimes), so building the channel
    twice gives identical sha256 hashes.  Takes ~0.1 s (``with_python``
    adds ~0.1 s for the pyenv interpreter, ~0.7 s for Debian's).
    """
    channel = Path(channel_dir)
    pkgs: dict[str, BuiltPackage] = {}

    def add(pkg: BuiltPackage) -> None:
        pkgs[f"{pkg.name}-{pkg.version}"] = pkg

    common = {"archive_format": archive_format}
    add(
        build_package(
            channel, "libgreet", "1.0", files={"share/libgreet/message.txt": "hello\n"}, **common
        )
    )
    for version in ("1.0", "2.0"):
        add(
            build_package(
                channel,
                "greet-tool",
                version,
                depends=["libgreet >=1.0"],
                files={"bin/greet": _greet_script(version)},
                prefix_placeholder_files=["bin/greet"],
                **common,
            )
        )
    add(
        build_package(
            channel,
            "greet-env",
            "1.0",
            files={
                "etc/conda/activate.d/greet-env.sh": (
                    f'export GREET_ENV_ACTIVE=1\nexport GREET_HOME="{PREFIX_PLACEHOLDER}"\n'
                ),
                "etc/conda/deactivate.d/greet-env.sh": "unset GREET_ENV_ACTIVE\nunset GREET_HOME\n",
            },
            **common,
        )
    )
    add(
        build_package(
            channel,
            "conflict-a",
            "1.0",
            depends=["libgreet >=2"],
            files={"share/conflict-a.txt": "a\n"},
            **common,
        )
    )
    add(
        build_package(
            channel,
            "conflict-b",
            "1.0",
            depends=["conflict-a", "libgreet <1"],
            files={"share/conflict-b.txt": "b\n"},
            **common,
        )
    )
    add(
        build_package(
            channel,
            "clash-x",
            "1.0",
            constrains=["clash-y <1"],
            files={"share/clash-x.txt": "x\n"},
            **common,
        )
    )
    add(build_package(channel, "clash-y", "1.0", files={"share/clash-y.txt": "y\n"}, **common))
    if with_python:
        py = build_python_package(channel, layout=python_layout, archive_format=archive_format)
        pkgs["python"] = py
        add(py)
        add(
            build_package(
                channel,
                "greetpy",
                "1.0",
                noarch="python",
                depends=["python"],
                files={
                    "site-packages/greetpy/__init__.py": (
                        "import sys\n\n\ndef main():\n    print('greetpy from', sys.prefix)\n"
                    )
                },
                entry_points=["greet-py = greetpy:main"],
                **common,
            )
        )
        # MLflow-style conda.yaml files list `pip` next to `python`; this
        # stand-in makes such specs solvable.  It holds no pip: install the
        # `pip:` section with `uv pip install --python <prefix>/bin/python`.
        add(
            build_package(
                channel,
                "pip",
                "24.0",
                noarch="python",
                depends=["python"],
                files={"site-packages/proj_fixture_pip_stub.txt": "stand-in for pip\n"},
                **common,
            )
        )
    index_channel(channel)
    return FixtureChannel(path=channel, packages=pkgs)
