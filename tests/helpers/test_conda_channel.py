"""The local conda channel fixture works end to end with py-rattler.

Every test builds its own channel under ``tmp_path`` and uses its own package
cache, so nothing is read from or written to ``~/.cache`` and no network is
used.  Skipped when py-rattler is missing, unless ``PROJ_REQUIRE`` names
``conda``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from .conda_channel import (
    PREFIX_PLACEHOLDER,
    build_fixture_channel,
    build_package,
    build_python_package,
    current_subdir,
    index_channel,
    write_repodata,
)

pytestmark = pytest.mark.conda


def _require(module: str):
    """Import ``module``, or skip (fail when PROJ_REQUIRE names conda)."""
    required = "conda" in {s.strip() for s in os.environ.get("PROJ_REQUIRE", "").split(",")}
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        if required:
            pytest.fail(f"PROJ_REQUIRE names conda but {module} cannot be imported: {exc}")
        pytest.skip(f"{module} is not installed")


rattler = _require("rattler")


def _solve(channel: str | Path, specs: list[str], tmp_path: Path):
    """Solve ``specs`` against one channel for this machine's subdir + noarch."""
    gateway = rattler.Gateway(cache_dir=tmp_path / "repodata-cache")
    specs = [rattler.MatchSpec(s) for s in specs]  # lenient parsing, like conda
    return asyncio.run(rattler.solve([str(channel)], specs, gateway=gateway))


def _install(records, prefix: Path, tmp_path: Path) -> None:
    asyncio.run(rattler.install(records, prefix, cache_dir=tmp_path / "pkgs", show_progress=False))


def _run(*cmd: str | Path) -> str:
    """Run a program, fail the test on a non-zero exit, return its stdout."""
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=True).stdout


def _names(records) -> dict[str, str]:
    return {r.name.normalized: str(r.version) for r in records}


@pytest.fixture
def channel(tmp_path: Path):
    return build_fixture_channel(tmp_path / "channel")


# --------------------------------------------------------------------------- package format


def test_package_metadata_is_readable_by_rattler(tmp_path: Path) -> None:
    script = f'#!/bin/sh\necho "{PREFIX_PLACEHOLDER}"\n'
    pkg = build_package(
        tmp_path / "ch",
        "demo",
        "1.2.3",
        build="py_1",
        depends=["libgreet >=1"],
        files={"bin/demo": script, "share/demo/data.txt": b"plain\n"},
        prefix_placeholder_files=["bin/demo"],
    )
    assert pkg.path == tmp_path / "ch" / "noarch" / "demo-1.2.3-py_1.tar.bz2"
    assert pkg.sha256 == hashlib.sha256(pkg.path.read_bytes()).hexdigest()

    index = rattler.IndexJson.from_package_archive(pkg.path)
    assert (index.name.normalized, str(index.version), str(index.build)) == (
        "demo",
        "1.2.3",
        "py_1",
    )
    assert index.depends == ["libgreet >=1"]
    assert index.subdir == "noarch"

    entries = {
        str(e.relative_path): e for e in rattler.PathsJson.from_package_archive(pkg.path).paths
    }
    assert set(entries) == {"bin/demo", "share/demo/data.txt"}
    demo = entries["bin/demo"]
    assert demo.prefix_placeholder is not None
    assert demo.prefix_placeholder.placeholder == PREFIX_PLACEHOLDER
    assert demo.prefix_placeholder.file_mode.text
    assert demo.sha256 == hashlib.sha256(script.encode()).digest()
    assert demo.size_in_bytes == len(script.encode())
    assert entries["share/demo/data.txt"].prefix_placeholder is None

    with tarfile.open(pkg.path) as tar:
        assert tar.getmember("bin/demo").mode == 0o755
        assert tar.getmember("share/demo/data.txt").mode == 0o644
        has_prefix = tar.extractfile("info/has_prefix").read().decode()
        assert has_prefix == f"{PREFIX_PLACEHOLDER} text bin/demo\n"
        assert tar.extractfile("info/files").read().decode() == "bin/demo\nshare/demo/data.txt\n"


def test_packages_are_deterministic(tmp_path: Path) -> None:
    a = build_package(tmp_path / "a", "same", "1.0", files={"x.txt": "x"})
    b = build_package(tmp_path / "b", "same", "1.0", files={"x.txt": "x"})
    assert a.sha256 == b.sha256


