"""`docker_env`: the image a project runs in, built once per content.

By default proj builds a thin project image: `FROM` the base image (by id), the project copied
to MLflow's folder `/mlflow/projects/code`, tagged `<project name>:<content hash>` where the
hash covers the base image id and the project's files. An unchanged project finds its image
and builds nothing. `--no-build-image` runs the base image with the project folder mounted
there instead. `docker_env.dockerfile` (a proj extension) builds the base image itself from a
Dockerfile in the project. Nothing is pulled unless the user passed --pull.

The environment decides what runs (image, mounts, variables, options); the backend
(runner.backends.container) decides how: it starts, streams, stops and removes the container.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from runner.environments.base import (
    ContainerInvocation,
    ContainerMount,
    Environment,
    PreparedEnvironment,
    Progress,
)
from runner.environments.docker_build import BuildLog, build_image, dockerfile_images, pull_image
from runner.environments.docker_context import scan_context
from runner.environments.docker_daemon import connect, inspect_image
from runner.environments.docker_options import (
    DockerOptions,
    RunSettings,
    apply_docker_args,
    declared_variables,
    default_network,
    parse_volume,
)
from runner.environments.docker_section import DockerEnv
from runner.errors import EnvironmentSetupError, UsageError
from runner.locations import cache_dir, user_path
from runner.locking import file_lock
from runner.project import Project

WORKDIR = "/mlflow/projects/code"  # MLflow's folder: projects that hard-code it keep working
LOCK_NAME = "docker-image.json"
LOCK_FORMAT = "proj-docker-image/1"
HASH_LABEL = "proj.content-hash"
PROJECT_LABEL = "proj.project"
RUN_LABEL = "proj.run-id"
# Variables proj sets for every run; forwarded into the container whenever they are present.
RUN_VARIABLES = ("PYTHONUNBUFFERED", "PROJ_RUN_ID", "PROJ_TRACKING_URI", "PROJ_EXPERIMENT",
                 "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")
TRACKING_VARIABLES = ("PROJ_TRACKING_URI", "MLFLOW_TRACKING_URI")
_LOOPBACK_HOSTS = ("localhost", "::1", "0.0.0.0")
# The MLproject command runs with bash like everywhere else, or with sh in images without bash.
_SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; fi; exec sh -c "$1"'


@dataclass(frozen=True)
class ImageRef:
    reference: str  # the name or tag it is known by
    id: str
    built: bool = False  # built by this run
    content_hash: str | None = None
    repo_digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreparedContainer(PreparedEnvironment):
    """A ready image and everything else the container gets; `invocation` adds the run's own."""

    image: str = ""
    workdir: str = WORKDIR
    mounts: tuple[ContainerMount, ...] = ()
    container_env: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    network: str | None = None  # None: the daemon's default
    project_label: str = ""

    def invocation(self, command: str, cwd: Path, base_env: Mapping[str, str]) -> ContainerInvocation:
        run_env = run_variables(base_env)
        mounts, network = list(self.mounts), self.network
        for name in TRACKING_VARIABLES:
            uri = run_env.get(name)
            path = local_store_path(uri)
            if path is not None and all(m.target != path for m in mounts):
                mounts.append(ContainerMount(path, path))  # records written inside land in the store
            elif uri and is_loopback_url(uri):
                network = _network_for_loopback(network, name, uri)
        options = dict(self.options)
        if network is not None:
            options["network_mode"] = network
        run_id = run_env.get("PROJ_RUN_ID", "")
        return ContainerInvocation(
            image=self.image, argv=("sh", "-c", _SHELL, "proj", command),
            env={"PYTHONUNBUFFERED": "1", **self.container_env, **run_env}, workdir=self.workdir,
            mounts=tuple(mounts), options=options,
            labels={RUN_LABEL: run_id, PROJECT_LABEL: self.project_label},
            name=f"proj-{run_id}" if run_id else None)


