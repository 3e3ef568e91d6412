"""`path` parameters given as URLs: downloaded before the run, as `mlflow run` does.

MLflow downloads a remote `path` value into `<storage dir>/<new folder>/param_<position>/` and
substitutes the local path; so does proj, for http(s) URLs (the only remote storage proj can
read without extra packages). With `--storage-dir` (or MLFLOW_TMP_DIR, as for MLflow) the files
stay there; otherwise they go to a folder under $PROJ_HOME/downloads/, removed when the run ends.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from runner.errors import UsageError
from runner.locations import cache_dir
from runner.params import ResolvedParameter, ResolvedParams

Progress = Callable[[str], None]


class PathDownloads:
    """The downloads of one run (or one sweep: a URL given to several points is fetched once)."""

    def __init__(self, storage_dir: Path | None, progress: Progress | None = None) -> None:
        self.storage_dir = storage_dir
        self._progress: Progress = progress or (lambda _message: None)
        self._root: Path | None = None
        self._fetched: dict[tuple[int, str], str] = {}

    def fetch(self, params: ResolvedParams) -> ResolvedParams:
        """`params` with every remote path value downloaded and replaced by its local path."""
        if not any(p.remote for p in params.declared):
            return params
        declared = [self._local(position, p) if p.remote else p for position, p in enumerate(params.declared)]
        return ResolvedParams(tuple(declared), params.extra)

    def release(self) -> None:
        """Remove what was downloaded, unless it went to a --storage-dir."""
        if self._root is not None and self.storage_dir is None:
            import shutil  # here: shutil imports its compression modules (start-up budget)

            shutil.rmtree(self._root, ignore_errors=True)
        self._root = None

    def _local(self, position: int, parameter: ResolvedParameter) -> ResolvedParameter:
        from runner.download import download  # hashlib: only for a run with a URL to fetch (start-up budget)

        url = str(parameter.value)
        key = (position, url)
        if key not in self._fetched:
            folder = self._folder_for(position)
            name = PurePosixPath(unquote(urlsplit(url).path)).name or "download"
            self._progress(f"downloading {url} for parameter {parameter.name}")
            download(url, folder / name, shown_as=f"{url} (parameter {parameter.name})")
            self._fetched[key] = str(folder / name)
        path = self._fetched[key]
        return parameter._replace(value=path, rendered=path)

    def _folder_for(self, position: int) -> Path:
        root = self._ensure_root()
        folder = root / f"param_{position}"
        suffix = 1
        while folder.exists():  # another URL for the same parameter (a sweep)
            suffix += 1
            folder = root / f"param_{position}_{suffix}"
        folder.mkdir()
        return folder

    def _ensure_root(self) -> Path:
        if self._root is None:
            import tempfile

            parent = self.storage_dir if self.storage_dir is not None else cache_dir("downloads")
            try:
                parent.mkdir(parents=True, exist_ok=True)
                self._root = Path(tempfile.mkdtemp(dir=parent))
            except OSError as err:
                raise UsageError(f"Cannot use {parent} for downloads: {err.strerror}",
                                 hint="give a writable folder with --storage-dir") from None
        return self._root