def test_missing_placeholder_is_a_fixture_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PREFIX_PLACEHOLDER"):
        build_package(
            tmp_path,
            "bad",
            "1.0",
            files={"bin/x": "#!/bin/sh\n"},
            prefix_placeholder_files=["bin/x"],
        )


def test_index_writes_repodata_with_hashes(channel) -> None:
    repodata = json.loads((channel.path / "noarch" / "repodata.json").read_text())
    record = repodata["packages"]["greet-tool-2.0-0.tar.bz2"]
    built = channel.packages["greet-tool-2.0"]
    assert record["sha256"] == built.sha256
    assert record["md5"] == built.md5
    assert record["size"] == built.size
    assert record["depends"] == ["libgreet >=1.0"]
    assert (channel.path / current_subdir() / "repodata.json").is_file()


# --------------------------------------------------------------------------- solve and install


@pytest.mark.parametrize("how", ["file-url", "plain-path"])
def test_solve_and_install(channel, tmp_path: Path, how: str) -> None:
    source = channel.url if how == "file-url" else str(channel.path)
    records = _solve(source, ["greet-tool"], tmp_path)
    assert _names(records) == {"greet-tool": "2.0", "libgreet": "1.0"}
    assert all(r.url.startswith(channel.url) for r in records)
    assert all(r.sha256 is not None and r.md5 is not None for r in records)

    prefix = tmp_path / "env"
    _install(records, prefix, tmp_path)

    # (a) the dependency is installed, with its conda-meta record
    assert (prefix / "share" / "libgreet" / "message.txt").read_text() == "hello\n"
    meta = sorted(p.name for p in (prefix / "conda-meta").glob("*.json"))
    assert meta == ["greet-tool-2.0-0.json", "libgreet-1.0-0.json"]
    # (b) the prefix placeholder was rewritten to the real prefix
    greet = prefix / "bin" / "greet"
    text = greet.read_text()
    assert PREFIX_PLACEHOLDER not in text
    assert f'PREFIX="{prefix}"' in text
    # (c) the executable bit survived and the script runs
    assert greet.stat().st_mode & stat.S_IXUSR
    out = _run(greet)
    assert out == f"greet-tool 2.0: hello from {prefix}\n"


def test_activation_script_is_installed(channel, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    _install(_solve(channel.path, ["greet-env"], tmp_path), prefix, tmp_path)
    script = prefix / "etc" / "conda" / "activate.d" / "greet-env.sh"
    assert script.is_file()
    assert (prefix / "etc" / "conda" / "deactivate.d" / "greet-env.sh").is_file()

    # rattler's own activation sources activate.d/*.sh
    from rattler.shell import ActivationVariables, Shell, activate

    activation = activate(prefix, ActivationVariables(None, ["/usr/bin", "/bin"]), Shell.bash)
    assert f". {script}" in activation.script
    out = _run(
        "bash", "-c", activation.script + '\necho "$GREET_ENV_ACTIVE|$GREET_HOME|$CONDA_PREFIX"'
    )
    assert out == f"1|{prefix}|{prefix}\n"


def test_pinned_version_wins(channel, tmp_path: Path) -> None:
    for spec in ("greet-tool=1.0", "greet-tool==1.0", "greet-tool 1.0", "greet-tool <2"):
        assert _names(_solve(channel.path, [spec], tmp_path))["greet-tool"] == "1.0", spec
    prefix = tmp_path / "env"
    _install(_solve(channel.path, ["greet-tool=1.0"], tmp_path), prefix, tmp_path)
    out = _run(prefix / "bin" / "greet")
    assert out.startswith("greet-tool 1.0:")


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["conflict-a"], "libgreet >=2, for which no candidates were found"),
        (["conflict-b"], "libgreet <1, for which no candidates were found"),
        (["clash-x", "clash-y"], "clash-y <1"),
        (["no-such-package"], "No candidates were found for no-such-package"),
        (["greet-tool=1.0", "greet-tool=2.0"], "greet-tool"),
    ],
)
def test_unsatisfiable_raises_solver_error(channel, tmp_path: Path, specs, message) -> None:
    from rattler.exceptions import SolverError

    with pytest.raises(SolverError) as info:
        _solve(channel.path, specs, tmp_path)
    assert str(info.value).startswith("Cannot solve the request because of:")
    assert message in str(info.value)


def test_each_clash_package_alone_is_fine(channel, tmp_path: Path) -> None:
    assert _names(_solve(channel.path, ["clash-x"], tmp_path)) == {"clash-x": "1.0"}
    assert _names(_solve(channel.path, ["clash-y"], tmp_path)) == {"clash-y": "1.0"}


