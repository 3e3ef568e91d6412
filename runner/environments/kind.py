"""What an environment kind is: the contract every kind implements, built-in or plugin.

A kind (local, virtualenv, conda, docker, or one registered under the entry-point group
`proj.environments`) owns everything about its environments: the MLproject section it reads and
that section's schema, the `--env-manager` names that choose it, its options, how an environment
is built or reused, the format of its lock file, and how it describes itself. The core asks the
registry (`runner.environments.registry`) for a kind and then asks the kind; it never names one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Mapping, NamedTuple

from runner.errors import UsageError
from runner.invocation import InvocationKind
from runner.project import inside_folder

if TYPE_CHECKING:
    from runner.environments.base import Environment
    from runner.problems import Problem
    from runner.project import EnvironmentSection, Project
    from runner.yamldoc import YamlDocument

OptionForm = Literal["text", "flag", "list"]
# The commands that take kind options: `proj run`, `proj rerun` and `proj env lock`.
Command = Literal["run", "rerun", "lock"]


class KindOption(NamedTuple):
    """One setting of a kind: its name, how the command line gives it, and whether it shapes the run.

    Built-in kinds' options are command-line flags; every kind's settings can also be given as
    `--env-config '{"name": value}'` (the only way for a plugin kind: adding flags would mean
    reading every installed plugin at each start).
    """

    setting: str  # the name in --env-config and in the run record
    help: str
    default: Any = None
    # Built-in kinds only: ("--installer",); a flag pair is written "--build-image/--no-build-image".
    flags: tuple[str, ...] = ()
    form: OptionForm = "text"  # text: one string; flag: true/false; list: repeatable strings
    choices: tuple[str, ...] = ()  # the values a text setting accepts (empty: any)
    envvar: str | None = None
    metavar: str | None = None
    # Shapes what runs: recorded with the run, and applied again by `proj rerun`. A setting that
    # only says where to find things on this machine (a mirror, --pull) is not.
    reproduced: bool = True
    commands: tuple[Command, ...] = ("run",)

    @property
    def flag_name(self) -> str:
        """How messages name the option: its first flag, else its --env-config key."""
        return self.flags[0].split("/")[0] if self.flags else f"--env-config {self.setting}"

    def checked(self, value: Any, origin: str) -> Any:
        """`value` as this setting holds it, or UsageError naming where it came from."""
        if self.form == "flag":
            if not isinstance(value, bool):
                raise UsageError(f"{origin}: {self.setting} must be true or false, got {value!r}")
            return value
        if self.form == "list":
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
                raise UsageError(f"{origin}: {self.setting} must be a list of strings, got {value!r}")
            return tuple(values)
        if not isinstance(value, str):
            raise UsageError(f"{origin}: {self.setting} must be a string, got {value!r}")
        if self.choices and value not in self.choices:
            raise UsageError(f"Unknown {self.setting.replace('_', ' ')} {value!r} ({origin}); "
                             f"choose one of {', '.join(self.choices)}")
        return value


class EnvironmentSettings(NamedTuple):
    """How to build the run's environment, as the user asked: what every kind understands
    (frozen, lock, verbose) and kind settings, from flags and from `--env-config`."""

    flags: Mapping[str, Any] = MappingProxyType({})  # built-in kinds' flags that were given
    config: Mapping[str, Any] = MappingProxyType({})  # --env-config: the chosen kind's settings
    frozen: bool = False  # install only what a lock lists; never resolve
    lock_file: Path | None = None  # an explicit lock to install (re-runs, --lock)
    verbose: bool = False  # show build output live


class BuildSettings(NamedTuple):
    """What one kind builds with: each of its settings (defaults filled in), and the common ones."""

    values: Mapping[str, Any] = MappingProxyType({})
    frozen: bool = False
    lock_file: Path | None = None
    verbose: bool = False


class EnvironmentKind(ABC):
    """One kind of environment. Subclasses set the class attributes and implement `create`."""

    name: ClassVar[str]  # recorded as the run's environment kind; an --env-manager value
    synonyms: ClassVar[tuple[str, ...]] = ()  # other --env-manager values that choose it
    section: ClassVar[str | None] = None  # the MLproject key it reads (python_env, ...)
    # A project that declares `section` runs only in this kind (docker_env cannot run elsewhere).
    exclusive: ClassVar[bool] = False
    options: ClassVar[tuple[KindOption, ...]] = ()
    lock_name: ClassVar[str | None] = None  # the file name of its lock, when it has one
    # What its prepared environments ask a backend to start (runner.invocation).
    invocation_kind: ClassVar[InvocationKind] = "host"

    @property
    def managers(self) -> tuple[str, ...]:
        """The `--env-manager` values that choose this kind."""
        return (self.name, *self.synonyms)

    # --- the MLproject section ------------------------------------------------------------

    def section_schema(self) -> dict[str, Any] | None:
        """The JSON schema (draft 2020-12) of the section's value; proj validates it in place."""
        return None

    def read_section(self, document: YamlDocument, root: Path) -> tuple[EnvironmentSection | None, list[Problem]]:
        """The section's model, and any problem beyond the schema (positioned in `document`).

        Called once the section passed `section_schema`; `document.data[self.section]` is it."""
        raise NotImplementedError(f"the {self.name} environment kind declares no MLproject section")

    def conventional_section(self, root: Path) -> tuple[EnvironmentSection | None, list[Problem]] | None:
        """The environment file a project without an environment section falls back to
        (python_env.yaml, conda.yaml), or None. Only built-in kinds are asked (see registry)."""
        return None

    def inspect_file(self, path: Path) -> list[Problem] | None:
        """The problems of an environment file validated on its own (`proj validate FILE`), or
        None when `path` is not this kind's file."""
        return None

    # --- choosing and building ----------------------------------------------------------------

    def check_project(self, project: Project) -> None:
        """Raise UsageError if this kind cannot run `project` (asked when chosen by --env-manager)."""
        if self.exclusive and (project.environment is None or project.environment.section != self.section):
            raise UsageError(f"--env-manager {self.name} needs a project with {self.section}")

    def settings(self, given: EnvironmentSettings) -> BuildSettings:
        """This kind's settings: flags and --env-config checked, defaults filled in."""
        declared = {option.setting: option for option in self.options}
        unknown = sorted(set(given.config) - set(declared))
        if unknown:
            names = ", ".join(declared) or "none"
            raise UsageError(f"--env-config: the {self.name} environment has no setting {unknown[0]!r}",
                             hint=f"its settings: {names}")
        values: dict[str, Any] = {}
        for setting, option in declared.items():
            if setting in given.flags and setting in given.config:
                raise UsageError(f"{option.flag_name} and --env-config both set {setting}; give one")
            if setting in given.flags:
                values[setting] = option.checked(given.flags[setting], option.flag_name)
            elif setting in given.config:
                values[setting] = option.checked(given.config[setting], "--env-config")
            else:
                values[setting] = option.default
        return BuildSettings(values, frozen=given.frozen, lock_file=given.lock_file, verbose=given.verbose)

    def recorded_settings(self, settings: BuildSettings) -> dict[str, Any]:
        """The settings that shaped the run, as the run record keeps them (JSON values)."""
        return {o.setting: _json_value(settings.values.get(o.setting)) for o in self.options if o.reproduced}

    def replay_notes(self, recorded: Mapping[str, Any]) -> list[str]:
        """What a re-run given these recorded settings cannot reproduce exactly; proj says so and
        records it with the new run."""
        return []

    @abstractmethod
    def create(self, project: Project, settings: BuildSettings) -> Environment:
        """The environment for `project`; preparing it builds it or reuses an identical one.
        Import heavy modules here, not at the top of the kind's module."""

    # --- what runs recorded -----------------------------------------------------------------

    def lock_packages(self, lock: bytes) -> dict[str, str]:
        """What a lock of this kind pins (name → version, or an image id), for `proj runs diff`."""
        return {}


def read_file_section(document: YamlDocument, root: Path, section: str,
                      check: Callable[[Path, Path], tuple[EnvironmentSection | None, list[Problem]]],
                      ) -> tuple[EnvironmentSection | None, list[Problem]]:
    """A section that names an environment file (python_env, conda_env): that file, read by `check`."""
    name = document.data[section]
    env_file = root / name
    if not inside_folder(root, name):
        message = f"{section}: {name!r} is outside the project folder; an environment file must be part of the project"
        return None, [document.problem((section,), message)]
    if not env_file.is_file():
        return None, [document.problem((section,), f"{section}: file {name!r} not found in the project folder")]
    return check(env_file, root)


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
