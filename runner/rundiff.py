"""What differs between two runs: source, parameters, command, environment, outcome, metrics.

Works on run views (the dicts `proj runs show --format json` prints) plus the runs' lock files,
so `proj runs diff`, `proj rerun` and the browser's compare page all report the same things.
Each lock is read by the environment kind that wrote it (`EnvironmentKind.lock_packages`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from runner.environments import registry
from runner.errors import ProjError


@dataclass(frozen=True)
class Change:
    section: str  # source, parameters, command, environment, packages, outcome, logged with MLflow, metrics
    name: str
    a: Any
    b: Any

    @property
    def kind(self) -> str:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class RunDiff:
    a: str  # run ids
    b: str
    changes: tuple[Change, ...] = field(default=())

    def section(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.section == name]

    @property
    def identical_inputs(self) -> bool:
        """Same source, parameters, command and environment lock: a faithful reproduction."""
        inputs = ("source", "parameters", "command", "environment", "packages")
        return not any(c.section in inputs for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "identical_inputs": self.identical_inputs,
                "changes": [{**asdict(c), "kind": c.kind} for c in self.changes]}


SOURCE_FIELDS = ("commit", "subdirectory", "dirty", "diff_hash")
LOCATION_FIELDS = ("uri", "kind")  # how the code was addressed: informative, not an input
ENVIRONMENT_FIELDS = ("kind", "python")
# The cache key hashes how an environment was built (from a spec, or from a lock): the same
# packages can have two keys. What was installed is compared package by package instead.
IDENTITY_FIELDS = ("key",)
OUTCOME_FIELDS = ("status", "exit_code", "host", "user", "platform", "python_version", "proj_version", "backend")


def diff_runs(a: dict[str, Any], b: dict[str, Any], lock_a: bytes | None = None,
              lock_b: bytes | None = None) -> RunDiff:
    """Differences between run views `a` and `b`, and between their locks when known."""
    changes: list[Change] = []
    changes += _fields("source", a["source"], b["source"], SOURCE_FIELDS)
    changes += _fields("location", a["source"], b["source"], LOCATION_FIELDS)
    changes += _mapping("parameters", _parameters(a), _parameters(b))
    command_a, command_b = _in_project(a, a["command"]), _in_project(b, b["command"])
    if command_a != command_b:
        changes.append(Change("command", "command", command_a, command_b))
    changes += _fields("environment", a["environment"], b["environment"], ENVIRONMENT_FIELDS)
    changes += _mapping("environment", _prefixed("options", a["environment"].get("options")),
                        _prefixed("options", b["environment"].get("options")))
    changes += _fields("cache", a["environment"], b["environment"], IDENTITY_FIELDS)
    changes += _mapping("packages", _packages(a, lock_a), _packages(b, lock_b))
    changes += _fields("outcome", a, b, OUTCOME_FIELDS)
    changes += _mapping("outcome", _prefixed("backend_config", a.get("backend_config")),
                        _prefixed("backend_config", b.get("backend_config")))
    duration_a, duration_b = a.get("duration"), b.get("duration")
    if duration_a is not None and duration_b is not None and round(duration_a, 1) != round(duration_b, 1):
        changes.append(Change("outcome", "duration", round(duration_a, 3), round(duration_b, 3)))
    changes += _mapping("logged with MLflow", _logged(a), _logged(b))
    changes += _mapping("metrics", _last_values(a), _last_values(b))
    return RunDiff(a["run_id"], b["run_id"], tuple(changes))


def compared_values(view: dict[str, Any], lock: bytes | None = None) -> dict[tuple[str, str], Any]:
    """Every value `diff_runs` compares for one run, by (section, name), in the order a diff lists
    them: what a side-by-side view shows when it shows all rows, not only those that differ."""
    values: dict[tuple[str, str], Any] = {}
    values.update({("source", name): view["source"].get(name) for name in SOURCE_FIELDS})
    values.update({("location", name): view["source"].get(name) for name in LOCATION_FIELDS})
    values.update({("parameters", name): value for name, value in sorted(_parameters(view).items())})
    values[("command", "command")] = _in_project(view, view["command"])
    values.update({("environment", name): view["environment"].get(name) for name in ENVIRONMENT_FIELDS})
    options = _prefixed("options", view["environment"].get("options"))
    values.update({("environment", name): value for name, value in sorted(options.items())})
    values.update({("cache", name): view["environment"].get(name) for name in IDENTITY_FIELDS})
    values.update({("packages", name): value for name, value in sorted(_packages(view, lock).items())})
    values.update({("outcome", name): view.get(name) for name in OUTCOME_FIELDS})
    backend = _prefixed("backend_config", view.get("backend_config"))
    values.update({("outcome", name): value for name, value in sorted(backend.items())})
    if view.get("duration") is not None:
        values[("outcome", "duration")] = round(view["duration"], 3)
    values.update({("logged with MLflow", name): value for name, value in sorted(_logged(view).items())})
    values.update({("metrics", name): value for name, value in sorted(_last_values(view).items())})
    return values


def lock_packages(kind_name: str, content: bytes) -> dict[str, str]:
    """The packages (name → version, or an image id) that a lock pins, as its kind reads it; a
    lock of a kind not installed here is compared whole, by its SHA-256."""
    try:
        kind = registry.find_kind(kind_name)
    except ProjError:  # a broken plugin: the diff still shows everything else
        kind = None
    if kind is None:
        return {"lock (sha256)": hashlib.sha256(content).hexdigest()}
    return kind.lock_packages(content)


def _packages(view: dict[str, Any], lock: bytes | None) -> dict[str, str]:
    return lock_packages(view["environment"]["kind"], lock) if lock is not None else {}


def _prefixed(prefix: str, values: dict[str, Any] | None) -> dict[str, Any]:
    """Settings as `prefix.name`; lists as text, so that a change shows as one line."""
    return {f"{prefix}.{name}": " ".join(map(str, value)) if isinstance(value, list) else value
            for name, value in (values or {}).items()}


def _fields(section: str, a: dict[str, Any], b: dict[str, Any], names: tuple[str, ...]) -> list[Change]:
    return [Change(section, name, a.get(name), b.get(name)) for name in names if not _same(a.get(name), b.get(name))]


def _mapping(section: str, a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    return [Change(section, name, a.get(name), b.get(name))
            for name in sorted(set(a) | set(b)) if not _same(a.get(name), b.get(name))]


def _same(a: Any, b: Any) -> bool:
    """Equal, counting NaN as equal to NaN: a metric that was NaN in both runs did not change."""
    return bool(a == b) or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _parameters(view: dict[str, Any]) -> dict[str, Any]:
    """Each parameter's effective value: what the program received (typed)."""
    return {p["name"]: _in_project(view, p["value"]) for p in view["parameters"]}


