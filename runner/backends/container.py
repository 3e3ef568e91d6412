"""Running a ContainerInvocation on the Docker daemon: create, stream, stop, remove.

The container's output goes live to the terminal and into the run's log, stdout and stderr
interleaved as the daemon delivers them (it reads the two through separate pipes, so lines
written to both at nearly the same moment may swap). SIGINT, SIGTERM and SIGHUP are
forwarded to the container, where docker's init (tini, asked to signal the whole process
group) passes them on to the command and everything it started; after the grace period the
container is killed, and a second signal kills it at once. The container is always removed:
by proj when the run ends however it ends, and by a reaper process if proj itself is killed.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, BinaryIO

from runner.backends.base import JobResult
from runner.environments.docker_daemon import connect, explain
from runner.errors import BackendError
from runner.invocation import ContainerInvocation
from runner.process import write_fully
from runner.stopping import DEFAULT_GRACE_SECONDS, StopSignals
from runner.supervisor import arm_cleanup, disarm_cleanup

# Docker's init is tini; this makes it forward signals to the command's whole process group,
# as a terminal's Ctrl-C would, instead of only to the shell (which waits for its child).
_INIT_VARIABLES = {"TINI_KILL_PROCESS_GROUP": "1"}


def run_container(invocation: ContainerInvocation, *, log: BinaryIO, terminal: BinaryIO,
                  grace_seconds: float = DEFAULT_GRACE_SECONDS) -> JobResult:
    client = connect()
    container_id = cleanup = not_removed = None
    log_errors: list[str] = []  # why the log stopped being written (a full disk): never the run
    with StopSignals(grace_seconds) as stop:
        try:
            container_id = _create(client, invocation)
            # If proj dies, proj's supervisor removes the container (the daemon would keep it running).
            cleanup = arm_cleanup([sys.executable, "-m", "runner.backends.container", container_id])
            exit_code = _run_attached(client, container_id, stop, terminal, log, log_errors)
        finally:
            if container_id is not None:
                not_removed = _remove(client, container_id)
            if cleanup is not None:
                disarm_cleanup(cleanup)
    if not_removed:
        raise BackendError(not_removed, hint=f"remove it with: docker rm -f {container_id[:12]}")
    return JobResult(exit_code, stop.received, log_errors[0] if log_errors else None)


def _create(client: Any, invocation: ContainerInvocation) -> str:
    import docker
    from docker.types import Mount

    options = dict(invocation.options)
    labels = {**options.pop("labels", {}), **invocation.labels}
    mounts = [Mount(m.target, m.source, type=m.kind, read_only=m.read_only) for m in invocation.mounts]
    try:
        container = client.containers.create(
            invocation.image, list(invocation.argv), name=invocation.name, labels=labels, mounts=mounts,
            environment={**invocation.env, **_INIT_VARIABLES}, working_dir=invocation.workdir,
            init=True, detach=True, stdin_open=False, tty=False,
            use_config_proxy=False,  # the SDK would add proxy variables from ~/.docker/config.json
            **options)
    except docker.errors.APIError as err:
        raise BackendError(f"Docker could not create the container from {invocation.image}: {explain(err)}") from err
    except (TypeError, docker.errors.DockerException) as err:  # an option the SDK rejects
        raise BackendError(f"Docker could not create the container from {invocation.image}: {err}") from err
    return str(container.id)


def _run_attached(client: Any, container_id: str, stop: StopSignals, terminal: BinaryIO, log: BinaryIO,
                  log_errors: list[str]) -> int:
    import docker

    stream = client.api.attach(container_id, stdout=True, stderr=True, stream=True, logs=True)
    ended = threading.Event()  # set by the reader at the end of the output: the container exited
    reader = threading.Thread(target=_copy_output, args=(stream, terminal, log, log_errors, ended),
                              daemon=True)
    reader.start()
    try:
        if stop.received is not None:  # interrupted before anything ran
            return 128 + stop.received
        try:
            client.api.start(container_id)
        except docker.errors.APIError as err:
            raise BackendError(f"Docker could not start the container: {explain(err)}") from err
        while not ended.wait(0.1):
            # The daemon is asked here, in the waiting thread, never from a signal handler.
            stop.poll(forward=lambda signum: _signal(client, container_id, signum),
                      kill=lambda: _signal(client, container_id, signal.SIGKILL))
        return int(client.api.wait(container_id)["StatusCode"])
    finally:
        stream.close()
        reader.join(1.0)


def _copy_output(stream: Any, terminal: BinaryIO, log: BinaryIO, log_errors: list[str],
                 ended: threading.Event) -> None:
    """In a thread: the container's output, chunk by chunk, to the terminal and the log."""
    try:
        for chunk in stream:
            try:
                terminal.write(chunk)
                terminal.flush()
            except (BrokenPipeError, ValueError):
                pass  # the terminal went away (`proj run ... | head`); the log still gets everything
            failed = None if log_errors else write_fully(log, chunk)
            if failed:  # a full disk stops the log, never the run
                log_errors.append(failed)
    except (OSError, ValueError):
        pass  # the stream was closed under us: the run is over
    finally:
        ended.set()


def _signal(client: Any, container_id: str, signum: int) -> None:
    import docker

    try:
        client.api.kill(container_id, signal=int(signum))
    except docker.errors.APIError:
        pass  # it has already stopped


def _remove(client: Any, container_id: str) -> str | None:
    """Remove the container and its anonymous volumes, as `docker run --rm` does; the reason
    when that fails (raised by the caller, so it never hides the error that ended the run)."""
    import docker

    try:
        client.api.remove_container(container_id, force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as err:
        return f"Docker could not remove container {container_id[:12]}: {explain(err)}"
    return None


def _reap(container_id: str) -> None:
    """Run by the reaper when proj died mid-run: remove the container it left."""
    import docker

    try:
        docker.from_env().api.remove_container(container_id, force=True, v=True)
    except Exception:  # noqa: BLE001, S110 - nobody is left to tell; it may already be gone
        pass


if __name__ == "__main__":
    _reap(sys.argv[1])
