"""A run as people read it, the same in the terminal (`proj runs show`) and the browser (`proj ui`):
the view dict (the record plus what its output folder holds), its text form, and how times,
durations and sizes are written. No terminal or web code here: both front ends import this.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from runner.tracking.base import RunRecord, RunStatus, TrackingStore
from runner.words import plural

if TYPE_CHECKING:
    from runner.outputs import MetricsReading


def run_view(store: TrackingStore, record: RunRecord, reading: MetricsReading | None = None) -> dict[str, Any]:
    """The record plus what lives in its output folder: metrics (live while it runs) and artifacts.
    `reading`: the run's metrics when the caller has them (they are read once). A finished run's
    summaries and skipped lines were stored when it ended: its metrics file is not read again."""
    from runner.outputs import artifact_listing

    data = record.to_dict()
    if record.status.is_terminal and record.metric_problems is not None:
        data["metric_problems"] = list(record.metric_problems)  # kept when it ended: no file to read
    else:
        reading = reading or store.read_metrics(record.run_id, complete=record.status is not RunStatus.RUNNING)
        if record.status is RunStatus.RUNNING or not data["metrics"]:
            data["metrics"] = {key: s.as_dict() for key, s in reading.summaries().items()}
        data["metric_problems"] = list(reading.problems)
    listing = artifact_listing(store.list_artifacts(record.run_id))
    data["artifacts"] = [{"path": a.path, "size": a.size} for a in listing.shown]
    data["artifacts_not_listed"] = listing.more  # beyond PROJ_MAX_ARTIFACTS_LISTED: counted only
    return data


def describe_run(view: dict[str, Any], *, utc: bool = False) -> str:
    s, env = view["source"], view["environment"]
    lines = [
        f"run          {view['run_id']}",
        f"name         {view['run_name']}",
        *_label_lines(view, utc),
        f"experiment   {view['experiment']}" + (f"   sweep {view['sweep_id']}" if view.get("sweep_id") else ""),
        f"status       {view['status']}{exit_code_text(view['exit_code'])}" + _stale_text(view),
        f"started      {when(view['start_time'], utc=utc)}   duration {duration(view['duration'])}",
        f"source       {s['uri']} ({s['kind']})",
        f"folder       {s['path']}" + (f"   subdirectory {s['subdirectory']}" if s["subdirectory"] else ""),
    ]
    if s["commit"] or s["version"]:
        dirty = {True: ", dirty: diff " + (s["diff_hash"] or "")[:12], False: ", clean"}.get(s["dirty"], "")
        version = f" (version {s['version']})" if s["version"] else ""
        lines.append(f"commit       {s['commit'] or '(none)'}{version}{dirty}")
    lines.append(f"entry point  {view['entry_point']}")
    lines.append(f"command      {view['command'].rstrip()}")
    lines.append("parameters" if view["parameters"] else "parameters   (none)")
    for p in view["parameters"]:
        given = f"given {p['given']!r}" if p["given"] is not None else "default"
        lines.append(f"  {p['name']} = {p['value']!r} ({p['type']}, {given}{'' if p['declared'] else ', undeclared'})")
    lines += _mlflow_lines(view)
    lines.append(f"environment  {env['kind']}" + (f"  key {env['key']}" if env["key"] else "")
                 + (f"  python {env['python']}" if env["python"] else ""))
    if env.get("options"):
        lines.append(f"  settings   {_settings_text(env['options'])}")
    if env["lock"]:
        lines.append(f"  lock       {env['lock']} (kept with the run)")
    lines.append(f"backend      {view['backend']}" + _job_text(view.get("job")))
    if view.get("backend_config"):
        lines.append(f"  settings   {_settings_text(view['backend_config'])}")
    lines.append(f"launched by  {view['user']}@{view['host']} ({view['platform']}, Python {view['python_version']}, "
                 f"proj {view['proj_version']})")
    lines.append(f"log          {view['log']}")
    if view["attachments"]:
        lines.append(f"files        {', '.join(view['attachments'])}")
    lines += _metric_lines(view)
    lines += _model_lines(view)
    if view["artifacts"]:
        lines.append("artifacts")
        lines += [f"  {a['path']}  ({size(a['size'])})" for a in view["artifacts"]]
    if view.get("artifacts_not_listed"):
        lines.append(f"  ... and {view['artifacts_not_listed']} more (`proj runs artifacts {view['run_id'][:12]}` "
                     "lists them all)")
    return "\n".join(lines)


def _label_lines(view: dict[str, Any], utc: bool) -> list[str]:
    """What the user said about the run: its description and tags, and whether it is deleted."""
    lines = []
    if view.get("description"):
        first, *rest = str(view["description"]).splitlines() or [""]
        lines += [f"description  {first}", *(f"             {line}" for line in rest)]
    if view.get("tags"):
        lines.append(f"tags         {tags_text(view['tags'], width=None)}")
    if view.get("deleted"):
        since = when(view["deleted_time"], utc=utc) if view.get("deleted_time") else "yes"
        lines.append(f"deleted      {since} (`proj runs restore {view['run_id'][:12]}` brings it back; "
                     "`proj gc` removes it for good)")
    return lines


def _mlflow_lines(view: dict[str, Any]) -> list[str]:
    """What the project logged with MLflow: its parameters and tags, disagreements, run links."""
    lines = []
    if view.get("parent_run_id"):
        lines.append(f"parent run   {view['parent_run_id']} (a run the project started inside it)")
    if view.get("child_runs"):
        lines.append(f"child runs   {', '.join(view['child_runs'])}")
    logged = view.get("mlflow")
    if not logged:
        return lines
    own_tags = {k: v for k, v in logged["tags"].items() if not k.startswith("mlflow.")}
    # RUNNING only says that the project did not end its MLflow run itself (runner.log_param never does).
    ended = logged["status"] not in (None, "RUNNING")
    if not (ended or logged["params"] or own_tags or logged["conflicts"] or logged["problems"]):
        return lines  # a project that never logged with MLflow: no empty heading
    lines.append("logged with MLflow" + (f"  (MLflow run status {logged['status']})" if ended else ""))
    lines += [f"  param {name} = {value!r}" for name, value in sorted(logged["params"].items())]
    lines += [f"  tag   {name} = {_short(value)!r}" for name, value in sorted(own_tags.items())]
    lines += [f"  ! {c['name']}: proj was given {c['proj']!r}, the project logged {c['logged']!r} (MLflow keeps "
              "the project's value)" for c in logged["conflicts"]]
    lines += [f"  ! {problem}" for problem in logged["problems"]]
    return lines


def _model_lines(view: dict[str, Any]) -> list[str]:
    models = (view.get("mlflow") or {}).get("models") or []
    if not models:
        return []
    lines = ["models"]
    for m in models:
        signature = m["signature"] or {}
        shape = (f"; signature {plural(len(signature.get('inputs') or []), 'input')} -> "
                 f"{plural(len(signature.get('outputs') or []), 'output')}") if signature else "; no signature"
        lines.append(f"  {m['name']}  ({', '.join(m['flavors']) or 'no flavors'}{shape}; "
                     f"{plural(len(m['files']), 'file')}, "
                     f"{size(m['size'])})  artifacts {m['path'] or '.'}/")
    return lines


def _short(value: str, width: int = 80) -> str:
    return value if len(value) <= width else value[: width - 3] + "..."


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in settings.items())
def _stale_text(view: dict[str, Any]) -> str:
    from runner.lifecycle import needs_refresh

    stale = needs_refresh(RunRecord.from_dict(view))
    return f"   {stale}: `proj runs refresh` records what became of it" if stale else ""


def _metric_lines(view: dict[str, Any]) -> list[str]:
    if not view["metrics"] and not view["metric_problems"]:
        return []
    lines = ["metrics      (last, min, max, values)"]
    for key, m in sorted(view["metrics"].items()):
        step = f", last step {m['last_step']}" if m["last_step"] is not None else ""
        count = "? values" if m["count"] is None else plural(m["count"], "value")
        lines.append(f"  {key} = {metric_text(m['last'])}  (min {metric_text(m['min'])}, max {metric_text(m['max'])}, "
                     f"{count}{step})")
    lines += [f"  ! {problem}" for problem in view["metric_problems"]]
    return lines


def _job_text(job: dict[str, Any] | None) -> str:
    if not job:
        return ""
    reason = f", {job['reason']}" if job["reason"] else ""
    detached = ", detached" if job["detached"] else ""
    return f"  job {job['id']} ({job['state']}{reason}{detached})"


def status_text(record: RunRecord) -> str:
    """The run's status; while a scheduler holds its job, the job's state too (RUNNING/PENDING);
    what reading can tell without writing, too: "RUNNING (launcher gone: proj runs refresh)"."""
    from runner.lifecycle import needs_refresh

    stale = needs_refresh(record)
    if stale is not None:
        return f"{record.status.value} ({stale}: proj runs refresh)"
    if record.job is not None and not record.status.is_terminal and record.job.state:
        return f"{record.status.value}/{record.job.state}"
    return record.status.value


def parameters_text(record: RunRecord, width: int = 60) -> str:
    """proj's parameters; for a run the project started itself, what it logged with MLflow."""
    values = record.parameter_values() or (record.mlflow.params if record.mlflow else {})
    text = " ".join(f"{name}={value}" for name, value in values.items())
    return text if len(text) <= width else text[: width - 3] + "..."


def tags_text(tags: dict[str, str], width: int | None = 40) -> str:
    """`team=vision stage=try` (cut to `width`)."""
    text = " ".join(f"{key}={value}" for key, value in tags.items())
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


def when(timestamp: float, *, utc: bool = False) -> str:
    """`2026-11-30 14:03:07 +0100` in the local time zone; `2026-11-30 13:03:07 UTC` with `utc`."""
    if utc:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(timestamp))


def exit_code_text(code: int | None) -> str:
    """` (exit code N)`, or nothing for a run that has none (never started, still running, lost)."""
    return "" if code is None else f" (exit code {code})"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def size(count: int) -> str:
    """A byte count in the largest unit that keeps it at least 1: `512 B`, `1.5 MiB`."""
    if count < 1024:
        return f"{count} B"
    scaled = count / 1024
    for unit in ("KiB", "MiB"):
        if scaled < 1024:
            return f"{scaled:.1f} {unit}"
        scaled /= 1024
    return f"{scaled:.1f} GiB"


def metric_text(value: float | None) -> str:
    """A metric value in a column: `-` when unknown, `nan`/`inf` as Python writes them."""
    return "-" if value is None else f"{value:g}"
