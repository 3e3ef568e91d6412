"""Building and pulling images through the docker SDK's low-level API, with a kept log.

Builds get a context tar that proj made (runner.environments.docker_context) and never ask
the daemon to pull: images a Dockerfile starts FROM must already be on the machine unless the
user passed --pull, because the classic builder would otherwise pull a missing one silently.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from runner.environments.docker_context import BuildContext, write_context_tar
from runner.environments.docker_daemon import explain, inspect_image
from runner.errors import EnvironmentSetupError

Progress = Callable[[str], None]
_SPOOL_BYTES = 64 * 1024 * 1024  # contexts up to this size are built in memory


class BuildLog:
    """The build's output, kept for the run record and shown live with --verbose."""

    def __init__(self, progress: Progress, verbose: bool) -> None:
        self.lines: list[str] = []
        self.progress = progress
        self.verbose = verbose

    def add(self, text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                self.lines.append(line)
                if self.verbose:
                    self.progress(f"  {line}")

    def text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")


GENERATED_DOCKERFILE = ".proj.Dockerfile"  # at the top of the context tar


def build_image(client: Any, context: BuildContext, *, tag: str, dockerfile: str, labels: Mapping[str, str],
                log: BuildLog, prefix: str = "") -> str:
    """Build `tag` from the Dockerfile text and the context (its files under `prefix`).

    The labels are added as one LABEL line at the end (the build API's `labels` would add one
    build step, about 60 ms with the classic builder, per label); returns the image id.
    """
    import docker

    text = dockerfile.rstrip("\n") + "\nLABEL " + " ".join(
        f"{json.dumps(key)}={json.dumps(value)}" for key, value in labels.items()) + "\n"
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as tar:
        write_context_tar(context, tar, prefix=prefix, extra_files={GENERATED_DOCKERFILE: text.encode()})
        tar.seek(0)
        try:
            stream = client.api.build(fileobj=tar, custom_context=True, tag=tag, dockerfile=GENERATED_DOCKERFILE,
                                      pull=False, rm=True, forcerm=True, decode=True)
            image_id = _follow_build(stream, tag, log)
        except docker.errors.APIError as err:
            raise EnvironmentSetupError(f"docker build of {tag} failed: {explain(err)}", output=log.text()) from err
    if image_id is None:  # older daemons send no "aux" message with the id
        image_id = (inspect_image(client, tag) or {}).get("Id")
    if image_id is None:
        raise EnvironmentSetupError(f"docker build of {tag} reported success but the image is missing",
                                    output=log.text())
    return image_id


def _follow_build(stream: Iterable[dict[str, Any]], tag: str, log: BuildLog) -> str | None:
    image_id = None
    for message in stream:
        if "error" in message:
            raise EnvironmentSetupError(f"docker build of {tag} failed: {str(message['error']).strip()}",
                                        output=log.text())
        if "stream" in message:
            log.add(str(message["stream"]))
        elif "status" in message:
            log.add(str(message["status"]))
        aux = message.get("aux")
        if isinstance(aux, dict) and "ID" in aux:
            image_id = aux["ID"]
    return image_id


def pull_image(client: Any, reference: str, log: BuildLog) -> None:
    """Pull one image (only ever because the user passed --pull)."""
    import docker
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(reference)
    log.progress(f"pulling {reference} (--pull)")
    try:
        for message in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if "error" in message:
                raise EnvironmentSetupError(f"docker pull {reference} failed: {message['error']}",
                                            output=log.text())
            if message.get("status") and not message.get("progressDetail"):
                log.add(f"{message.get('id', '')} {message['status']}".strip())
    except docker.errors.APIError as err:
        raise EnvironmentSetupError(f"docker pull {reference} failed: {explain(err)}", output=log.text()) from err


def dockerfile_images(text: str) -> list[str]:
    """The images a Dockerfile needs from outside: FROM and COPY --from, minus its own stages.

    ARG defaults declared before the first FROM are substituted, as the builder does; a name
    that still holds a variable is returned as is, so the caller can refuse it.
    """
    defaults: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False
    for instruction, words in _instructions(text):
        if instruction == "ARG" and not seen_from:
            for word in words:
                name, _, value = word.partition("=")
                defaults[name] = value.strip('"')
        elif instruction == "FROM":
            seen_from = True
            names = [w for w in words if not w.startswith("--")]
            if names:
                image = _substitute(names[0], defaults)
                if image.lower() != "scratch" and image not in stages:
                    images.append(image)
                if len(names) >= 3 and names[1].lower() == "as":
                    stages.add(names[2])
        elif instruction == "COPY":
            for word in words:
                if word.startswith("--from="):
                    source = word[len("--from="):]
                    if source not in stages and not source.isdigit():
                        images.append(source)
    return list(dict.fromkeys(images))


def _instructions(text: str) -> Iterable[tuple[str, list[str]]]:
    logical = re.sub(r"\\\r?\n", " ", text)  # line continuations
    for line in logical.splitlines():
        words = line.strip().split()
        if words and not words[0].startswith("#"):
            yield words[0].upper(), words[1:]


def _substitute(word: str, defaults: Mapping[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)",
                  lambda m: defaults.get(m.group(1) or m.group(2)) or m.group(0), word)