def test_conda_archive_format_and_binary_placeholder(tmp_path: Path) -> None:
    pytest.importorskip("zstandard")
    ch = build_fixture_channel(tmp_path / "ch", archive_format="conda")
    blob = b"\x7fELF\x00" + PREFIX_PLACEHOLDER.encode() + b"/lib\x00end\x00"
    build_package(ch.path, "binpkg", "1.0", files={"lib/blob.bin": blob}, archive_format="conda")
    index_channel(ch.path)
    records = _solve(ch.path, ["greet-tool", "binpkg"], tmp_path)
    assert {r.file_name for r in records} == {
        "greet-tool-2.0-0.conda",
        "libgreet-1.0-0.conda",
        "binpkg-1.0-0.conda",
    }
    prefix = tmp_path / "env"
    _install(records, prefix, tmp_path)
    data = (prefix / "lib" / "blob.bin").read_bytes()
    assert len(data) == len(blob)  # binary mode pads with NUL bytes
    assert data.startswith(b"\x7fELF\x00" + f"{prefix}/lib\x00".encode())
    out = _run(prefix / "bin" / "greet")
    assert out == f"greet-tool 2.0: hello from {prefix}\n"


def test_hand_written_repodata_solves_the_same(channel, tmp_path: Path) -> None:
    before = _names(_solve(channel.path, ["greet-tool", "greet-env"], tmp_path))
    write_repodata(channel.path)
    after = _names(_solve(channel.path, ["greet-tool", "greet-env"], tmp_path))
    assert before == after == {"greet-tool": "2.0", "libgreet": "1.0", "greet-env": "1.0"}


# ------------------------------------------------------------------- install without solving


def test_install_from_rattler_lock_file(channel, tmp_path: Path) -> None:
    records = _solve(channel.path, ["greet-tool=1.0"], tmp_path)
    platform = rattler.LockPlatform(current_subdir())
    lock = rattler.LockFile([platform])
    lock.set_channels("default", [rattler.LockChannel(channel.url)])
    for record in records:
        lock.add_conda_package("default", platform, record)
    lock.to_path(tmp_path / "env.lock")

    back = rattler.LockFile.from_path(tmp_path / "env.lock").default_environment()
    # Use the platform object that comes from the lock file: a fresh
    # LockPlatform here makes rattler panic.
    (platform,) = [p for p in back.platforms() if p.name == current_subdir()]
    locked = back.conda_repodata_records_for_platform(platform)
    assert sorted(str(r) for r in locked) == sorted(str(r) for r in records)
    prefix = tmp_path / "env"
    _install(locked, prefix, tmp_path)
    assert (prefix / "bin" / "greet").read_text().count(str(prefix)) == 1


def test_install_from_urls_and_hashes(channel, tmp_path: Path) -> None:
    """Records built by hand from URL + sha256 (e.g. from a conda-lock.yml) install as is."""
    records = []
    for key, depends in (("greet-tool-1.0", ["libgreet >=1.0"]), ("libgreet-1.0", [])):
        pkg = channel.packages[key]
        record = rattler.PackageRecord(
            pkg.name,
            pkg.version,
            rattler.BuildString(pkg.build),
            0,
            pkg.subdir,
            depends=depends,
            sha256=bytes.fromhex(pkg.sha256),
            md5=bytes.fromhex(pkg.md5),
            size=pkg.size,
        )
        records.append(rattler.RepoDataRecord(record, pkg.filename, pkg.path.as_uri(), channel.url))
    prefix = tmp_path / "env"
    _install(records, prefix, tmp_path)
    out = _run(prefix / "bin" / "greet")
    assert out == f"greet-tool 1.0: hello from {prefix}\n"