class DockerEnvironment(Environment):
    name = "docker"
    invocation_kind = "container"

    def __init__(self, project: Project, options: DockerOptions) -> None:
        if not isinstance(project.environment, DockerEnv):
            raise UsageError("--env-manager docker needs a project with docker_env")
        self.project = project
        self.spec: DockerEnv = project.environment
        self.options = options

    def prepare(self, progress: Progress) -> PreparedContainer:
        settings = self._run_settings()  # mistakes in options fail before the daemon is asked
        client = connect()
        log = BuildLog(progress, self.options.verbose)
        # a locked base image wins over building it again from the Dockerfile
        dockerfile = self.spec.dockerfile if self.spec.dockerfile and self._locked_base_id() is None else None
        base = self._dockerfile_base(client, dockerfile, log) if dockerfile else self._base_image(client, log)
        if self.options.build_image:
            image, mounts = self._project_image(client, base, log), settings.mounts
        else:
            image, mounts = None, [ContainerMount(str(self.project.root), WORKDIR), *settings.mounts]
        return self._prepared(base, image, settings, mounts, log)

    # --- what the container gets besides its image ------------------------------------------

    def _run_settings(self) -> RunSettings:
        root = self.project.root
        settings = RunSettings(env=declared_variables(self.spec.environment, os.environ),
                               network=default_network())
        settings.mounts = [parse_volume(spec, root, f"docker_env.volumes[{i}]")
                           for i, spec in enumerate(self.spec.volumes)]
        apply_docker_args(settings, self.options.docker_args, root, os.environ)
        return settings

    # --- images -------------------------------------------------------------------------------

    def _base_image(self, client: Any, log: BuildLog) -> ImageRef:
        image = self.spec.image
        locked = self._locked_base_id()
        if locked is not None:  # a re-run: exactly the base image the recorded run used
            info = inspect_image(client, locked)
            if info is None:
                raise EnvironmentSetupError(
                    f"The base image {locked} recorded in the lock is not on this machine",
                    hint=f"load or pull that exact image (it was {image!r} then)")
            return ImageRef(image, info["Id"], repo_digests=tuple(info.get("RepoDigests") or ()))
        if self.options.frozen and "@sha256:" not in image:
            raise UsageError(f"--frozen needs a locked base image, and docker_env.image {image!r} is a tag",
                             hint="pin it by digest (name@sha256:...) or pass --lock with a run's docker-image.json")
        info = self._present_image(client, image, f"Docker image {image!r} (docker_env.image)", log)
        return ImageRef(image, info["Id"], repo_digests=tuple(info.get("RepoDigests") or ()))

    def _present_image(self, client: Any, name: str, what: str, log: BuildLog) -> dict[str, Any]:
        """The image's details; pulled first only with --pull, otherwise it must be here."""
        info = inspect_image(client, name)
        if info is None and self.options.pull:
            pull_image(client, name, log)
            info = inspect_image(client, name)
        if info is None:
            raise EnvironmentSetupError(
                f"{what} is not on this machine",
                hint=f"proj never pulls on its own: `docker pull {name}` or build it, or run with --pull")
        return info

    def _locked_base_id(self) -> str | None:
        """The base image id in --lock (a run's docker-image.json), if one was given."""
        if self.options.lock_file is None:
            return None
        try:
            lock = json.loads(Path(self.options.lock_file).read_text())
            return str(lock["base"]["id"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UsageError(f"--lock {self.options.lock_file}: not a docker-image.json lock ({err})") from None

    def _dockerfile_base(self, client: Any, dockerfile_name: str, log: BuildLog) -> ImageRef:
        """docker_env.dockerfile: build docker_env.image from it, unless an identical build exists."""
        image, dockerfile = self.spec.image, PurePosixPath(dockerfile_name).as_posix()
        text = (self.project.root / dockerfile).read_text(encoding="utf-8")
        sources = [f"{name}={self._source_image_id(client, name, dockerfile, log)}"
                   for name in dockerfile_images(text)]
        context = scan_context(self.project.root, always_include=[dockerfile])
        digest = _digest("base", dockerfile, context.digest, *sources)
        existing = inspect_image(client, image)
        if existing is None or _label(existing, HASH_LABEL) != digest:
            with _build_lock(digest):
                existing = inspect_image(client, image)
                if existing is None or _label(existing, HASH_LABEL) != digest:
                    log.progress(f"building {image} from {dockerfile}")
                    image_id = build_image(client, context, tag=image, dockerfile=text, log=log,
                                           labels={HASH_LABEL: digest, PROJECT_LABEL: self._repository()})
                    return ImageRef(image, image_id, built=True, content_hash=digest)
        return ImageRef(image, existing["Id"], content_hash=digest)

    def _source_image_id(self, client: Any, name: str, dockerfile: str, log: BuildLog) -> str:
        """The id of an image the Dockerfile starts from; it must be here unless --pull."""
        if name == self.spec.image:
            raise EnvironmentSetupError(f"{dockerfile} builds FROM {name!r}, the image it is meant to produce",
                                        hint="give docker_env.image a name of its own")
        if "$" in name:
            if self.options.pull:
                return "unknown"
            raise EnvironmentSetupError(
                f"{dockerfile}: cannot tell which image {name!r} names, so proj cannot check it is here",
                hint="give the ARG a default before the first FROM, or run with --pull")
        return str(self._present_image(client, name, f"{dockerfile} builds FROM {name!r}, which", log)["Id"])

    def _project_image(self, client: Any, base: ImageRef, log: BuildLog) -> ImageRef:
        context = scan_context(self.project.root)
        digest = _digest("project", base.id, WORKDIR, context.digest)
        tag = f"{self._repository()}:{digest[:24]}"
        existing = inspect_image(client, tag)
        if existing is not None and _label(existing, HASH_LABEL) == digest:
            return ImageRef(tag, existing["Id"], content_hash=digest)
        with _build_lock(digest):
            existing = inspect_image(client, tag)  # built by a concurrent proj while we waited
            if existing is not None and _label(existing, HASH_LABEL) == digest:
                return ImageRef(tag, existing["Id"], content_hash=digest)
            log.progress(f"building image {tag} from {base.reference} and the project")
            for link in context.skipped_links:
                log.progress(f"left out of the image: {link} (a symlink to outside the project)")
            dockerfile = f"FROM {base.id}\nCOPY project/ {WORKDIR}/\nWORKDIR {WORKDIR}\n"
            image_id = build_image(
                client, context, tag=tag, dockerfile=dockerfile, log=log, prefix="project/",
                labels={HASH_LABEL: digest, PROJECT_LABEL: self._repository(), "proj.base-image-id": base.id})
        return ImageRef(tag, image_id, built=True, content_hash=digest)

    def _repository(self) -> str:
        return repository_name(self.project.name or self.project.root.name)

    # --- the record ----------------------------------------------------------------------------

    def _prepared(self, base: ImageRef, image: ImageRef | None, settings: RunSettings,
                  mounts: list[ContainerMount], log: BuildLog) -> PreparedContainer:
        runs = image or base
        key = image.content_hash if image and image.content_hash else _digest("mounted", base.id, WORKDIR)
        lock = {
            "format": LOCK_FORMAT,
            "base": {"image": base.reference, "id": base.id, "repo_digests": list(base.repo_digests),
                     "dockerfile": self.spec.dockerfile, "content_hash": base.content_hash},
            "image": {"tag": image.reference, "id": image.id, "content_hash": image.content_hash} if image else None,
            "project": "copied" if image else "mounted",
            "workdir": settings.workdir or WORKDIR,
        }
        built = base.built or (image is not None and image.built)
        details = {"image": runs.reference, "image_id": runs.id, "base_image": base.reference,
                   "base_image_id": base.id, "built": built, "project": lock["project"], **settings.summary()}
        return PreparedContainer(
            kind=self.name, key=f"docker-{key[:24]}", lock=json.dumps(lock, indent=2).encode() + b"\n",
            lock_name=LOCK_NAME, build_log=log.text().encode() if built else b"", details=details,
            image=runs.id, workdir=settings.workdir or WORKDIR, mounts=tuple(mounts),
            container_env=settings.env, options=settings.options, network=settings.network,
            project_label=self._repository())


def repository_name(name: str) -> str:
    """A docker repository name from a project name: lower case, separators docker accepts."""
    lowered = name.lower()
    cleaned = re.sub(r"[^a-z0-9]+", lambda m: m.group(0) if re.fullmatch(r"[._]|__|-+", m.group(0)) else "-",
                     lowered)
    cleaned = re.sub(r"^[^a-z0-9]+|[^a-z0-9]+$", "", cleaned)[:128]
    return cleaned or "project"


def run_variables(base_env: Mapping[str, str]) -> dict[str, str]:
    """The variables proj sets for this run: the well-known ones, and any other PROJ_*/MLFLOW_*
    the tracking store added (those differ from proj's own environment)."""
    chosen = {}
    for name, value in base_env.items():
        store_added = name.startswith(("PROJ_", "MLFLOW_")) and os.environ.get(name) != value
        if name in RUN_VARIABLES or store_added:
            chosen[name] = value
    return chosen


def local_store_path(uri: str | None) -> str | None:
    """The folder a path or file: tracking URI names, when it exists on this machine."""
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme not in ("", "file"):
        return None
    path = user_path(unquote(parts.path) if parts.scheme == "file" else uri)
    # Mounted at the same path, as given: that is the path the run's variables name.
    return str(path) if path.is_absolute() and path.is_dir() else None


def is_loopback_url(uri: str) -> bool:
    host = (urlsplit(uri).hostname or "").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def _network_for_loopback(network: str | None, name: str, uri: str) -> str:
    """A store on this machine's loopback is reachable from a container on the host network only."""
    if network in (None, "host"):
        return "host"
    raise UsageError(
        f"{name} {uri} is on this machine's loopback address, which a container on network "
        f"{network!r} cannot reach",
        hint="run with -A network=host, or give the store an address the container can reach")


def _label(info: Mapping[str, Any], name: str) -> str | None:
    return ((info.get("Config") or {}).get("Labels") or {}).get(name)


def _digest(*parts: str) -> str:
    digest = hashlib.sha256(LOCK_FORMAT.encode())
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def _build_lock(digest: str) -> AbstractContextManager[None]:
    """Concurrent `proj run`s of one project build its image once."""
    return file_lock(cache_dir("docker") / f"{digest[:24]}.lock")