def _in_project(view: dict[str, Any], value: Any) -> Any:
    """Paths inside the run's project folder, written relative to it as `<project>/...`.

    Every checkout lives in a folder of its own, so a re-run of the same commit sees its data
    file at another absolute path; that is not a difference in what ran.
    """
    folder = view["source"]["path"]
    if not isinstance(value, str) or not folder:
        return value
    return value.replace(folder.rstrip("/") + "/", "<project>/").replace(folder, "<project>")


def _logged(view: dict[str, Any]) -> dict[str, Any]:
    """What the project logged with MLflow besides metrics: its parameters and its own tags (an
    outcome of the run, like its metrics: not one of its inputs)."""
    logged = view.get("mlflow") or {}
    tags = {f"tag {k}": v for k, v in (logged.get("tags") or {}).items() if not k.startswith("mlflow.")}
    return {**{f"param {k}": v for k, v in (logged.get("params") or {}).items()}, **tags}


def _last_values(view: dict[str, Any]) -> dict[str, Any]:
    return {key: summary["last"] for key, summary in (view.get("metrics") or {}).items()}


def describe_diff(diff: RunDiff) -> str:
    """The differences as aligned text, one line per change, grouped by section."""
    if not diff.changes:
        return f"runs {diff.a[:12]} and {diff.b[:12]} do not differ"
    lines = [f"--- {diff.a}", f"+++ {diff.b}"]
    current = None
    for change in diff.changes:
        if change.section != current:
            current = change.section
            lines.append(f"{current}:")
        lines.append(f"  {change.name}: {_show(change.a)} -> {_show(change.b)}")
    verdict = "identical" if diff.identical_inputs else "different"
    lines.append(f"inputs (source, parameters, command, environment): {verdict}")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    text = str(value).rstrip("\n")
    return repr(text) if "\n" in text or text == "" else text