def test_conda_lock_yml_round_trip(channel, tmp_path: Path) -> None:
    lockfile_mod = _require("conda_lock.lockfile")
    from conda_lock.lockfile.v2prelim.models import HashModel, LockedDependency, Lockfile, LockMeta

    plat = current_subdir()
    records = _solve(channel.path, ["greet-tool=1.0"], tmp_path)
    packages = []
    for r in records:
        deps = {}
        for dep in r.depends:
            spec = rattler.MatchSpec(dep)
            deps[spec.name.normalized] = str(spec.version) if spec.version else ""
        packages.append(
            LockedDependency(
                name=r.name.normalized,
                version=str(r.version),
                build=str(r.build),
                manager="conda",
                platform=plat,
                dependencies=deps,
                url=r.url,
                hash=HashModel(md5=r.md5.hex(), sha256=r.sha256.hex()),
                categories={"main"},
            )
        )
    lock = Lockfile(
        package=packages,
        metadata=LockMeta(
            content_hash={plat: "0" * 64},
            channels=[channel.url],
            platforms=[plat],
            sources=["conda.yaml"],
        ),
    )
    path = tmp_path / "conda-lock.yml"
    lockfile_mod.write_conda_lock_file(lock, path, metadata_choices=None, include_help_text=False)
    assert path.read_text().startswith("version: 1\n")

    back = lockfile_mod.parse_conda_lock_file(path)
    rebuilt = []
    for p in back.package:
        if p.manager != "conda" or p.platform != plat:
            continue
        channel_url, subdir, filename = p.url.rsplit("/", 2)
        record = rattler.PackageRecord(
            p.name,
            p.version,
            rattler.BuildString(p.build or "0"),
            0,
            subdir,
            depends=[f"{k} {v}".strip() for k, v in p.dependencies.items()],
            sha256=bytes.fromhex(p.hash.sha256),
            md5=bytes.fromhex(p.hash.md5),
        )
        rebuilt.append(rattler.RepoDataRecord(record, filename, p.url, channel_url + "/"))
    assert {(r.name.normalized, str(r.version)) for r in rebuilt} == {
        ("greet-tool", "1.0"),
        ("libgreet", "1.0"),
    }
    prefix = tmp_path / "env"
    _install(rebuilt, prefix, tmp_path)
    assert (prefix / "bin" / "greet").is_file()


# --------------------------------------------------------------------------- python inside the env


def _uv_binary() -> str | None:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _write_wheel(folder: Path, name: str = "hellowheel", version: str = "0.1") -> Path:
    """A minimal pure-Python wheel, written by hand (no build backend needed offline)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "def hi():\n    print('hi from', __file__)\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: proj-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist}/entry_points.txt": f"[console_scripts]\n{name} = {name}:hi\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="packages a Linux interpreter")
def test_python_inside_the_environment(tmp_path: Path) -> None:
    ch = build_fixture_channel(tmp_path / "ch", with_python=True)
    xy = f"{sys.version_info[0]}.{sys.version_info[1]}"
    records = _solve(ch.path, [f"python={xy}", "pip", "greetpy"], tmp_path)
    assert set(_names(records)) == {"python", "pip", "greetpy"}
    prefix = tmp_path / "env"
    _install(records, prefix, tmp_path)

    python = prefix / "bin" / "python"
    code = "import sys, sysconfig; print(sys.prefix); print(sysconfig.get_paths()['purelib'])"
    probe = _run(python, "-c", code).splitlines()
    site = prefix / "lib" / f"python{xy}" / "site-packages"
    assert probe == [str(prefix), str(site)]

    # noarch: python package went to site-packages, its entry point works
    assert (site / "greetpy" / "__init__.py").is_file()
    assert _run(prefix / "bin" / "greet-py") == f"greetpy from {prefix}\n"

    uv = _uv_binary()
    if uv is None:
        pytest.skip("uv is not installed")
    wheels = tmp_path / "wheels"
    _write_wheel(wheels)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--offline",
            "--no-index",
            "--find-links",
            str(wheels),
            "--python",
            str(python),
            "hellowheel",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv")},
    )
    assert (site / "hellowheel" / "__init__.py").is_file()
    assert _run(prefix / "bin" / "hellowheel") == f"hi from {site / 'hellowheel' / '__init__.py'}\n"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="packages a Linux interpreter")
def test_full_python_layout(tmp_path: Path) -> None:
    """The ~50 MB self-contained variant: stdlib inside the prefix, no pyvenv.cfg."""
    fmt = "conda"
    try:
        import zstandard  # noqa: F401
    except ImportError:
        fmt = "tar.bz2"
    ch = tmp_path / "ch"
    try:
        build_python_package(ch, layout="full", archive_format=fmt)
    except ValueError as exc:  # a distribution's patched interpreter (posix_local)
        pytest.skip(str(exc))
    index_channel(ch)
    prefix = tmp_path / "env"
    _install(_solve(ch, ["python"], tmp_path), prefix, tmp_path)
    assert not (prefix / "pyvenv.cfg").exists()
    code = "import sys, ssl, sqlite3; print(sys.prefix); print(sys.base_prefix)"
    assert _run(prefix / "bin" / "python", "-c", code) == f"{prefix}\n{prefix}\n"
